"""Property tests: whatever arrives on a topic, a decoder returns its record or an InvalidRecord.

The generated records are JSON-ish text written by hand here, not by a JSON
library, so that they can hold what no library writes: repeated keys, NaN
and Infinity, numbers beyond a double, nesting past any parser's limit, bytes
that are not UTF-8.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from dataclasses import dataclass

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from streamal.engine import Decisions, Event, Label, Prediction, Query
from streamal.messages import (
    DEAD_LETTER_DETAIL_CHARS,
    DEAD_LETTER_VALUE_BYTES,
    InvalidRecord,
    Reason,
    decode_event,
    decode_events,
    decode_label,
    decode_labels,
    decode_prediction,
    decode_query,
    encode_dead_letter,
    encode_event,
    encode_label,
    encode_prediction,
    encode_predictions,
    encode_query,
)

SETTINGS = settings(max_examples=300, deadline=None)


@dataclass(frozen=True)
class Obj:
    """A JSON object as its written pairs, so that a key can come twice."""

    pairs: tuple


def render(value: object, escape_colons: bool = False) -> str:
    """``value`` as JSON text; NaN and Infinity as Python's json writes them."""
    if isinstance(value, Obj):
        return (
            "{"
            + ",".join(
                f"{render(k, escape_colons)}:{render(v, escape_colons)}" for k, v in value.pairs
            )
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(render(v, escape_colons) for v in value) + "]"
    text = json.dumps(value)
    # A colon written as an escape is a colon in the string, not in the bytes.
    return text.replace(":", "\\u003a") if escape_colons and isinstance(value, str) else text


KEYS = st.sampled_from(["v", "id", "x", "ts", "label", "a", "b:c", ':"', "\\"]) | st.text(
    max_size=6
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(st.tuples(KEYS, children), max_size=4).map(lambda p: Obj(tuple(p)))
    ),
    max_leaves=25,
)
FEATURES = st.lists(st.tuples(KEYS, VALUES), max_size=5).map(lambda p: Obj(tuple(p)))


@st.composite
def records(draw) -> Obj:
    """Objects that look like events or labels, near enough to reach the field checks."""
    fields = [
        ("v", draw(st.sampled_from([1, 1, 1, 2, True, "1"]))),
        ("id", draw(st.sampled_from(["e1", "", 7]) | st.text(max_size=8))),
        ("x", draw(FEATURES | VALUES)),
        ("label", draw(SCALARS)),
    ]
    fields += draw(st.lists(st.tuples(KEYS, VALUES), max_size=3))
    return Obj(tuple(draw(st.permutations(fields))))


@st.composite
def raw_records(draw) -> bytes:
    """A record's bytes: written as JSON-ish text, then perhaps nested deep, re-encoded or cut."""
    text = render(draw(records() | VALUES), escape_colons=draw(st.booleans()))
    depth = draw(st.sampled_from([0, 0, 0, 500, 1023, 1024, 1025, 5000]))
    if depth:
        text = '{"v":1,"id":"p","x":' + "[" * depth + text + "]" * depth + "}"
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "latin-1"]))
    raw = text.encode(encoding, errors="replace")
    if draw(st.booleans()):
        cut = draw(st.integers(min_value=0, max_value=len(raw)))
        raw = raw[:cut] + draw(st.binary(max_size=4)) + raw[cut:]
    return raw


ANY_BYTES = st.binary(max_size=300) | raw_records()


def check_event(event: Event) -> None:
    assert isinstance(event.id, str) and event.id
    assert isinstance(event.ts, float) and math.isfinite(event.ts)
    for value in event.x.values():
        assert type(value) in (int, float, str)
        assert not isinstance(value, float) or math.isfinite(value)


@SETTINGS
@given(raw=ANY_BYTES)
def test_any_bytes_give_an_event_or_an_invalid_record(raw):
    try:
        event = decode_event(raw, default_ts=1.0)
    except InvalidRecord as e:
        assert isinstance(e.reason, Reason)
        assert len(e.detail) <= DEAD_LETTER_DETAIL_CHARS
    else:
        check_event(event)


@SETTINGS
@given(raw=ANY_BYTES)
def test_any_bytes_give_a_label_or_an_invalid_record(raw):
    try:
        label = decode_label(raw, default_ts=1.0)
    except InvalidRecord as e:
        assert isinstance(e.reason, Reason)
    else:
        assert isinstance(label.id, str) and label.id
        # A float that is not a whole number is a numeric target's value.
        assert type(label.label) in (str, int, bool, float)
        assert not isinstance(label.label, float) or (
            math.isfinite(label.label) and not label.label.is_integer()
        )


@SETTINGS
@given(raw=ANY_BYTES)
def test_any_bytes_give_a_query_a_prediction_or_an_invalid_record(raw):
    for decode in (decode_query, decode_prediction):
        try:
            decode(raw)
        except InvalidRecord as e:
            assert isinstance(e.reason, Reason)


def _read_alone(decode, raw: bytes, ts: float) -> object:
    try:
        return decode(raw, default_ts=ts)
    except InvalidRecord as e:
        return e


def _same(batch: list, alone: list) -> None:
    assert len(batch) == len(alone)
    for got, want in zip(batch, alone, strict=True):
        assert type(got) is type(want)
        if isinstance(want, InvalidRecord):
            assert (got.reason, got.detail) == (want.reason, want.detail)
        else:
            assert got == want
            # 1 == 1.0 in Python: the features must be of the same types too.
            if isinstance(want, Event):
                assert [type(v) for v in got.x.values()] == [type(v) for v in want.x.values()]
                assert type(got.ts) is type(want.ts)


#: Numbers at the edges of what the parsers read alike: int64, uint64, doubles and beyond.
EDGE_NUMBERS = st.sampled_from(
    [
        "0", "-0", "-0.0", "1", "1.0", "1e5", "1E-5", "2.5e-324", "1e-400",
        "1.7976931348623157e308", "1e309", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809", "18446744073709551615", "18446744073709551616", "1" + "0" * 30,
        "0.1000000000000000055511151231257827021181583404541015625", "123456789012345678901e-3",
    ]
)  # fmt: skip
FEATURE_TEXT = (
    EDGE_NUMBERS
    | st.floats(allow_nan=False, allow_infinity=False).map(repr)
    | st.integers(min_value=-(2**65), max_value=2**65).map(str)
    | st.text(alphabet=st.sampled_from('ab:"\\\n\u00e9'), max_size=5).map(json.dumps)
    | st.sampled_from(["true", "null", "[1]", '{"a":1}', "NaN", '"\\ud800"'])
)


@st.composite
def event_texts(draw) -> bytes:
    """Records of the events topic, most of the common shape, some a field or a byte off it."""
    names = st.sampled_from(["a", "b", "c", "a:b", "é"]) | st.text(max_size=3)
    features = draw(st.lists(st.tuples(names, FEATURE_TEXT), max_size=6))
    fields = [
        ("v", draw(st.sampled_from(["1", "1", "1", "1.0", "2", "true"]))),
        ("id", json.dumps(draw(st.sampled_from(["e1", "e2", "", "a:b"]) | st.text(max_size=4)))),
        ("x", "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in features) + "}"),
    ]
    ts = draw(st.sampled_from([None, "null", "3", "2.5", '"3"', "true", "1e400"]) | EDGE_NUMBERS)
    if ts is not None:
        fields.append(("ts", ts))
    again = st.sampled_from(["v", "id", "x", "ts", "y"])
    fields += draw(st.lists(st.tuples(again, FEATURE_TEXT), max_size=1))
    space = draw(st.sampled_from(["", " ", "\n", "\t"]))
    pairs = draw(st.permutations(fields))
    text = "{" + ",".join(f"{json.dumps(k)}:{space}{v}" for k, v in pairs) + "}"
    return text.encode("utf-8", errors="surrogatepass")


@settings(max_examples=500, deadline=None)
@given(
    # Batches of records that all parse (read in one call, or not) and batches with any bytes.
    raws=st.lists(event_texts(), max_size=8) | st.lists(event_texts() | ANY_BYTES, max_size=8),
    data=st.data(),
)
def test_a_batch_of_events_reads_as_its_records_alone(raws, data):
    stamps = data.draw(st.lists(st.floats(0, 1e9), min_size=len(raws), max_size=len(raws)))
    alone = [_read_alone(decode_event, raw, ts) for raw, ts in zip(raws, stamps, strict=True)]
    _same(decode_events(raws, stamps), alone)


@SETTINGS
@given(raws=st.lists(ANY_BYTES, max_size=5))
def test_a_batch_of_labels_reads_as_its_records_alone(raws):
    alone = [_read_alone(decode_label, raw, 1.0) for raw in raws]
    _same(decode_labels(raws, [1.0] * len(raws)), alone)


def test_a_batch_of_the_common_shape_is_read_in_one_call():
    raws = [
        orjson.dumps({"v": 1, "id": f"e{i}", "x": {"a": i, "b": i / 3, "c": "red"}})
        for i in range(50)
    ]
    raws.append(b'{"v":1,"id":"e50","ts":null,"x":{}}')
    events = decode_events(raws, [float(i) for i in range(51)])
    assert events[7] == Event("e7", {"a": 7, "b": 7 / 3, "c": "red"}, 7.0)
    assert events[50] == Event("e50", {}, 50.0)
    assert all(isinstance(e, Event) for e in events)


def test_a_record_off_the_common_shape_leaves_the_rest_of_the_batch_alone():
    good = b'{"v":1,"id":"e1","x":{"a":1}}'
    extra = b'{"v":1,"id":"e2","x":{"a":1},"note":"extra fields are allowed"}'
    events = decode_events([good, extra, good + b"\n", b"\n"], [0.0] * 4)
    one, two = Event("e1", {"a": 1}, 0.0), Event("e2", {"a": 1}, 0.0)
    assert events[:3] == [one, two, one]
    assert events[3].reason is Reason.MALFORMED_JSON


def _pairs_without_repeats(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise KeyError("repeated")
    return dict(pairs)


def has_repeated_key(text: str) -> bool:
    """The reference answer: Python's json sees every pair of every object."""
    try:
        json.loads(text, object_pairs_hook=_pairs_without_repeats)
    except KeyError:
        return True
    return False


FINITE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from('ab:"\\\u00e9\u2603'), max_size=6),
    lambda children: (
        st.lists(children, max_size=3)
        | st.lists(st.tuples(KEYS, children), max_size=4).map(lambda p: Obj(tuple(p)))
    ),
    max_leaves=20,
)


@SETTINGS
@given(
    pairs=st.lists(st.tuples(KEYS, FINITE), max_size=5),
    escape_colons=st.booleans(),
)
def test_a_repeated_key_is_refused_exactly_when_there_is_one(pairs, escape_colons):
    text = render(Obj(tuple(pairs)), escape_colons)
    try:
        decode_event(text.encode(), default_ts=0.0)
    except InvalidRecord as e:
        refused_as_duplicate = e.reason is Reason.DUPLICATE_KEY
    else:
        refused_as_duplicate = False
    assert refused_as_duplicate == has_repeated_key(text)


IDS = st.text(min_size=1, max_size=10)
TIMES = st.floats(allow_nan=False, allow_infinity=False)
FEATURE_VALUES = (
    st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
FEATURE_DICTS = st.dictionaries(st.text(max_size=6), FEATURE_VALUES, max_size=6)
CLASSES = st.text(min_size=1, max_size=6) | st.integers(-(2**63), 2**63 - 1) | st.booleans()
PROBAS = st.dictionaries(st.text(max_size=6), st.floats(min_value=0, max_value=1), max_size=4)


@SETTINGS
@given(event=st.builds(Event, IDS, FEATURE_DICTS, TIMES))
def test_events_round_trip(event):
    assert decode_event(encode_event(event), default_ts=0.0) == event


@SETTINGS
@given(
    label=st.builds(
        Label,
        IDS,
        CLASSES,
        TIMES,
        st.none() | st.text(max_size=6),
        st.none() | st.floats(min_value=0, allow_infinity=False),
    )
)
def test_labels_round_trip(label):
    back = decode_label(encode_label(label), default_ts=0.0)
    assert back == label
    assert type(back.label) is type(label.label)


@SETTINGS
@given(
    query=st.builds(
        Query,
        IDS,
        TIMES,
        FEATURE_DICTS,
        PROBAS,
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(min_size=1, max_size=10),
        st.integers(min_value=0, max_value=2**63 - 1),
    )
)
def test_queries_round_trip(query):
    assert decode_query(encode_query(query)) == query


@SETTINGS
@given(
    prediction=st.builds(Prediction, IDS, st.none() | CLASSES, PROBAS, st.booleans()),
    version=st.integers(min_value=0, max_value=2**63 - 1),
)
def test_predictions_round_trip(prediction, version):
    assert decode_prediction(encode_prediction(prediction, version)) == (prediction, version)


@st.composite
def batches(draw) -> Decisions:
    """What the engine decided of a batch: classes of one type, or a numeric target's spread."""
    ids = draw(st.lists(IDS, max_size=6))
    n = len(ids)
    asked = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    unit = st.floats(min_value=0, max_value=1)
    if draw(st.booleans()):
        y = draw(st.lists(st.none() | st.floats(allow_infinity=False), min_size=n, max_size=n))
        std = draw(st.lists(st.floats(min_value=0, allow_infinity=False), min_size=n, max_size=n))
        return Decisions(ids, np.zeros((n, 0)), [], y, asked, [], std=np.array(std, dtype=float))
    kind = draw(st.sampled_from([st.text(max_size=6), st.integers(-(2**63), 2**63 - 1),
                                 st.booleans(), st.floats(allow_nan=False)]))  # fmt: skip
    classes = draw(st.lists(kind, unique=True, max_size=4))
    rows = [draw(st.lists(unit, min_size=len(classes), max_size=len(classes))) for _ in ids]
    y = draw(st.lists(st.none() | st.sampled_from(classes or [None]), min_size=n, max_size=n))
    return Decisions(ids, np.array(rows, dtype=float).reshape(n, len(classes)), classes, y,
                     asked, [])  # fmt: skip


@SETTINGS
@given(decisions=batches(), version=st.integers(min_value=0, max_value=2**63 - 1))
def test_a_batch_of_predictions_is_written_as_each_alone(decisions, version):
    """One encoder call for a batch gives each prediction's record, as JSON, one per event."""
    batch = encode_predictions(decisions, version)
    alone = [encode_prediction(p, version) for p in decisions.predictions]
    assert [orjson.loads(r) for r in batch] == [orjson.loads(r) for r in alone]


#: The most a letter can take: its value's text when every byte is escaped as \\u00XX, the
#: same bytes in base64, its detail when every character is escaped, and the other fields.
LETTER_BOUND = 6 * DEAD_LETTER_VALUE_BYTES + 4 * DEAD_LETTER_VALUE_BYTES // 3 + 4
LETTER_BOUND += 6 * DEAD_LETTER_DETAIL_CHARS + 512


@SETTINGS
@given(
    raw=st.none()
    | st.binary(max_size=2 * DEAD_LETTER_VALUE_BYTES)
    | st.text(max_size=DEAD_LETTER_VALUE_BYTES + 8).map(str.encode)
    | st.integers(0, 3 * DEAD_LETTER_VALUE_BYTES).map(lambda n: b"\x01" * n),
    detail=st.text(max_size=3 * DEAD_LETTER_DETAIL_CHARS),
    reason=st.sampled_from([r.value for r in Reason]),
    offset=st.integers(min_value=0, max_value=2**62),
)
def test_dead_letters_are_bounded_and_say_what_they_lost(raw, detail, reason, offset):
    letter = encode_dead_letter(
        raw, topic="streamal.events", partition=3, offset=offset, reason=reason, detail=detail
    )
    assert len(letter) <= LETTER_BOUND
    fields = orjson.loads(letter)
    value = raw or b""
    assert fields["value_bytes"] == len(value)
    assert fields["value_sha256"] == hashlib.sha256(value).hexdigest()
    kept = base64.b64decode(fields["value_b64"])
    assert kept == value[:DEAD_LETTER_VALUE_BYTES]
    assert fields["truncated"] == (len(kept) < len(value))
    if fields["value"] is not None:
        assert kept.startswith(fields["value"].encode())
        assert len(kept) - len(fields["value"].encode()) < 4  # at most one cut character
    assert len(fields["detail"]) <= DEAD_LETTER_DETAIL_CHARS
    assert detail.startswith(fields["detail"].removesuffix("…"))
    assert (fields["reason"], fields["partition"], fields["offset"]) == (reason, 3, offset)


@given(raw=st.text(max_size=DEAD_LETTER_VALUE_BYTES // 4).map(str.encode))
def test_a_whole_utf8_value_is_its_text(raw):
    letter = orjson.loads(
        encode_dead_letter(raw, topic="t", partition=0, offset=0, reason="r", detail="")
    )
    assert letter["value"] == raw.decode()
