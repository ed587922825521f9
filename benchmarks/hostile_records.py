"""Seeded hostile records for the daemon: each way an event or a label can be malformed.

Every :class:`Kind` is a named recipe for one record plus what the daemon
must do with it: the dead-letter ``reason`` (docs/design.md, "Bad input never
stops the daemon"), or ``None`` for an event that is good and must be
predicted. :func:`generate` interleaves hostile records with plain good
events into a stream, after a warm-up of plain events (so that the model
has learned something when the hostile records reach it), the same bytes
for the same seed. Pure: no clock, no I/O; ``benchmarks/daemon_fuzz.py``
sends the stream through a real daemon.

Every good event has a numeric feature ``a``: its true label is the sign of
``a`` (for a numeric target, a number computed from ``a``), which the test
annotator (``tests/conftest.py``, ``Annotator``) reveals.

Some label kinds answer queries the daemon asked and nobody answered yet
(``asked``): what they say is then read against the stream's labels, a
boolean class or a number, and refused as ``unknown_class`` or
``not_a_number`` (the query waits on) or learned. :func:`with_answers` adds
them once such queries exist.

>>> len(KINDS)
65
>>> def stream_of(seed):
...     return generate(
...         seed, hostile=55, plain=40, warmup=20, max_record_bytes=131_072, takes_strings=False
...     )
>>> stream = stream_of(7)
>>> len(stream.warmup), len(stream.events), len(stream.labels), stream.duplicates
(20, 80, 14, 1)
>>> len(stream.asked)
10
>>> stream == stream_of(7), stream.events == stream_of(8).events
(True, False)
>>> first = next(r for r in stream.events if r.kind == "boolean_v")
>>> first.value, first.reason
(b'{"id":"7-boolean_v-0","v":true,"x":{"a":0.5}}', 'bad_version')
>>> [r.reason for r in stream.events if r.kind == "string_feature"]
['model_error']
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

__all__ = [
    "EVENTS",
    "KINDS",
    "LABELS",
    "MODEL_ERROR",
    "HostileRecord",
    "HostileStream",
    "Kind",
    "generate",
    "plain_event",
    "with_duplicates",
]

EVENTS = "events"
LABELS = "labels"

#: The reason of an event the model raises on (a string for a model that takes only numbers).
MODEL_ERROR = "model_error"

#: A kind's reason for a numeric target when it is the same as for classes.
SAME = "same as for classes"

#: Deeper than any JSON parser's recursion limit (orjson's is 1,024; CPython's stack ~1,000).
_DEPTH = 5_000
#: Features of the wide event: a real model's worst day, still under the daemon's size limit.
_WIDE = 10_000
_LONG_ID = 10_000
_TWO_MB = 2 * 1024 * 1024
#: Past the limit by this much: "a bit bigger" than allowed.
_OVER_BY = 1_024
#: Ids and feature names from many scripts, combining marks, zero-width and astral characters.
_UNICODE = ["ünïcødé", "温度", "שָׁלוֹם", "🦀🔥", "e\u0301", "zw\u200bj\u200d", "𝔘𝔫𝔦", "\u00a0nbsp"]

#: ``(rng, id, max_record_bytes) -> value`` (``None`` is a tombstone)
Build = Callable[[random.Random, str, int], bytes | None]


@dataclass(frozen=True, slots=True)
class Kind:
    """One way a record can be hostile.

    Parameters
    ----------
    name
        Short, unique; the row of the results table.
    topic
        :data:`EVENTS` or :data:`LABELS`.
    reason
        The dead letter's reason, or ``None`` for a good event (predicted exactly once).
    build
        Makes the record's value from a random source, its id and the daemon's size limit.
    keyed
        Whether the record has a Kafka key (its id); a record may come without.
    strings
        Holds a string feature: good for a model that takes strings, else :data:`MODEL_ERROR`.
    most
        The most records of this kind in one stream (the very large ones), or ``None``.
    answered
        A label for an id the daemon has already learned: added by :func:`with_duplicates`
        once such an id exists, not by :func:`generate`.
    asked
        A label for an id the daemon asked about and nobody answered: added by
        :func:`with_answers` once such an id exists, not by :func:`generate`.
    numeric
        The reason for a daemon of a numeric target, if not ``reason``
        (:data:`SAME`); ``None``: learned.
    """

    name: str
    topic: str
    reason: str | None
    build: Build
    keyed: bool = True
    strings: bool = False
    most: int | None = None
    answered: bool = False
    asked: bool = False
    numeric: str | None = SAME

    def expected(self, takes_strings: bool, numeric: bool = False) -> str | None:
        """The reason a daemon whose model takes strings (or not) and whose target is a
        number (or a class) must give this kind."""
        if self.strings and not takes_strings:
            return MODEL_ERROR
        if numeric and self.numeric != SAME:
            return self.numeric
        return self.reason


@dataclass(frozen=True, slots=True)
class HostileRecord:
    """One record to send: its kind, where it goes, its bytes and what must become of it."""

    kind: str
    topic: str
    key: bytes | None
    value: bytes | None
    id: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class HostileStream:
    """The records to send, in order: first the warm-up, then the events and the labels.

    ``duplicates`` labels are to be added to the labels by :func:`with_duplicates`,
    for ids of the warm-up that the daemon has learned.
    """

    warmup: list[HostileRecord]
    events: list[HostileRecord]
    labels: list[HostileRecord]
    duplicates: int
    #: the ``asked`` kinds' records to add by :func:`with_answers`, by kind name
    asked: list[str] = field(default_factory=list)


def _json(obj: object) -> bytes:
    return orjson.dumps(obj)


def _event(id: str, x: dict, **fields: object) -> bytes:
    return _json({"v": 1, "id": id, "x": x, **fields})


def _padded(rng: random.Random, id: str, size: int) -> bytes:
    """A valid event of exactly ``size`` bytes, filled by an unknown field of random letters."""
    empty = _event(id, {"a": 0.5}, pad="")
    pad = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=size - len(empty)))
    return _event(id, {"a": 0.5}, pad=pad)


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _spliced(id: str, field: bytes) -> bytes:
    """An event whose ``x`` holds ``field`` verbatim (text that no JSON encoder would write)."""
    return b'{"v":1,"id":"' + id.encode() + b'","x":{' + field + b"}}"


def plain_event(rng: random.Random, id: str, _limit: int = 0) -> bytes:
    """A good event: two numeric features, no ts (so the daemon uses Kafka's time)."""
    return _event(id, {"a": round(rng.gauss(0, 1), 6), "b": round(rng.gauss(0, 1), 6)})


def _unicode_event(rng: random.Random, id: str, _limit: int) -> bytes:
    x = {name: round(rng.gauss(0, 1), 6) for name in _UNICODE}
    return _event(id, {"a": round(rng.gauss(0, 1), 6), **x})


def _wide_event(rng: random.Random, id: str, _limit: int) -> bytes:
    x = {f"f{i}": rng.randint(0, 9) for i in range(_WIDE - 1)}
    return _event(id, {"a": round(rng.gauss(0, 1), 6), **x})


def _string_feature(rng: random.Random, id: str, _limit: int) -> bytes:
    return _event(id, {"a": round(rng.gauss(0, 1), 6), "colour": rng.choice(["red", "blue"])})


def _string_for_number(rng: random.Random, id: str, _limit: int) -> bytes:
    # "a" is a number in every other event: no model here can score text in its place.
    return _event(id, {"a": rng.choice(["red", "blue"]), "b": round(rng.gauss(0, 1), 6)})


def _random_bytes(rng: random.Random, id: str, _limit: int) -> bytes:
    # 0xff never occurs in UTF-8: the record is never text, whatever follows.
    return b"\xff" + rng.randbytes(rng.randint(1, 200))


#: A field left out of a record built by ``_fields``.
_ABSENT = object()


def _fields(base: dict, changes: dict) -> Build:
    """A builder of the record ``base | changes`` with the record's id (``_ABSENT`` drops one)."""

    def build(rng: random.Random, id: str, limit: int) -> bytes:
        merged = {"id": id, **base, **changes}
        return _json({k: v for k, v in merged.items() if v is not _ABSENT})

    return build


def _truncated(build: Build) -> Build:
    """``build``'s record cut short: no prefix of a JSON object is JSON."""

    def cut(rng: random.Random, id: str, limit: int) -> bytes:
        whole = build(rng, id, limit)
        assert whole is not None
        return whole[: rng.randint(1, len(whole) - 1)]

    return cut


def _kinds() -> list[Kind]:
    e, lb = EVENTS, LABELS

    def event(**changes: object) -> Build:
        return _fields({"v": 1, "x": {"a": 0.5}}, changes)

    def label(**changes: object) -> Build:
        return _fields({"v": 1, "label": "pos"}, changes)

    def answer(value: object, classes: str | None, numbers: str | None) -> Kind:
        """An answer to an asked query: its reason on a boolean and on a numeric stream."""
        name = f"answer_{value!r}".replace('"', "").replace("'", "").replace(" ", "_")
        return Kind(name, lb, classes, label(label=value), asked=True, numeric=numbers)

    def raw(value: bytes | None) -> Build:
        return lambda rng, id, limit: value

    def verbatim(field: bytes) -> Build:
        return lambda rng, id, limit: _spliced(id, field)

    def edited(build: Build, old: bytes, new: bytes) -> Build:
        """``build``'s record with the first ``old`` replaced (what no JSON encoder writes)."""
        return lambda rng, id, limit: build(rng, id, limit).replace(old, new, 1)

    def padded(size: Callable[[int], int]) -> Build:
        return lambda rng, id, limit: _padded(rng, id, size(limit))

    return [
        # good events
        Kind("null_key", e, None, plain_event, keyed=False),
        Kind("unicode", e, None, _unicode_event),
        Kind("long_id", e, None, plain_event),
        Kind("wide", e, None, _wide_event, most=2),
        Kind("string_feature", e, None, _string_feature, strings=True),
        Kind("string_for_number", e, MODEL_ERROR, _string_for_number),
        # poison pills
        Kind("deep_nesting", e, "too_deep", verbatim(b'"a":' + _nested(_DEPTH))),
        Kind("oversized", e, "oversized", padded(lambda limit: limit + _OVER_BY)),
        Kind("oversized_2mb", e, "oversized", padded(lambda limit: _TWO_MB), most=2),
        # not UTF-8 JSON text
        Kind("random_bytes", e, "bad_encoding", _random_bytes),
        Kind("latin1", e, "bad_encoding", edited(event(), b'"x":{', b'"x":{"\xe9":1,')),
        Kind("truncated", e, "malformed_json", _truncated(event())),
        Kind("empty", e, "malformed_json", raw(b"")),
        Kind("tombstone", e, "malformed_json", raw(None)),
        # RFC 8259 forbids sending a BOM and lets a parser refuse one: we refuse it.
        Kind("bom", e, "malformed_json", edited(event(), b"{", b"\xef\xbb\xbf{")),
        Kind("truncated_null_key", e, "malformed_json", raw(b'{"v":1,"id":'), keyed=False),
        Kind("array", e, "not_an_object", raw(b'[{"v":1,"id":"in-an-array","x":{"a":1}}]')),
        Kind("string", e, "not_an_object", raw(b'"an event"')),
        Kind("number", e, "not_an_object", raw(b"42")),
        Kind("null", e, "not_an_object", raw(b"null")),
        # fields
        Kind("missing_id", e, "missing_id", event(id=_ABSENT)),
        Kind("number_id", e, "bad_id", event(id=17)),
        Kind("empty_id", e, "bad_id", event(id="")),
        Kind("missing_v", e, "bad_version", event(v=_ABSENT)),
        Kind("wrong_v", e, "bad_version", event(v=2)),
        Kind("boolean_v", e, "bad_version", event(v=True)),
        Kind("string_ts", e, "bad_timestamp", event(ts="yesterday")),
        Kind("x_missing", e, "bad_features", event(x=_ABSENT)),
        Kind("x_list", e, "bad_features", event(x=[1, 2])),
        Kind("x_null", e, "bad_features", event(x=None)),
        Kind("feature_bool", e, "bad_features", event(x={"a": True})),
        Kind("feature_null", e, "bad_features", event(x={"a": None})),
        Kind("feature_dict", e, "bad_features", event(x={"a": {"b": 1}})),
        Kind("feature_list", e, "bad_features", event(x={"a": [1, 2]})),
        Kind("nan", e, "non_finite", verbatim(b'"a":NaN')),
        Kind("infinity", e, "non_finite", verbatim(b'"a":Infinity')),
        Kind("minus_infinity", e, "non_finite", verbatim(b'"a":-Infinity')),
        Kind("huge_exponent", e, "non_finite", verbatim(b'"a":1e999')),
        Kind("duplicate_feature", e, "duplicate_key", verbatim(b'"a":1,"a":-1')),
        Kind("duplicate_id", e, "duplicate_key", edited(event(), b'"id"', b'"id":"other","id"')),
        # labels
        Kind("label_missing", lb, "bad_label", label(label=_ABSENT)),
        Kind("label_list", lb, "bad_label", label(label=["pos"])),
        Kind("label_dict", lb, "bad_label", label(label={"y": "pos"})),
        Kind("label_null", lb, "bad_label", label(label=None)),
        Kind("label_nan", lb, "non_finite", edited(label(), b'"pos"', b"NaN")),
        Kind("label_infinite", lb, "non_finite", edited(label(), b'"pos"', b"-1e999")),
        Kind("annotator_number", lb, "bad_label", label(annotator=7)),
        Kind("cost_negative", lb, "bad_label", label(cost=-1)),
        Kind("cost_string", lb, "bad_label", label(cost="free")),
        Kind("label_deep_nesting", lb, "too_deep", edited(label(), b'"pos"', _nested(_DEPTH))),
        Kind("label_non_utf8", lb, "bad_encoding", edited(label(), b'"pos"', b'"p\xf6s"')),
        Kind("label_truncated", lb, "malformed_json", _truncated(label())),
        Kind("label_tombstone", lb, "malformed_json", raw(None)),
        Kind("label_unknown_id", lb, "unknown", label()),
        Kind("label_duplicate", lb, "duplicate", label(), answered=True),
        # answers to asked queries, on a boolean stream and on a numeric one
        answer(0.5, "unknown_class", None),
        answer(7, "unknown_class", None),
        answer("12.5", "unknown_class", None),
        answer(" -3e2 ", "unknown_class", None),
        answer("abc", "unknown_class", "not_a_number"),
        answer("NaN", "unknown_class", "not_a_number"),
        answer("-inf", "unknown_class", "not_a_number"),
        answer("1e999", "unknown_class", "not_a_number"),
        answer(True, None, "not_a_number"),
        answer("false", None, "not_a_number"),
    ]


#: Every kind, by name.
KINDS: dict[str, Kind] = {kind.name: kind for kind in _kinds()}


def _id(seed: int, kind: Kind, n: int) -> str:
    if kind.name == "unicode":
        return f"{'·'.join(_UNICODE)}-{seed}-{n}"
    if kind.name == "long_id":
        return f"{seed}-{n}-" + "L" * _LONG_ID
    return f"{seed}-{kind.name}-{n}"


def _record(
    kind: Kind, rng: random.Random, id: str, limit: int, takes: bool, numeric: bool = False
) -> HostileRecord:
    key = id.encode() if kind.keyed else None
    value = kind.build(rng, id, limit)
    return HostileRecord(kind.name, kind.topic, key, value, id, kind.expected(takes, numeric))


def generate(
    seed: int,
    *,
    hostile: int,
    plain: int,
    max_record_bytes: int,
    takes_strings: bool,
    warmup: int = 0,
    kinds: list[str] | None = None,
    numeric: bool = False,
) -> HostileStream:
    """``hostile`` records, taken in turn from each kind, shuffled among ``plain`` good events.

    Parameters
    ----------
    seed
        The same seed gives the same stream, byte for byte.
    hostile
        Records of the kinds, round robin (a kind at its ``most`` drops out).
    plain
        Good events of two numeric features.
    max_record_bytes
        The daemon's ``--max-record-bytes``: the oversized kinds exceed it, the others fit.
    takes_strings
        Whether the model takes string features (see :meth:`Kind.expected`).
    warmup
        Plain events to send first, alone.
    kinds
        Only these kinds (all by default).
    numeric
        Whether the daemon's target is a number (see :meth:`Kind.expected`).
    """
    rng = random.Random(seed)
    chosen = [KINDS[name] for name in kinds] if kinds is not None else list(KINDS.values())
    counts = dict.fromkeys((k.name for k in chosen), 0)
    events: list[HostileRecord] = []
    labels: list[HostileRecord] = []
    duplicates = 0
    while hostile > 0:
        # The asked kinds are sent later, to queries the daemon asks then: not in the count.
        open_kinds = [
            k for k in chosen if not k.asked and (k.most is None or counts[k.name] < k.most)
        ]
        if not open_kinds:
            break
        for kind in open_kinds[:hostile]:
            n = counts[kind.name]
            counts[kind.name] += 1
            hostile -= 1
            if kind.answered:
                duplicates += 1
                continue
            record = _record(
                kind, rng, _id(seed, kind, n), max_record_bytes, takes_strings, numeric
            )
            (events if kind.topic == EVENTS else labels).append(record)
    rounds = max(counts.values(), default=0)
    asked = [kind.name for _ in range(rounds) for kind in chosen if kind.asked]
    events += [_plain(rng, f"{seed}-plain-{n}") for n in range(plain)]
    rng.shuffle(events)
    rng.shuffle(labels)
    first = [_plain(rng, f"{seed}-warmup-{n}") for n in range(warmup)]
    return HostileStream(first, events, labels, duplicates, asked)


def _plain(rng: random.Random, id: str) -> HostileRecord:
    return HostileRecord("plain", EVENTS, id.encode(), plain_event(rng, id), id, None)


def with_duplicates(labels: list[HostileRecord], ids: list[str], count: int) -> list[HostileRecord]:
    """``labels`` with ``count`` more labels for ``ids`` (learned already), spread among them.

    Any label after the first of an id is a duplicate: the ids are taken in turn.

    >>> labels = [_plain(random.Random(0), i) for i in "abcd"]
    >>> [r.id for r in with_duplicates(labels, ["e1", "e2"], 3)]
    ['a', 'e1', 'b', 'e2', 'c', 'e1', 'd']
    >>> with_duplicates(labels, [], 3) == labels
    True
    """
    if not ids:
        return list(labels)
    kind = KINDS["label_duplicate"]
    every = len(labels) / (count + 1)
    mixed = list(labels)
    for n in reversed(range(count)):
        id = ids[n % len(ids)]
        value = kind.build(random.Random(0), id, 0)
        record = HostileRecord(kind.name, kind.topic, id.encode(), value, id, kind.reason)
        mixed.insert(round((n + 1) * every), record)
    return mixed


def with_answers(
    labels: list[HostileRecord], asked: list[str], ids: list[str], numeric: bool
) -> list[HostileRecord]:
    """``labels`` followed by the ``asked`` kinds' answers to the queries of ``ids``.

    The daemon asked about ``ids`` and nobody answered. An answer it refuses
    leaves the query waiting, so the refused ones take the ids in turn; one it
    learns closes its query, so each takes an id of its own, after the
    refusals (one answer more for an id would be a duplicate). Ids run out:
    the answers left out are not sent.

    >>> asked = ["answer_abc", "answer_12.5", "answer_NaN", "answer_7"]
    >>> [(r.id, r.reason) for r in with_answers([], asked, ["q1", "q2"], numeric=True)]
    [('q1', 'not_a_number'), ('q2', 'not_a_number'), ('q1', None), ('q2', None)]
    >>> sorted({(r.id, r.reason) for r in with_answers([], asked, ["q1"], numeric=False)})
    [('q1', 'unknown_class')]
    """
    if not ids:
        return list(labels)
    kinds = [KINDS[name] for name in asked]
    refused = [k for k in kinds if k.expected(True, numeric) is not None]
    learned = [k for k in kinds if k.expected(True, numeric) is None]
    answers = [(kind, ids[n % len(ids)]) for n, kind in enumerate(refused)]
    answers += list(zip(learned, ids, strict=False))
    records = [
        HostileRecord(
            kind.name,
            kind.topic,
            id.encode(),
            kind.build(random.Random(0), id, 0),
            id,
            kind.expected(True, numeric),
        )
        for kind, id in answers
    ]
    return [*labels, *records]
