"""The published schemas (docs/schemas) and the decoders of streamal.messages agree.

Every example that the event, label, query and prediction schemas accept,
its decoder reads; every one they refuse, its decoder refuses with a reason.
Everything the daemon writes validates against its kind's schema.
"""

from __future__ import annotations

import json

import orjson
import pytest

from streamal.annotators import Answer
from streamal.engine import Prediction, Query, TrainingExample
from streamal.messages import (
    InvalidRecord,
    decode_event,
    decode_label,
    decode_prediction,
    decode_query,
    encode_dead_letter,
    encode_prediction,
    encode_query,
    encode_training_example,
)
from tests.test_schemas import BAD, GOOD, errors

DECODERS = {
    "event": lambda raw: decode_event(raw, default_ts=0.0),
    "label": lambda raw: decode_label(raw, default_ts=0.0),
    "query": decode_query,
    "prediction": lambda raw: decode_prediction(raw)[0],
}


def as_bytes(message: dict | str) -> bytes:
    return message.encode() if isinstance(message, str) else json.dumps(message).encode()


@pytest.mark.parametrize(
    ("kind", "message"), [(k, m) for k, m in GOOD if k in DECODERS], ids=lambda v: str(v)[:40]
)
def test_the_decoder_reads_what_the_schema_accepts(kind, message):
    assert DECODERS[kind](as_bytes(message)).id == message["id"]


def looser(message: dict | str) -> bool:
    """Whether a decoder reads ``message`` though its schema refuses it.

    The daemon writes a model's probabilities as they are, and one that
    rounding put past 1 still makes a query worth answering.
    """
    proba = message.get("proba", {}) if isinstance(message, dict) else {}
    return any(not 0 <= p <= 1 for p in proba.values())


@pytest.mark.parametrize(
    ("kind", "message"),
    [(k, m) for k, m, _ in BAD if k in DECODERS and not looser(m)],
    ids=lambda v: str(v)[:40],
)
def test_the_decoder_refuses_what_the_schema_refuses(kind, message):
    with pytest.raises(InvalidRecord):
        DECODERS[kind](as_bytes(message))


@pytest.mark.parametrize(
    ("kind", "message"),
    [(k, m) for k, m, _ in BAD if k in DECODERS and looser(m)],
    ids=lambda v: str(v)[:40],
)
def test_the_decoder_reads_probabilities_out_of_range(kind, message):
    assert DECODERS[kind](as_bytes(message)).proba == message["proba"]


@pytest.mark.parametrize(
    ("kind", "record"),
    [
        ("query", encode_query(Query("e1", 3.0, {"a": 1.0, "c": "red"}, {"x": 0.25, "y": 0.75},
                                     0.5, "split", 4))),
        ("prediction", encode_prediction(Prediction("e1", "y", {"x": 0.25, "y": 0.75}, True), 4)),
        ("prediction", encode_prediction(Prediction("e2", None, {}, False), 0)),
        ("training", encode_training_example(
            TrainingExample("e1", {"a": 1.0}, True, 1.0, 2.5, False, "ann"))),
        ("training", encode_training_example(
            TrainingExample("e2", {"a": 1.0}, 3, 1.0, 2.5, None, None))),
        ("training", encode_training_example(
            TrainingExample("e3", {"a": 1.0}, "b", 1.0, 2.5, "a", "bob",
                            (Answer("a", "ann", 0.5), Answer("b", "bob"), Answer("b")), 0.93))),
        ("dead-letter", encode_dead_letter(b"{oops", topic="streamal.events", partition=0,
                                           offset=41, reason="malformed_json", detail="bad")),
        ("dead-letter", encode_dead_letter(b"\xff\xfe", topic="streamal.labels", partition=2,
                                           offset=0, reason="unknown", detail="never asked")),
        ("dead-letter", encode_dead_letter(b"[" * 10_000_000, topic="streamal.events",
                                           partition=0, offset=1, reason="oversized",
                                           detail="why " * 1_000_000)),
    ],
)  # fmt: skip
def test_what_the_daemon_writes_validates(kind, record):
    assert errors(kind, orjson.loads(record)) == []
