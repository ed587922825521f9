"""The JSON Schemas of the six message kinds (docs/schemas): good messages pass, bad ones fail.

A message is valid when it is strict JSON (no NaN or Infinity) and its
object validates against its kind's schema (draft 2020-12).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")

SCHEMAS = Path(__file__).resolve().parent.parent / "docs" / "schemas"
KINDS = ("event", "query", "label", "prediction", "training", "dead-letter")


def load_schema(kind: str) -> dict:
    return json.loads((SCHEMAS / f"{kind}.json").read_text(encoding="utf-8"))


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


def errors(kind: str, message: dict | str) -> list[str]:
    """Every reason ``message`` (an object, or the text of a record) is not a valid ``kind``."""
    if isinstance(message, str):
        try:
            message = json.loads(message, parse_constant=_no_constants)
        except ValueError as e:
            return [f"not strict JSON: {e}"]
    validator = jsonschema.Draft202012Validator(load_schema(kind))
    return [e.message for e in validator.iter_errors(message)]


def test_there_is_one_schema_per_message_kind():
    assert sorted(p.stem for p in SCHEMAS.glob("*.json")) == sorted(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_schema_is_a_valid_draft_2020_12_schema(kind):
    schema = load_schema(kind)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"urn:streamal:schema:{kind}:1"
    # Every message carries "v": 1, and unknown fields are kept and ignored.
    assert schema["properties"]["v"] == {"const": 1, "description": "Message format version."}
    assert "v" in schema["required"]
    assert schema.get("additionalProperties", True) is True
    if kind != "dead-letter":
        assert "id" in schema["required"]


EVENT = {"v": 1, "id": "e-1", "ts": 1764000000.5, "x": {"amount": 12.5, "country": "FR", "n": 3}}
QUERY = {
    "v": 1,
    "id": "e-1",
    "ts": 1764000000.5,
    "x": {"amount": 12.5, "country": "FR"},
    "proba": {"fraud": 0.45, "ok": 0.55},
    "score": 0.993,
    "strategy": "variable_uncertainty",
    "model_version": 118,
}
LABEL = {"v": 1, "id": "e-1", "label": "fraud", "annotator": "ana", "cost": 0.2, "ts": 1764000100.0}
PREDICTION = {
    "v": 1,
    "id": "e-1",
    "y": "ok",
    "proba": {"fraud": 0.45, "ok": 0.55},
    "queried": True,
    "model_version": 118,
}
TRAINING = {
    "v": 1,
    "id": "e-1",
    "x": {"amount": 12.5, "country": "FR"},
    "y": "fraud",
    "query_ts": 1764000000.5,
    "label_ts": 1764000100.0,
    "y_pred": "ok",
    "annotator": "ana",
}
DEAD_LETTER = {
    "v": 1,
    "reason": "malformed_json",
    "topic": "streamal.events",
    "partition": 2,
    "offset": 41,
    "detail": "Expecting value: line 1 column 13",
    "value": '{"v":1,"id":',
    "value_b64": base64.b64encode(b'{"v":1,"id":').decode(),
    "value_bytes": 12,
    "value_sha256": hashlib.sha256(b'{"v":1,"id":').hexdigest(),
    "truncated": False,
}


def with_(message: dict, **changes) -> dict:
    out = {**message, **changes}
    return {k: v for k, v in out.items() if v is not ...}


GOOD = [
    ("event", EVENT),
    ("event", {"v": 1, "id": "minimal", "x": {}}),
    ("event", with_(EVENT, extra={"kept": "and ignored"})),
    ("query", QUERY),
    ("label", LABEL),
    ("label", {"v": 1, "id": "e-1", "label": 3}),
    ("label", {"v": 1, "id": "e-1", "label": False}),
    ("label", {"v": 1, "id": "e-1", "label": -2.75}),
    ("query", with_(QUERY, proba={}, classes=..., score=None, prediction=4.5, std=None)),
    ("prediction", PREDICTION),
    ("prediction", with_(PREDICTION, y=4.5, proba={}, std=0.5)),
    ("prediction", with_(PREDICTION, y=None, proba={}, queried=False)),
    ("training", TRAINING),
    ("training", {"v": 1, "id": "e-1", "x": {"a": 1}, "y": 0}),
    ("training", {"v": 1, "id": "e-1", "x": {"a": 1}, "y": 0.25, "y_pred": 1.5}),
    ("dead-letter", DEAD_LETTER),
    ("dead-letter", with_(DEAD_LETTER, reason="unknown", topic="streamal.labels", value=None)),
    ("dead-letter", with_(DEAD_LETTER, value_bytes=10_000_000, truncated=True)),
]


@pytest.mark.parametrize(("kind", "message"), GOOD, ids=lambda v: v if isinstance(v, str) else "")
def test_good_messages_are_valid(kind, message):
    assert errors(kind, message) == []
    # ... and the same holds for the record's bytes as the daemon would read them.
    assert errors(kind, json.dumps(message)) == []


BAD = [
    ("event", with_(EVENT, v=2), "1 was expected"),
    ("event", with_(EVENT, v=True), "1 was expected"),
    ("event", with_(EVENT, v=...), "'v' is a required property"),
    ("event", with_(EVENT, id=...), "'id' is a required property"),
    ("event", with_(EVENT, id=42), "42 is not of type 'string'"),
    ("event", with_(EVENT, id=""), "should be non-empty"),
    ("event", with_(EVENT, x=[1, 2]), "is not of type 'object'"),
    ("event", with_(EVENT, x={"a": True}), "True is not valid under any of the given schemas"),
    ("event", with_(EVENT, x={"a": None}), "None is not valid under any of the given schemas"),
    ("event", with_(EVENT, x={"a": [1]}), "[1] is not valid under any of the given schemas"),
    ("event", with_(EVENT, ts="yesterday"), "'yesterday' is not of type 'number'"),
    ("event", '{"v": 1, "id": "e", "x": {"a": NaN}}', "NaN is not JSON"),
    ("event", '{"v": 1, "id": "e", "x": {"a": Infinity}}', "Infinity is not JSON"),
    ("event", '{"v": 1, "id": "e", "x": {"a": 1}', "not strict JSON"),
    ("query", with_(QUERY, proba={"a": 1.5}), "1.5 is greater than the maximum of 1"),
    ("query", with_(QUERY, proba={"a": -0.1}), "-0.1 is less than the minimum of 0"),
    ("query", with_(QUERY, model_version=-1), "-1 is less than the minimum of 0"),
    ("query", with_(QUERY, model_version=1.5), "1.5 is not of type 'integer'"),
    ("query", with_(QUERY, score=...), "'score' is a required property"),
    ("query", with_(QUERY, strategy=""), "should be non-empty"),
    ("query", with_(QUERY, prediction="high"), "'high' is not of type 'number'"),
    ("query", with_(QUERY, std=-1.0), "-1.0 is less than the minimum of 0"),
    ("label", with_(LABEL, label=...), "'label' is a required property"),
    ("label", with_(LABEL, label=None), "None is not valid under any of the given schemas"),
    ("label", with_(LABEL, label=[1.5]), "is not valid under any of the given schemas"),
    ("label", with_(LABEL, label={"a": 1}), "is not valid under any of the given schemas"),
    ("label", with_(LABEL, cost=-1), "-1 is less than the minimum of 0"),
    ("label", with_(LABEL, annotator=7), "7 is not of type 'string'"),
    ("prediction", with_(PREDICTION, queried="yes"), "'yes' is not of type 'boolean'"),
    ("prediction", with_(PREDICTION, y=...), "'y' is a required property"),
    ("prediction", with_(PREDICTION, model_version=...), "'model_version' is a required property"),
    ("prediction", with_(PREDICTION, model_version=-2), "-2 is less than the minimum of 0"),
    ("training", with_(TRAINING, y=...), "'y' is a required property"),
    ("training", with_(TRAINING, x=...), "'x' is a required property"),
    ("training", with_(TRAINING, query_ts="t"), "'t' is not of type 'number'"),
    ("dead-letter", with_(DEAD_LETTER, reason="Bad Reason"), "does not match"),
    ("dead-letter", with_(DEAD_LETTER, offset=-1), "-1 is less than the minimum of 0"),
    ("dead-letter", with_(DEAD_LETTER, partition="0"), "'0' is not of type 'integer'"),
    ("dead-letter", with_(DEAD_LETTER, value_b64="not base64!"), "does not match"),
    ("dead-letter", with_(DEAD_LETTER, value_b64=...), "'value_b64' is a required property"),
    ("dead-letter", with_(DEAD_LETTER, detail=...), "'detail' is a required property"),
    ("dead-letter", with_(DEAD_LETTER, topic=...), "'topic' is a required property"),
    ("dead-letter", with_(DEAD_LETTER, detail="d" * 1001), "is too long"),
    ("dead-letter", with_(DEAD_LETTER, value_b64="AAAA" * 1367), "is too long"),
    ("dead-letter", with_(DEAD_LETTER, value_bytes=...), "'value_bytes' is a required property"),
    ("dead-letter", with_(DEAD_LETTER, value_bytes=-1), "-1 is less than the minimum of 0"),
    ("dead-letter", with_(DEAD_LETTER, value_sha256="ABC"), "does not match"),
    ("dead-letter", with_(DEAD_LETTER, value_sha256=...), "'value_sha256' is a required property"),
    ("dead-letter", with_(DEAD_LETTER, truncated="no"), "'no' is not of type 'boolean'"),
    ("dead-letter", with_(DEAD_LETTER, truncated=...), "'truncated' is a required property"),
]


@pytest.mark.parametrize(
    ("kind", "message", "expected"), BAD, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(BAD)]
)
def test_bad_messages_are_refused_with_the_reason(kind, message, expected):
    found = errors(kind, message)
    assert found, f"{message!r} should not be a valid {kind}"
    assert any(expected in e for e in found), found


def test_each_kind_refuses_the_others_shape():
    """No kind's good example passes as another kind unless it has all that kind's fields."""
    messages = (EVENT, QUERY, LABEL, PREDICTION, TRAINING, DEAD_LETTER)
    examples = dict(zip(KINDS, messages, strict=True))
    accepted = {
        (kind, other)
        for kind in KINDS
        for other, message in examples.items()
        if not errors(kind, message)
    }
    # An event's fields are a subset of a query's and a training example's.
    assert accepted == {(k, k) for k in KINDS} | {("event", "query"), ("event", "training")}
