import base64
import hashlib
import json
import math
from dataclasses import replace

import orjson
import pytest

from streamal.engine import Event, Label, Prediction, Query, TrainingExample
from streamal.messages import (
    DEAD_LETTER_DETAIL_CHARS,
    DEAD_LETTER_VALUE_BYTES,
    InvalidRecord,
    Reason,
    decode_event,
    decode_label,
    decode_prediction,
    decode_query,
    decode_training_example,
    encode_dead_letter,
    encode_event,
    encode_label,
    encode_prediction,
    encode_query,
    encode_training_example,
)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", Reason.MALFORMED_JSON),
        (b"", Reason.MALFORMED_JSON),
        (b"\xff\xfe", Reason.BAD_ENCODING),
        (b'{"v":1,"id":"\xc3","x":{}}', Reason.BAD_ENCODING),
        (b"\xef\xbb\xbf{}", Reason.MALFORMED_JSON),  # a byte order mark is not JSON
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
        (b'{"v":1,"id":"a","x":{"f":-1' + b"0" * 400 + b"}}", Reason.NON_FINITE),
        (b'{"v":1,"id":"a","x":{"f":Infinity}}', Reason.NON_FINITE),
        (b'{"v":1,"id":"a","x":{NaN:1}}', Reason.MALFORMED_JSON),
        (b'{"v":1,"id":"a","x":{"f":"\\ud800"}}', Reason.MALFORMED_JSON),
        (b'{"v":1,"id":"a","id":"b","x":{}}', Reason.DUPLICATE_KEY),
        (b'{"v":1,"id":"a","x":{"f":1,"g":2,"f":3}}', Reason.DUPLICATE_KEY),
        (b'{"v":1,"id":"a","x":{},"extra":[{"k":1},{"k":1,"k":2}]}', Reason.DUPLICATE_KEY),
        (b'{"v":1,"id":"a","x":{"f":"1:2","f":3}}', Reason.DUPLICATE_KEY),
        # Counting colons in the decoded strings would be fooled here: the escaped colon is one
        # more there than in the bytes, just as the duplicate is one key fewer in the object.
        (b'{"v":1,"id":"a\\u003a","x":{"f":1,"f":2}}', Reason.DUPLICATE_KEY),
        (b'{"v":1,"id":"p","x":' + b"[" * 5000 + b"]" * 5000 + b"}", Reason.TOO_DEEP),
        (b'{"v":1,"id":"p","x":{"f":1},"deep":' + b'{"a":' * 2000 + b"}", Reason.TOO_DEEP),
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
        b'{"v":1,"id":"a","label":{"x":1}}',
        b'{"v":1,"id":"a","label":["x"]}',
    ],
)
def test_bad_labels_are_refused(raw):
    with pytest.raises(InvalidRecord) as caught:
        decode_label(raw, default_ts=0.0)
    assert caught.value.reason is Reason.BAD_LABEL


def test_a_number_label_is_a_numeric_target_value():
    assert decode_label(b'{"v":1,"id":"a","label":0.5}', default_ts=0.0).label == 0.5
    assert decode_label(b'{"v":1,"id":"a","label":-2e3}', default_ts=0.0).label == -2000


def test_a_numeric_query_travels_with_its_prediction():
    query = Query("q", 1.0, {"a": 1}, {}, 0.3, "leverage", 2, prediction=-1.5, std=0.25)
    assert decode_query(encode_query(query)) == query
    unsure = decode_query(encode_query(replace(query, score=math.nan, std=None)))
    assert math.isnan(unsure.score) and unsure.std is None
    bad = orjson.loads(encode_query(query)) | {"prediction": "high"}
    with pytest.raises(InvalidRecord) as caught:
        decode_query(orjson.dumps(bad))
    assert caught.value.reason is Reason.BAD_FIELD


def test_outgoing_records_carry_the_version_and_id():
    query = Query("q", 1.0, {"a": 1}, {1: 0.25, 2: 0.75}, 0.3, "s", 2, (1, 2), 0.125)
    query = orjson.loads(encode_query(query))
    assert query == {
        "v": 1,
        "id": "q",
        "ts": 1.0,
        "x": {"a": 1},
        "proba": {"1": 0.25, "2": 0.75},
        "score": 0.3,
        "strategy": "s",
        "model_version": 2,
        "classes": [1, 2],
        "probability": 0.125,
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


def test_too_deep_is_refused_whatever_else_is_wrong_with_the_record():
    # The measured crash: 5,000 levels of arrays in 10 KB; orjson refuses them for depth,
    # and nothing may then parse them again with a recursive parser.
    raw = b'{"v":1,"id":"p","x":' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert len(raw) == 10_021
    for decode in (decode_event, decode_label):
        with pytest.raises(InvalidRecord) as caught:
            decode(raw, default_ts=0.0)
        assert caught.value.reason is Reason.TOO_DEEP
    # The same depth with a NaN first, and unclosed: still refused, never a RecursionError.
    with pytest.raises(InvalidRecord) as caught:
        decode_event(b'{"v":1,"id":"p","x":' + b"[" * 900 + b"NaN" + b"[" * 5000, default_ts=0.0)
    assert caught.value.reason is Reason.NON_FINITE


def test_nesting_the_parser_allows_is_read_and_reported_briefly():
    nested = b"[" * 1000 + b"]" * 1000
    event = decode_event(b'{"v":1,"id":"p","x":{"f":1},"extra":' + nested + b"}", default_ts=0.0)
    assert event.x == {"f": 1}
    with pytest.raises(InvalidRecord) as caught:
        decode_event(b'{"v":1,"id":"p","x":' + nested + b"}", default_ts=0.0)
    assert caught.value.reason is Reason.BAD_FEATURES
    assert caught.value.detail == "x must be an object of features, got [[[[...]]]]"


def test_details_stay_short_whatever_the_value():
    with pytest.raises(InvalidRecord) as caught:
        decode_event(orjson.dumps({"v": 1, "id": "a", "x": ["z" * 500_000]}), default_ts=0.0)
    assert caught.value.reason is Reason.BAD_FEATURES
    assert len(caught.value.detail) < 200


@pytest.mark.parametrize(
    "raw",
    [
        # Colons inside strings (ids, URLs, times, keys) are not keys.
        b'{"v":1,"id":"user:1","x":{"url":"http://h:80/p","t":"12:30:00"}}',
        b'{"v":1,"id":"a","x":{"a:b":1,"c":":::"}}',
        b'{"v":1,"id":"a\\":","x":{"f":"\\\\:"}}',
        b'{"v":1,"id":"a","x":{"f":1},"extra":{"x":{"f":1}}}',
    ],
)
def test_colons_inside_strings_are_not_duplicate_keys(raw):
    event = decode_event(raw, default_ts=0.0)
    record = json.loads(raw)
    assert (event.id, event.x) == (record["id"], record["x"])


def test_a_label_that_repeats_its_label_is_refused():
    with pytest.raises(InvalidRecord) as caught:
        decode_label(b'{"v":1,"id":"a","label":"spam","label":"ham"}', default_ts=0.0)
    assert caught.value.reason is Reason.DUPLICATE_KEY


@pytest.mark.parametrize("raw", [None, "text", 7, ["a"], bytearray(b"{}")])
def test_anything_but_bytes_is_refused_not_raised(raw):
    with pytest.raises(InvalidRecord) as caught:
        decode_event(raw, default_ts=0.0)
    expected = Reason.BAD_VERSION if isinstance(raw, bytearray) else Reason.MALFORMED_JSON
    assert caught.value.reason is expected


def test_the_new_reasons_have_their_exact_values():
    assert Reason.TOO_DEEP == "too_deep"
    assert Reason.BAD_ENCODING == "bad_encoding"
    assert Reason.DUPLICATE_KEY == "duplicate_key"
    assert Reason.MODEL_ERROR == "model_error"
    assert Reason.NON_FINITE == "non_finite"


def test_events_labels_queries_and_predictions_round_trip():
    event = Event("e", {"a": 1, "b": 2.5, "c": "red"}, 3.0)
    assert decode_event(encode_event(event), default_ts=0.0) == event
    label = Label("e", True, 4.0, "ann", 0.5)
    assert decode_label(encode_label(label), default_ts=0.0) == label
    assert orjson.loads(encode_label(Label("e", "spam", 4.0))) == {
        "v": 1,
        "id": "e",
        "label": "spam",
        "ts": 4.0,
    }
    query = Query("q", 1.0, {"a": 1}, {"no": 0.25, "yes": 0.75}, 0.3, "s", 2, (), 0.04)
    assert decode_query(encode_query(query)) == query
    written = orjson.loads(encode_query(query))
    del written["probability"]  # a query written before the field came was asked for certain
    assert decode_query(orjson.dumps(written)).probability == 1.0
    prediction = Prediction("p", 1, {"1": 0.5, "2": 0.5}, True)
    assert decode_prediction(encode_prediction(prediction, 7)) == (prediction, 7)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"ts": None}, Reason.BAD_TIMESTAMP),
        ({"x": [1]}, Reason.BAD_FEATURES),
        ({"proba": ["a"]}, Reason.BAD_FIELD),
        ({"proba": {"a": "high"}}, Reason.BAD_FIELD),
        ({"proba": {"a": True}}, Reason.BAD_FIELD),
        ({"score": "high"}, Reason.BAD_FIELD),
        ({"strategy": ""}, Reason.BAD_FIELD),
        ({"model_version": -1}, Reason.BAD_FIELD),
        ({"model_version": True}, Reason.BAD_FIELD),
        ({"probability": 0}, Reason.BAD_FIELD),
        ({"probability": 1.5}, Reason.BAD_FIELD),
        ({"probability": True}, Reason.BAD_FIELD),
        ({"id": ""}, Reason.BAD_ID),
    ],
)
def test_a_query_with_a_bad_field_is_refused(change, reason):
    good = orjson.loads(encode_query(Query("q", 1.0, {"a": 1}, {"y": 1.0}, 0.3, "s", 2)))
    with pytest.raises(InvalidRecord) as caught:
        decode_query(orjson.dumps({**good, **change}))
    assert caught.value.reason is reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"y": [0.5]}, Reason.BAD_LABEL),
        ({"std": "wide"}, Reason.BAD_FIELD),
        ({"queried": 1}, Reason.BAD_FIELD),
        ({"model_version": None}, Reason.BAD_FIELD),
        ({"proba": None}, Reason.BAD_FIELD),
    ],
)
def test_a_prediction_with_a_bad_field_is_refused(change, reason):
    good = orjson.loads(encode_prediction(Prediction("p", "y", {"y": 1.0}, False), 3))
    with pytest.raises(InvalidRecord) as caught:
        decode_prediction(orjson.dumps({**good, **change}))
    assert caught.value.reason is reason


def _letter(raw: bytes | None, detail: str = "d") -> dict:
    return orjson.loads(
        encode_dead_letter(raw, topic="t", partition=0, offset=1, reason="oversized", detail=detail)
    )


def test_the_dead_letter_of_a_huge_record_is_a_few_kb():
    raw = orjson.dumps({"v": 1, "id": "big", "x": {"pad": "z" * 10_000_000}})
    letter = encode_dead_letter(
        raw, topic="t", partition=0, offset=1, reason="oversized", detail="e" * 1_000_000
    )
    assert len(letter) < 12_000
    fields = orjson.loads(letter)
    assert fields["value_bytes"] == len(raw)
    assert fields["value_sha256"] == hashlib.sha256(raw).hexdigest()
    assert fields["truncated"] is True
    assert base64.b64decode(fields["value_b64"]) == raw[:DEAD_LETTER_VALUE_BYTES]
    assert fields["value"] == raw[:DEAD_LETTER_VALUE_BYTES].decode()
    assert len(fields["detail"]) == DEAD_LETTER_DETAIL_CHARS
    assert fields["detail"].endswith("…")


def test_a_character_cut_by_the_prefix_is_left_out_of_the_text():
    raw = b"a" * (DEAD_LETTER_VALUE_BYTES - 1) + "é".encode() + b"tail"
    letter = _letter(raw)
    assert letter["value"] == "a" * (DEAD_LETTER_VALUE_BYTES - 1)
    assert base64.b64decode(letter["value_b64"]) == raw[:DEAD_LETTER_VALUE_BYTES]
    # A whole value that ends in half a character is simply not text.
    assert _letter(raw[:DEAD_LETTER_VALUE_BYTES])["value"] is None


def test_the_dead_letter_of_an_empty_or_missing_value():
    for raw in (None, b""):
        letter = _letter(raw)
        assert (letter["value"], letter["value_b64"], letter["value_bytes"]) == ("", "", 0)
        assert letter["value_sha256"] == hashlib.sha256(b"").hexdigest()
        assert letter["truncated"] is False
