"""The daemon's wire format: every JSON record, in and out (docs/design.md, "Topics and messages").

Decoding checks every field a record must have and turns the first problem
into an :class:`InvalidRecord` with a reason from :class:`Reason`, a small
fixed set that is also the ``reason`` label of the metrics. Whatever bytes
arrive (any size, nesting, encoding or JSON type), a decoder returns its
record or raises :class:`InvalidRecord`, nothing else: one record's failure
is that record's dead letter, never the process's. Unknown fields are
ignored. Encoding is the reverse, for the records the daemon, the demo and
the labelers write.
"""

from __future__ import annotations

import base64
import codecs
import enum
import hashlib
import math
import re
import reprlib
import sys
from collections.abc import Callable, Hashable, Sequence
from typing import Annotated, Literal, TypeVar

import msgspec
import orjson

from streamal.annotators import Answer
from streamal.engine import Decisions, Event, Label, Prediction, Query, TrainingExample

__all__ = [
    "DEAD_LETTER_DETAIL_CHARS",
    "DEAD_LETTER_VALUE_BYTES",
    "MAX_RECORD_BYTES",
    "VERSION",
    "InvalidRecord",
    "Reason",
    "decode_event",
    "decode_events",
    "decode_label",
    "decode_labels",
    "decode_prediction",
    "decode_query",
    "decode_training_example",
    "encode_dead_letter",
    "encode_event",
    "encode_label",
    "encode_prediction",
    "encode_predictions",
    "encode_query",
    "encode_training_example",
    "is_numeric_query",
]

VERSION = 1

#: Records larger than this are refused unread (1 MiB, Kafka's default ``max.message.bytes``).
MAX_RECORD_BYTES = 1_048_576

#: How many of a refused value's first bytes its dead letter keeps: enough to see what it was,
#: few enough that the letter of any record fits in a producer request.
DEAD_LETTER_VALUE_BYTES = 4096

#: A dead letter's detail is cut to this many characters (an exception's message can be huge).
DEAD_LETTER_DETAIL_CHARS = 1000

_T = TypeVar("_T")


class Reason(enum.StrEnum):
    """Why a record was refused; the values are the ``reason`` metric label."""

    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_ID = "missing_id"
    BAD_ID = "bad_id"
    BAD_VERSION = "bad_version"
    BAD_FEATURES = "bad_features"
    NON_FINITE = "non_finite"
    OVERSIZED = "oversized"
    BAD_LABEL = "bad_label"
    BAD_TIMESTAMP = "bad_timestamp"
    #: nested deeper than the parser allows
    TOO_DEEP = "too_deep"
    #: not UTF-8
    BAD_ENCODING = "bad_encoding"
    #: an object repeats a key: parsers disagree on which value wins, so none does
    DUPLICATE_KEY = "duplicate_key"
    #: the user's model raised on the event, or cannot learn the labeled example
    MODEL_ERROR = "model_error"
    #: Kafka refused to take the record for good (too large, unknown topic, not authorized)
    UNDELIVERABLE = "undeliverable"
    #: a query's or prediction's own field (proba, score, strategy, model_version, queried)
    BAD_FIELD = "bad_field"


class InvalidRecord(ValueError):
    """A record that cannot be used; ``reason`` says which rule it broke."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


def _clip(text: str, limit: int) -> str:
    """``text``, cut to ``limit`` characters with an ellipsis when it is longer.

    >>> _clip("short", 10), _clip("a" * 20, 10)
    ('short', 'aaaaaaaaa…')
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel = 3
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = 80


def _show(value: object) -> str:
    """A short repr for a detail: a record's values can be megabytes long or 1,000 levels deep.

    >>> _show([1]), _show("z" * 200)[:12], _show([[[[[1]]]]])
    ('[1]', "'zzzzzzzzzzz", '[[[[...]]]]')
    """
    return _SHORT_REPR.repr(value)


def _decode(raw: bytes, max_bytes: int, read: Callable[..., _T], *args: object) -> _T:
    """``read(record, *args)`` of the object in ``raw``; any failure is an InvalidRecord."""
    try:
        return read(_parse(raw, max_bytes), *args)
    except InvalidRecord:
        raise
    # The decoders name every problem we know of; this is for those nobody foresaw (a
    # RecursionError or MemoryError, a repr that fails). One record must never stop the
    # daemon: whatever went wrong, it is that record's dead letter.
    except RecursionError:
        raise InvalidRecord(Reason.TOO_DEEP, "nested too deeply to read") from None
    except Exception as e:
        detail = _clip(f"{type(e).__name__}: {e}", DEAD_LETTER_DETAIL_CHARS)
        raise InvalidRecord(Reason.MALFORMED_JSON, detail) from None


def _parse(raw: bytes, max_bytes: int) -> dict:
    if not isinstance(raw, bytes):
        if not isinstance(raw, bytearray | memoryview):
            raise InvalidRecord(Reason.MALFORMED_JSON, f"expected bytes, got {type(raw).__name__}")
        raw = bytes(raw)
    if len(raw) > max_bytes:
        raise InvalidRecord(Reason.OVERSIZED, f"{len(raw)} bytes, more than {max_bytes}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise _refusal(raw, e) from None
    if not isinstance(obj, dict):
        raise InvalidRecord(
            Reason.NOT_AN_OBJECT, f"expected a JSON object, got {type(obj).__name__}"
        )
    if _has_duplicate_key(raw, obj):
        raise InvalidRecord(Reason.DUPLICATE_KEY, "an object has the same key twice")
    if "v" not in obj:
        raise InvalidRecord(Reason.BAD_VERSION, f"no v field (expected v={VERSION})")
    # true == 1 in Python, not in the schema (docs/schemas): a boolean is no version.
    if isinstance(obj["v"], bool) or obj["v"] != VERSION:
        raise InvalidRecord(
            Reason.BAD_VERSION, f"v is {_show(obj['v'])}, this daemon reads v={VERSION}"
        )
    if "id" not in obj:
        raise InvalidRecord(Reason.MISSING_ID, "no id field")
    if not isinstance(obj["id"], str) or not obj["id"]:
        raise InvalidRecord(Reason.BAD_ID, f"id must be a non-empty string, got {_show(obj['id'])}")
    return obj


def _refusal(raw: bytes, error: orjson.JSONDecodeError) -> InvalidRecord:
    """Why orjson refused ``raw``, without parsing it again (a second parser could recurse)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return InvalidRecord(Reason.BAD_ENCODING, f"not UTF-8: {e}")
    if "depth limit" in error.msg:
        return InvalidRecord(Reason.TOO_DEEP, str(error))
    if "infinity" in error.msg:
        return InvalidRecord(Reason.NON_FINITE, "a number too large for a double")
    constant = _constant_at(error)
    if constant:
        return InvalidRecord(Reason.NON_FINITE, f"{constant} is not a finite number")
    return InvalidRecord(Reason.MALFORMED_JSON, str(error))


def _constant_at(error: orjson.JSONDecodeError) -> str | None:
    """The NaN, Infinity or -Infinity where orjson stopped, if that is what it stopped at.

    orjson refuses them outright; Python's ``json.dumps`` writes them, so a
    producer that sent them is told what is really wrong.

    >>> try:
    ...     orjson.loads('{"a": -Infinity}')
    ... except orjson.JSONDecodeError as e:
    ...     _constant_at(e)
    '-Infinity'
    """
    text = error.doc if isinstance(error.doc, str) else ""
    if "key" in error.msg:
        return None  # {NaN: 1} is a malformed key, not a number
    ahead = text[error.pos : error.pos + 8]
    if ahead.startswith("NaN"):
        return "NaN"
    if ahead == "Infinity":
        return "-Infinity" if text[error.pos - 1 : error.pos] == "-" else "Infinity"
    return None


#: A JSON string literal (valid JSON only: orjson has read it already).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def _has_duplicate_key(raw: bytes, obj: dict) -> bool:
    """Whether an object in ``raw`` (parsed as ``obj``) repeats a key.

    In valid JSON, every key is followed by one colon outside strings, and a
    repeated key leaves one key fewer in the parsed object. So when ``raw``
    has as many colons as ``obj`` has keys, no key was repeated: one C-speed
    count on the hot path. Only colons inside strings, or a repeated key, make
    them differ, and then the colons outside strings are counted exactly.
    The keys of ``obj`` and of the objects it holds directly are a lower
    bound of all its keys, so as many colons as those settles it without
    walking deeper (an event's features are one level down).

    >>> raw = b'{"a": "12:30", "b": {"a": 1}}'
    >>> _has_duplicate_key(raw, orjson.loads(raw))
    False
    >>> raw = b'{"a": 1, "b": 2, "a": 3}'
    >>> _has_duplicate_key(raw, orjson.loads(raw))
    True
    >>> raw = b'{"v": 1, "x": {"a": 1, "a": 2}}'
    >>> _has_duplicate_key(raw, orjson.loads(raw))
    True
    """
    colons = raw.count(b":")
    if colons == len(obj) + sum([len(value) for value in obj.values() if type(value) is dict]):
        return False
    keys = _count_keys(obj)
    return colons != keys and _STRING.sub(b"", raw).count(b":") != keys


_CONTAINERS = frozenset((dict, list))


def _count_keys(obj: dict) -> int:
    """How many keys the objects in ``obj`` hold, at every depth (with a stack, not recursion).

    >>> _count_keys({"a": 1, "b": [{"c": 2}, {}, [{"d": 3, "e": 4}]]})
    5
    """
    keys = 0
    todo: list = [obj]
    while todo:
        node = todo.pop()
        if type(node) is dict:
            keys += len(node)
            node = node.values()
        for child in node:
            if type(child) in _CONTAINERS:
                todo.append(child)
    return keys


def _timestamp(obj: dict, default: float) -> float:
    ts = obj.get("ts")
    if ts is None:
        return default
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise InvalidRecord(Reason.BAD_TIMESTAMP, f"ts must be a number, got {_show(ts)}")
    return float(ts)


def _features(x: object) -> dict:
    if not isinstance(x, dict):
        raise InvalidRecord(Reason.BAD_FEATURES, f"x must be an object of features, got {_show(x)}")
    for name, value in x.items():
        # orjson makes exact types, so type() is exact, and cheaper than isinstance on the hot
        # path; and a boolean (a subclass of int) is neither a number nor a string in the event
        # schema (docs/schemas).
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                raise InvalidRecord(Reason.NON_FINITE, f"feature {_show(name)} is {value!r}")
        elif kind is not int and kind is not str:
            raise InvalidRecord(
                Reason.BAD_FEATURES,
                f"feature {_show(name)} must be a number or a string, got {_show(value)}",
            )
    return x


def decode_event(raw: bytes, *, default_ts: float, max_bytes: int = MAX_RECORD_BYTES) -> Event:
    """Read an event record; ``default_ts`` is its time when it has no ``ts`` (e.g. Kafka's).

    Any bytes at all give an :class:`Event` or an :class:`InvalidRecord`, nothing else.

    Examples
    --------

    >>> decode_event(b'{"v":1,"id":"e1","x":{"a":1.5,"b":"red"}}', default_ts=7.0)
    Event(id='e1', x={'a': 1.5, 'b': 'red'}, ts=7.0)
    >>> decode_event(b'{"v":1,"id":"e2","x":{"a":[1]}}', default_ts=0.0)
    Traceback (most recent call last):
    ...
    streamal.messages.InvalidRecord: bad_features: feature 'a' must be a number or a string, got [1]
    >>> try:
    ...     decode_event(b'{"v":1,"id":"e3","x":' + b"[" * 5000, default_ts=0.0)
    ... except InvalidRecord as e:
    ...     e.reason
    <Reason.TOO_DEEP: 'too_deep'>

    """
    return _decode(raw, max_bytes, _event, default_ts)


def _event(obj: dict, default_ts: float) -> Event:
    return Event(obj["id"], _features(obj.get("x")), _timestamp(obj, default_ts))


#: The integers orjson reads as integers; it reads larger ones as floats, so a record holding
#: one is left to :func:`decode_event` (msgspec's bounds must fit an int64, hence 2**63 - 1).
_Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class _EventShape(msgspec.Struct, forbid_unknown_fields=True):
    """An event record of the common shape, whose types msgspec checks in C."""

    v: Literal[1]
    id: Annotated[str, msgspec.Meta(min_length=1)]
    x: dict[str, float | _Int | str]
    ts: float | msgspec.UnsetType | None = msgspec.UNSET


_EVENT_SHAPE = msgspec.json.Decoder(_EventShape)


def decode_events(
    raws: Sequence[bytes], default_ts: Sequence[float], *, max_bytes: int = MAX_RECORD_BYTES
) -> list[Event | InvalidRecord]:
    """:func:`decode_event` of each record of a batch: its event, or the InvalidRecord it raises.

    The daemon's hot path. Records of the common shape (``v``, ``id``, ``x`` of
    numbers and strings, and ``ts`` or not; nothing else) are read by msgspec,
    the whole batch in one call where it can. Every record it does not take,
    and every record with a colon more than its keys (a repeated key, or a
    colon inside a string, which the exact check must see to), is read by
    :func:`decode_event`, so the result is the same as reading the records one
    by one (``tests/test_messages.py`` checks it on generated records).

    Examples
    --------

    >>> good = b'{"v":1,"id":"e1","x":{"a":1.5,"b":"red"}}'
    >>> repeated = b'{"v":1,"id":"e2","x":{"a":1,"a":2}}'
    >>> for read in decode_events([good, repeated, b"[]"], [7.0, 8.0, 9.0]):
    ...     print(repr(read))
    Event(id='e1', x={'a': 1.5, 'b': 'red'}, ts=7.0)
    InvalidRecord('duplicate_key: an object has the same key twice')
    InvalidRecord('not_an_object: expected a JSON object, got list')

    """
    whole = _whole_batch(raws, max_bytes)
    if whole is not None:
        unset = msgspec.UNSET
        return [
            Event(shape.id, shape.x, at if shape.ts is None or shape.ts is unset else shape.ts)
            for shape, at in zip(whole, default_ts, strict=True)
        ]
    read: list[Event | None] = [None] * len(raws)
    # A newline would split a record in two lines of the batch; a record too large is refused
    # unread, by decode_event.
    common = [
        i
        for i, raw in enumerate(raws)
        if type(raw) is bytes and len(raw) <= max_bytes and b"\n" not in raw
    ]
    for i, shape in zip(common, _shapes([raws[i] for i in common]), strict=True):
        if shape is not None and raws[i].count(b":") == _keys(shape):
            ts = shape.ts
            at = default_ts[i] if ts is None or ts is msgspec.UNSET else ts
            read[i] = Event(shape.id, shape.x, at)
    return [
        _read_one(decode_event, raws[i], default_ts[i], max_bytes) if event is None else event
        for i, event in enumerate(read)
    ]


def _keys(shape: _EventShape) -> int:
    """How many keys the record read as ``shape`` holds, each once."""
    return 3 + (shape.ts is not msgspec.UNSET) + len(shape.x)


def _whole_batch(raws: Sequence[bytes], max_bytes: int) -> list[_EventShape] | None:
    """Every record read in one call, if every one is of the common shape; else None.

    In valid JSON every key has one colon, so each record has at least as many
    colons as the keys it was read with, and more only for a repeated key (read
    once) or a colon inside a string. So the batch having exactly as many
    colons as its records' keys settles it for every record in one count.
    """
    if not raws or not all([type(raw) is bytes for raw in raws]):
        return None
    lines = b"\n".join(raws)
    # A newline inside a record would make two lines of it.
    if lines.count(b"\n") != len(raws) - 1 or max(map(len, raws)) > max_bytes:
        return None
    try:
        shapes = _EVENT_SHAPE.decode_lines(lines)
    except Exception:  # one record is not of the common shape: they are read one by one
        return None
    if len(shapes) != len(raws) or lines.count(b":") != sum([_keys(s) for s in shapes]):
        return None
    return shapes


def _shapes(raws: list[bytes]) -> list[_EventShape | None]:
    """Each record read as an event of the common shape, or None where it is not one."""
    try:
        shapes = _EVENT_SHAPE.decode_lines(b"\n".join(raws))
    except Exception:  # any refusal: the records are read one by one below
        shapes = []
    # decode_lines skips blank lines: one shape per record means each line was one record.
    if len(shapes) == len(raws):
        return shapes
    one_by_one: list[_EventShape | None] = []
    for raw in raws:
        try:
            one_by_one.append(_EVENT_SHAPE.decode(raw))
        except Exception:  # decode_event says what is wrong with it
            one_by_one.append(None)
    return one_by_one


def _read_one(
    decode: Callable[..., _T], raw: bytes, default_ts: float, max_bytes: int
) -> _T | InvalidRecord:
    try:
        return decode(raw, default_ts=default_ts, max_bytes=max_bytes)
    except InvalidRecord as e:
        return e


def encode_event(event: Event) -> bytes:
    """The events-topic record of ``event``; :func:`decode_event` reads it back.

    >>> encode_event(Event("e1", {"a": 1.5, "b": "red"}, 7.0))
    b'{"v":1,"id":"e1","ts":7.0,"x":{"a":1.5,"b":"red"}}'
    >>> decode_event(encode_event(Event("e1", {"a": 1.5}, 7.0)), default_ts=0.0)
    Event(id='e1', x={'a': 1.5}, ts=7.0)

    """
    return _dumps({"v": VERSION, "id": event.id, "ts": event.ts, "x": event.x})


def _label_value(value: object) -> Hashable:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        # A labeler writing 1.0 means the class 1, as a CSV recording would.
        return int(value)
    if isinstance(value, float) and math.isfinite(value):
        return value  # a numeric target's value (a class stream's schema refuses it)
    raise InvalidRecord(
        Reason.BAD_LABEL, f"label must be a string, number or boolean, got {_show(value)}"
    )


def decode_label(raw: bytes, *, default_ts: float, max_bytes: int = MAX_RECORD_BYTES) -> Label:
    """Read a label record.

    Any bytes at all give a :class:`Label` or an :class:`InvalidRecord`, nothing else.

    Examples
    --------

    >>> decode_label(b'{"v":1,"id":"e1","label":"spam","annotator":"ann"}', default_ts=9.0)
    Label(id='e1', label='spam', ts=9.0, annotator='ann', cost=None)
    >>> decode_label(b'{"v":1,"id":"e1"}', default_ts=9.0)
    Traceback (most recent call last):
    ...
    streamal.messages.InvalidRecord: bad_label: no label field
    >>> decode_label(b'{"v":1,"id":"e1","label":"spam","label":"ham"}', default_ts=9.0)
    Traceback (most recent call last):
    ...
    streamal.messages.InvalidRecord: duplicate_key: an object has the same key twice

    """
    return _decode(raw, max_bytes, _label, default_ts)


def decode_labels(
    raws: Sequence[bytes], default_ts: Sequence[float], *, max_bytes: int = MAX_RECORD_BYTES
) -> list[Label | InvalidRecord]:
    """:func:`decode_label` of each record of a batch: its label, or the InvalidRecord it raises.

    >>> for read in decode_labels([b'{"v":1,"id":"e1","label":"spam"}', b"[]"], [9.0, 9.0]):
    ...     print(repr(read))
    Label(id='e1', label='spam', ts=9.0, annotator=None, cost=None)
    InvalidRecord('not_an_object: expected a JSON object, got list')

    """
    pairs = zip(raws, default_ts, strict=True)
    return [_read_one(decode_label, raw, ts, max_bytes) for raw, ts in pairs]


def _label(obj: dict, default_ts: float) -> Label:
    if "label" not in obj:
        raise InvalidRecord(Reason.BAD_LABEL, "no label field")
    label = _label_value(obj["label"])
    annotator = obj.get("annotator")
    if annotator is not None and not isinstance(annotator, str):
        raise InvalidRecord(Reason.BAD_LABEL, f"annotator must be a string, got {_show(annotator)}")
    cost = obj.get("cost")
    if cost is not None and (
        isinstance(cost, bool)
        or not isinstance(cost, int | float)
        or not (math.isfinite(cost) and cost >= 0)
    ):
        raise InvalidRecord(Reason.BAD_LABEL, f"cost must be a number >= 0, got {_show(cost)}")
    return Label(obj["id"], label, _timestamp(obj, default_ts), annotator, cost)


def encode_label(label: Label) -> bytes:
    """The labels-topic record of ``label``; :func:`decode_label` reads it back.

    The annotator and the cost are written only when they are known.

    >>> encode_label(Label("e1", "spam", 9.0, "ann"))
    b'{"v":1,"id":"e1","label":"spam","ts":9.0,"annotator":"ann"}'
    >>> decode_label(encode_label(Label("e1", 3, 9.0, cost=0.5)), default_ts=0.0)
    Label(id='e1', label=3, ts=9.0, annotator=None, cost=0.5)

    """
    record = {"v": VERSION, "id": label.id, "label": label.label, "ts": label.ts}
    if label.annotator is not None:
        record["annotator"] = label.annotator
    if label.cost is not None:
        record["cost"] = label.cost
    return _dumps(record)


def _dumps(obj: dict) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


_LINES = msgspec.json.Encoder()


def encode_query(query: Query) -> bytes:
    """The queries-topic record of ``query``; :func:`decode_query` reads it back.

    >>> from streamal.engine import Query
    >>> query = Query("e1", 3.0, {"a": 1.0}, {"x": 0.5, "y": 0.5}, 0.5, "split", 4, ("x", "y"))
    >>> encode_query(query)
    b'{"v":1,"id":"e1","ts":3.0,"x":{"a":1.0},"proba":{"x":0.5,"y":0.5},"score":0.5,"strategy":"split","model_version":4,"classes":["x","y"],"probability":1.0}'

    A numeric target's query carries the predicted value and its deviation instead:

    >>> query = Query("e1", 3.0, {}, {}, 0.5, "leverage", 4, prediction=2.5, std=None)
    >>> encode_query(query)[-46:]
    b'"probability":1.0,"prediction":2.5,"std":null}'

    """
    record = {
        "v": VERSION,
        "id": query.id,
        "ts": query.ts,
        "x": query.x,
        "proba": query.proba,
        "score": query.score,
        "strategy": query.strategy,
        "model_version": query.model_version,
        "classes": list(query.classes),
        "probability": query.probability,
    }
    if query.prediction is not None:
        record |= {"prediction": query.prediction, "std": query.std}
    return _dumps(record)


def decode_query(raw: bytes) -> Query:
    """Read a queries-topic record (written by :func:`encode_query`).

    Classes travel as JSON object keys, so the ``proba`` read back is keyed by
    strings whatever the model's classes are. Any bytes at all give a
    :class:`Query` or an :class:`InvalidRecord`, nothing else.

    >>> raw = b'{"v":1,"id":"e1","ts":3,"x":{"a":1.0},"proba":{"x":0.25,"y":0.75},'
    >>> query = decode_query(raw + b'"score":0.5,"strategy":"split","model_version":4,"new":[]}')
    >>> query.id, query.ts, query.x, query.proba, query.score, query.strategy, query.model_version
    ('e1', 3.0, {'a': 1.0}, {'x': 0.25, 'y': 0.75}, 0.5, 'split', 4)
    >>> decode_query(raw + b'"score":0.5,"strategy":"split"}')
    Traceback (most recent call last):
    ...
    streamal.messages.InvalidRecord: bad_field: model_version must be an integer >= 0, got None

    """
    return _decode(raw, sys.maxsize, _query)


def is_numeric_query(query: Query) -> bool:
    """Whether ``query``'s record shows a numeric target's: a ``prediction``, or a null score.

    A numeric query asked before the model learned anything has neither, and
    looks like a class query of a stream with no classes yet: a labeling tool
    is told the task (``--task regression``) to know it then.

    >>> raw = b'{"v":1,"id":"e1","ts":3,"x":{},"proba":{},"strategy":"leverage","model_version":%s'
    >>> [is_numeric_query(decode_query(raw % end)) for end in (
    ...     b'4,"score":0.5,"prediction":2.5,"std":null}', b'0,"score":null}', b'0,"score":0.5}')]
    [True, True, False]
    """
    return query.prediction is not None or math.isnan(query.score)


def _query(obj: dict) -> Query:
    if obj.get("ts") is None:
        raise InvalidRecord(Reason.BAD_TIMESTAMP, "no ts field")
    if "score" not in obj:
        raise InvalidRecord(Reason.BAD_FIELD, "no score field")
    # null: a numeric target's utility the model could not tell (JSON has no NaN).
    score = math.nan if obj["score"] is None else obj["score"]
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise InvalidRecord(Reason.BAD_FIELD, f"score must be a number, got {_show(score)}")
    strategy = obj.get("strategy")
    if not isinstance(strategy, str) or not strategy:
        raise InvalidRecord(
            Reason.BAD_FIELD, f"strategy must be a non-empty string, got {_show(strategy)}"
        )
    probability = obj.get("probability", 1.0)
    if (
        isinstance(probability, bool)
        or not isinstance(probability, int | float)
        or not 0.0 < probability <= 1.0
    ):
        raise InvalidRecord(
            Reason.BAD_FIELD, f"probability must be a number in (0, 1], got {_show(probability)}"
        )
    return Query(
        obj["id"],
        _timestamp(obj, 0.0),
        _features(obj.get("x")),
        _proba(obj.get("proba")),
        float(score),
        strategy,
        _model_version(obj),
        _classes(obj.get("classes", [])),
        float(probability),
        _number_or_none(obj, "prediction"),
        _number_or_none(obj, "std", minimum=0.0),
    )


def _number_or_none(obj: dict, key: str, minimum: float = -math.inf) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        least = "" if minimum == -math.inf else f" >= {minimum:g}"
        raise InvalidRecord(Reason.BAD_FIELD, f"{key} must be a number{least}, got {_show(value)}")
    return float(value)


def _classes(classes: object) -> tuple:
    if not isinstance(classes, list) or not all(
        isinstance(c, str | int) and not isinstance(c, float) for c in classes
    ):
        raise InvalidRecord(
            Reason.BAD_FIELD, f"classes must be a list of class names, got {_show(classes)}"
        )
    return tuple(classes)


def _proba(proba: object) -> dict:
    # No range check: a model's probability that rounding put past 1 still makes a query
    # worth answering, and only the daemon writes these records.
    if not isinstance(proba, dict) or not all(
        isinstance(p, int | float) and not isinstance(p, bool) for p in proba.values()
    ):
        raise InvalidRecord(
            Reason.BAD_FIELD, f"proba must map classes to probabilities, got {_show(proba)}"
        )
    return proba


def _model_version(obj: dict) -> int:
    version = obj.get("model_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise InvalidRecord(
            Reason.BAD_FIELD, f"model_version must be an integer >= 0, got {_show(version)}"
        )
    return version


def encode_prediction(prediction: Prediction, model_version: int) -> bytes:
    """The predictions-topic record of ``prediction``, made by the model at ``model_version``.

    The version (how many examples the model had learned) is what a replay of
    the run needs to reproduce every decision, queried or not.
    :func:`decode_prediction` reads the record back.
    """
    return _dumps(
        _prediction_fields(
            prediction.id,
            prediction.y,
            prediction.proba,
            prediction.queried,
            prediction.std,
            model_version,
        )
    )


def encode_predictions(decisions: Decisions, model_version: int) -> list[bytes]:
    """:func:`encode_prediction` of each of ``decisions.predictions``, without making them.

    >>> import numpy as np
    >>> decisions = Decisions(["e1"], np.array([[0.2, 0.8]]), ["ham", "spam"], ["spam"],
    ...                       np.array([True]), [])
    >>> encode_predictions(decisions, 3)
    [b'{"v":1,"id":"e1","y":"spam","proba":{"ham":0.2,"spam":0.8},"queried":true,"model_version":3}']
    >>> _ == [encode_prediction(p, 3) for p in decisions.predictions]
    True

    """
    # One encoder call for the batch: the proba dicts are keyed by the classes' names in
    # JSON (what orjson's non-string keys give, and msgspec has no such option).
    keys = [c if isinstance(c, str) else orjson.dumps(c).decode() for c in decisions.classes]
    records = [
        _prediction_fields(*prediction, model_version)
        for prediction in decisions.prediction_fields(keys)
    ]
    # JSON escapes every newline inside a string, so the lines are the records.
    return _LINES.encode_lines(records).split(b"\n")[:-1]


def _prediction_fields(
    event_id: str,
    y: Hashable | None,
    proba: dict,
    queried: bool,
    std: float | None,
    model_version: int,
) -> dict:
    record = {
        "v": VERSION,
        "id": event_id,
        "y": y,
        "proba": proba,
        "queried": queried,
        "model_version": model_version,
    }
    if std is not None:
        record["std"] = std
    return record


def decode_prediction(raw: bytes) -> tuple[Prediction, int]:
    """Read a predictions-topic record: the prediction and the model version that made it.

    The reverse of :func:`encode_prediction`; as for queries, ``proba`` is
    keyed by strings. Any bytes at all give a prediction or an
    :class:`InvalidRecord`, nothing else.

    >>> prediction = Prediction("e1", "y", {"x": 0.25, "y": 0.75}, True)
    >>> decode_prediction(encode_prediction(prediction, 4))
    (Prediction(id='e1', y='y', proba={'x': 0.25, 'y': 0.75}, queried=True, std=None), 4)
    >>> raw = b'{"v":1,"id":"e1","y":null,"proba":{},"queried":false,"model_version":0}'
    >>> decode_prediction(raw)
    (Prediction(id='e1', y=None, proba={}, queried=False, std=None), 0)
    >>> decode_prediction(encode_prediction(Prediction("e1", 2.5, {}, False, 0.5), 4))
    (Prediction(id='e1', y=2.5, proba={}, queried=False, std=0.5), 4)

    """
    return _decode(raw, sys.maxsize, _prediction)


def _prediction(obj: dict) -> tuple[Prediction, int]:
    if "y" not in obj:
        raise InvalidRecord(Reason.BAD_LABEL, "no y field")
    y = None if obj["y"] is None else _label_value(obj["y"])
    queried = obj.get("queried")
    if not isinstance(queried, bool):
        raise InvalidRecord(Reason.BAD_FIELD, f"queried must be a boolean, got {_show(queried)}")
    std = _number_or_none(obj, "std", minimum=0.0)
    prediction = Prediction(obj["id"], y, _proba(obj.get("proba")), queried, std)
    return prediction, _model_version(obj)


def encode_training_example(example: TrainingExample) -> bytes:
    """The training-log record of ``example``; :func:`decode_training_example` reads it back.

    The answers behind an aggregated label are written only when the engine
    aggregates (annotator-aware mode); the model's confidence when it asked,
    whenever it knew a class to be confident in; the chance the decider had
    of asking, when it was not certain.

    >>> from streamal.annotators import Answer
    >>> from streamal.engine import TrainingExample
    >>> example = TrainingExample("e1", {"a": 1.0}, True, 1.0, 2.5, False, "ann")
    >>> decode_training_example(encode_training_example(example)) == example
    True
    >>> answers = (Answer(True, "ann", 0.5), Answer(False, "bob"))
    >>> aggregated = TrainingExample(
    ...     "e1", {"a": 1.0}, True, 1.0, 2.5, False, "ann", answers, 0.97, probability=0.25)
    >>> orjson.loads(encode_training_example(aggregated))["answers"]
    [{'label': True, 'annotator': 'ann', 'cost': 0.5}, {'label': False, 'annotator': 'bob'}]
    >>> decode_training_example(encode_training_example(aggregated)) == aggregated
    True

    """
    record = {
        "v": VERSION,
        "id": example.id,
        "x": example.x,
        "y": example.y,
        "query_ts": example.query_ts,
        "label_ts": example.label_ts,
        "y_pred": example.y_pred,
        "annotator": example.annotator,
    }
    if example.answers:
        record["answers"] = [_answer(a) for a in example.answers]
    if example.confidence is not None:
        record["confidence"] = example.confidence
    if example.probability != 1.0:
        record["probability"] = example.probability
    return _dumps(record)


def _answer(answer: Answer) -> dict:
    fields = {"label": answer.label, "annotator": answer.annotator, "cost": answer.cost}
    return {k: v for k, v in fields.items() if v is not None}


def decode_training_example(raw: bytes) -> TrainingExample:
    """Read a training-log record (written by :func:`encode_training_example`)."""
    obj = _parse(raw, max_bytes=sys.maxsize)
    return TrainingExample(
        obj["id"],
        obj["x"],
        _label_value(obj["y"]),
        float(obj["query_ts"]),
        float(obj["label_ts"]),
        obj.get("y_pred"),
        obj.get("annotator"),
        tuple(
            Answer(_label_value(a["label"]), a.get("annotator"), a.get("cost"))
            for a in obj.get("answers", ())
        ),
        obj.get("confidence"),
        float(obj.get("probability", 1.0)),
    )


def encode_dead_letter(
    raw: bytes | None, *, topic: str, partition: int, offset: int, reason: str, detail: str
) -> bytes:
    """The dead-letter record of a refused record: where it came from, why, and what it was.

    A letter is a few KB whatever the record's size, so that it always fits in
    a producer request: it keeps the value's first :data:`DEAD_LETTER_VALUE_BYTES`
    bytes (base64, and also as text for people reading the topic when they are
    UTF-8), the value's whole length and SHA-256, and a detail of at most
    :data:`DEAD_LETTER_DETAIL_CHARS` characters.

    >>> letter = orjson.loads(encode_dead_letter(
    ...     b"{oops", topic="streamal.events", partition=0, offset=41,
    ...     reason="malformed_json", detail="unexpected character"))
    >>> letter["reason"], letter["offset"], letter["value"], letter["value_b64"]
    ('malformed_json', 41, '{oops', 'e29vcHM=')
    >>> letter["value_bytes"], letter["truncated"], letter["value_sha256"][:16]
    (5, False, '935aaf3a54c0648c')
    >>> huge = orjson.loads(encode_dead_letter(
    ...     b"x" * 10_000_000, topic="t", partition=0, offset=0, reason="oversized", detail="!"))
    >>> huge["value_bytes"], huge["truncated"], len(huge["value"])
    (10000000, True, 4096)

    """
    raw = raw or b""
    head = raw[:DEAD_LETTER_VALUE_BYTES]
    truncated = len(head) < len(raw)
    return _dumps(
        {
            "v": VERSION,
            "reason": reason,
            "detail": _clip(detail, DEAD_LETTER_DETAIL_CHARS),
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "value": _text(head, truncated),
            "value_b64": base64.b64encode(head).decode("ascii"),
            "value_bytes": len(raw),
            "value_sha256": hashlib.sha256(raw).hexdigest(),
            "truncated": truncated,
        }
    )


def _text(head: bytes, truncated: bool) -> str | None:
    """``head`` as text if it is UTF-8; when ``truncated``, a character cut at its end is left out.

    >>> _text("né".encode()[:2], True), _text("né".encode()[:2], False), _text(b"\\xff", True)
    ('n', None, None)
    """
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(head, final=not truncated)
    except UnicodeDecodeError:
        return None
