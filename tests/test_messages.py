import orjson
import pytest

from streamal.engine import Prediction, Query, TrainingExample
from streamal.messages import (
    InvalidRecord,
    Reason,
    decode_event,
    decode_label,
    decode_training_example,
    encode_dead_letter,
    encode_prediction,
    encode_query,
    encode_training_example,
)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", Reason.MALFORMED_JSON),
        (b"", Reason.MALFORMED_JSON),
        (b"\xff\xfe", Reason.MALFORMED_JSON),
        (b"[1, 2]", Reason.NOT_AN_OBJECT),
        (b'{"v":1,"x":{}}', Reason.MISSING_ID),
        (b'{"v":1,"id":7,"x":{}}', Reason.BAD_ID),
        (b'{"v":1,"id":"","x":{}}', Reason.BAD_ID),
        (b'{"v":2,"id":"a","x":{}}', Reason.BAD_VERSION),
        (b'{"id":"a","x":{}}', Reason.BAD_VERSION),
        (b'{"v":1,"id":"a"}', Reason.BAD_FEATURES),
        (b'{"v":1,"id":"a","x":[1]}', Reason.BAD_FEATURES),
        (b'{"v":1,"id":"a","x":{"f":null}}', Reason.BAD_FEATURES),
        (b'{"v":1,"id":"a","x":{"f":{"g":1}}}', Reason.BAD_FEATURES),
        (b'{"v":1,"id":"a","x":{"f":NaN}}', Reason.NON_FINITE),
        (b'{"v":1,"id":"a","x":{"f":-Infinity}}', Reason.NON_FINITE),
        (b'{"v":1,"id":"a","x":{"f":1e999}}', Reason.NON_FINITE),
        (b'{"v":1,"id":"a","ts":"noon","x":{}}', Reason.BAD_TIMESTAMP),
    ],
)
def test_bad_events_are_refused_with_their_reason(raw, reason):
    with pytest.raises(InvalidRecord) as caught:
        decode_event(raw, default_ts=0.0)
    assert caught.value.reason is reason


def test_oversized_records_are_refused_before_parsing():
    raw = orjson.dumps({"v": 1, "id": "a", "x": {"f": "z" * 100}})
    with pytest.raises(InvalidRecord) as caught:
        decode_event(raw, default_ts=0.0, max_bytes=50)
    assert caught.value.reason is Reason.OVERSIZED


def test_event_keeps_numbers_strings_and_ignores_unknown_fields():
    raw = b'{"v":1,"id":"e","ts":12,"x":{"a":1,"b":"red","c":2.5},"extra":[1]}'
    event = decode_event(raw, default_ts=99.0)
    assert event.id == "e"
    assert event.ts == 12.0
    assert event.x == {"a": 1, "b": "red", "c": 2.5}


def test_a_boolean_is_not_a_feature_value_nor_a_version():
    with pytest.raises(InvalidRecord, match="bad_features"):
        decode_event(b'{"v":1,"id":"e","x":{"flag":true}}', default_ts=0.0)
    with pytest.raises(InvalidRecord, match="bad_version"):
        decode_event(b'{"v":true,"id":"e","x":{}}', default_ts=0.0)


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        (b'{"v":1,"id":"a","label":"spam"}', "spam"),
        (b'{"v":1,"id":"a","label":3}', 3),
        (b'{"v":1,"id":"a","label":3.0}', 3),
        (b'{"v":1,"id":"a","label":false}', False),
    ],
)
def test_labels_take_strings_integers_and_booleans(raw, label):
    decoded = decode_label(raw, default_ts=5.0)
    assert decoded.label == label
    assert type(decoded.label) is type(label)
    assert decoded.ts == 5.0


@pytest.mark.parametrize(
    "raw",
    [
        b'{"v":1,"id":"a"}',
        b'{"v":1,"id":"a","label":null}',
        b'{"v":1,"id":"a","label":0.5}',
        b'{"v":1,"id":"a","label":["x"]}',
    ],
)
def test_bad_labels_are_refused(raw):
    with pytest.raises(InvalidRecord) as caught:
        decode_label(raw, default_ts=0.0)
    assert caught.value.reason is Reason.BAD_LABEL


def test_outgoing_records_carry_the_version_and_id():
    query = orjson.loads(encode_query(Query("q", 1.0, {"a": 1}, {1: 0.25, 2: 0.75}, 0.3, "s", 2)))
    assert query == {
        "v": 1,
        "id": "q",
        "ts": 1.0,
        "x": {"a": 1},
        "proba": {"1": 0.25, "2": 0.75},
        "score": 0.3,
        "strategy": "s",
        "model_version": 2,
    }
    prediction = orjson.loads(encode_prediction(Prediction("p", None, {}, False), 3))
    assert prediction == {
        "v": 1,
        "id": "p",
        "y": None,
        "proba": {},
        "queried": False,
        "model_version": 3,
    }


def test_training_examples_round_trip_with_their_label_type():
    for y in ("yes", 1, True):
        example = TrainingExample("t", {"a": 1.5, "b": "s"}, y, 1.0, 4.0, None, None)
        back = decode_training_example(encode_training_example(example))
        assert back == example
        assert type(back.y) is type(y)


def test_dead_letter_keeps_bytes_that_are_not_utf8():
    letter = orjson.loads(
        encode_dead_letter(
            b"\xff\x00", topic="t", partition=2, offset=7, reason="malformed_json", detail="d"
        )
    )
    assert letter["value"] is None
    assert letter["value_b64"] == "/wA="
    assert (letter["topic"], letter["partition"], letter["offset"]) == ("t", 2, 7)
