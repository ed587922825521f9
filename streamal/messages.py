"""The daemon's wire format: JSON records in and out (docs/design.md, "Topics and messages").

Decoding checks every field a record must have and turns the first problem
into an :class:`InvalidRecord` with a reason from :class:`Reason`, a small
fixed set that is also the ``reason`` label of the metrics. Unknown fields are
ignored. Encoding is the reverse, for the records the daemon writes.
"""

from __future__ import annotations

import base64
import enum
import json
import math
from collections.abc import Hashable

import orjson

from streamal.annotators import Answer
from streamal.engine import Event, Label, Prediction, Query, TrainingExample

__all__ = [
    "MAX_RECORD_BYTES",
    "VERSION",
    "InvalidRecord",
    "Reason",
    "decode_event",
    "decode_label",
    "decode_training_example",
    "encode_dead_letter",
    "encode_prediction",
    "encode_query",
    "encode_training_example",
]

VERSION = 1

#: Records larger than this are refused unread (1 MiB, Kafka's default ``max.message.bytes``).
MAX_RECORD_BYTES = 1_048_576


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
    #: the user's model raised on the event, or cannot learn the labeled example
    MODEL_ERROR = "model_error"
    #: Kafka refused to take the record for good (too large, unknown topic, not authorized)
    UNDELIVERABLE = "undeliverable"


class InvalidRecord(ValueError):
    """A record that cannot be used; ``reason`` says which rule it broke."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class _NonFinite(Exception):
    pass


def _reject_constant(name: str) -> float:
    raise _NonFinite(name)


def _parse(raw: bytes, max_bytes: int) -> dict:
    if len(raw) > max_bytes:
        raise InvalidRecord(Reason.OVERSIZED, f"{len(raw)} bytes, more than {max_bytes}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        # orjson refuses NaN/Infinity outright; Python's json.dumps writes them, so
        # tell a producer that sent them what is really wrong.
        try:
            json.loads(raw, parse_constant=_reject_constant)
        except _NonFinite as constant:
            raise InvalidRecord(Reason.NON_FINITE, f"{constant} is not a finite number") from None
        except ValueError:
            pass
        if "infinity" in str(e):
            raise InvalidRecord(Reason.NON_FINITE, "a number too large for a double") from None
        raise InvalidRecord(Reason.MALFORMED_JSON, str(e)) from None
    if not isinstance(obj, dict):
        raise InvalidRecord(
            Reason.NOT_AN_OBJECT, f"expected a JSON object, got {type(obj).__name__}"
        )
    if "v" not in obj:
        raise InvalidRecord(Reason.BAD_VERSION, f"no v field (expected v={VERSION})")
    # true == 1 in Python, not in the schema (docs/schemas): a boolean is no version.
    if isinstance(obj["v"], bool) or obj["v"] != VERSION:
        raise InvalidRecord(Reason.BAD_VERSION, f"v is {obj['v']!r}, this daemon reads v={VERSION}")
    if "id" not in obj:
        raise InvalidRecord(Reason.MISSING_ID, "no id field")
    if not isinstance(obj["id"], str) or not obj["id"]:
        raise InvalidRecord(Reason.BAD_ID, f"id must be a non-empty string, got {obj['id']!r}")
    return obj


def _timestamp(obj: dict, default: float) -> float:
    ts = obj.get("ts")
    if ts is None:
        return default
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise InvalidRecord(Reason.BAD_TIMESTAMP, f"ts must be a number, got {ts!r}")
    return float(ts)


def decode_event(raw: bytes, *, default_ts: float, max_bytes: int = MAX_RECORD_BYTES) -> Event:
    """Read an event record; ``default_ts`` is its time when it has no ``ts`` (e.g. Kafka's).

    Examples
    --------

    >>> decode_event(b'{"v":1,"id":"e1","x":{"a":1.5,"b":"red"}}', default_ts=7.0)
    Event(id='e1', x={'a': 1.5, 'b': 'red'}, ts=7.0)
    >>> decode_event(b'{"v":1,"id":"e2","x":{"a":[1]}}', default_ts=0.0)
    Traceback (most recent call last):
    ...
    streamal.messages.InvalidRecord: bad_features: feature 'a' must be a number or a string, got [1]

    """
    obj = _parse(raw, max_bytes)
    x = obj.get("x")
    if not isinstance(x, dict):
        raise InvalidRecord(Reason.BAD_FEATURES, f"x must be an object of features, got {x!r}")
    for name, value in x.items():
        # Booleans are neither numbers nor strings in the event schema (docs/schemas).
        if isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidRecord(Reason.NON_FINITE, f"feature {name!r} is {value!r}")
        elif not isinstance(value, str):
            raise InvalidRecord(
                Reason.BAD_FEATURES, f"feature {name!r} must be a number or a string, got {value!r}"
            )
    return Event(obj["id"], x, _timestamp(obj, default_ts))


def _label_value(value: object) -> Hashable:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        # A labeler writing 1.0 means the class 1, as a CSV recording would.
        return int(value)
    raise InvalidRecord(
        Reason.BAD_LABEL, f"label must be a string, integer or boolean, got {value!r}"
    )


def decode_label(raw: bytes, *, default_ts: float, max_bytes: int = MAX_RECORD_BYTES) -> Label:
    """Read a label record.

    Examples
    --------

    >>> decode_label(b'{"v":1,"id":"e1","label":"spam","annotator":"ann"}', default_ts=9.0)
    Label(id='e1', label='spam', ts=9.0, annotator='ann', cost=None)
    >>> decode_label(b'{"v":1,"id":"e1"}', default_ts=9.0)
    Traceback (most recent call last):
    ...
    streamal.messages.InvalidRecord: bad_label: no label field

    """
    obj = _parse(raw, max_bytes)
    if "label" not in obj:
        raise InvalidRecord(Reason.BAD_LABEL, "no label field")
    label = _label_value(obj["label"])
    annotator = obj.get("annotator")
    if annotator is not None and not isinstance(annotator, str):
        raise InvalidRecord(Reason.BAD_LABEL, f"annotator must be a string, got {annotator!r}")
    cost = obj.get("cost")
    if cost is not None and (
        isinstance(cost, bool)
        or not isinstance(cost, int | float)
        or not (math.isfinite(cost) and cost >= 0)
    ):
        raise InvalidRecord(Reason.BAD_LABEL, f"cost must be a number >= 0, got {cost!r}")
    return Label(obj["id"], label, _timestamp(obj, default_ts), annotator, cost)


def _dumps(obj: dict) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def encode_query(query: Query) -> bytes:
    """The queries-topic record of ``query``.

    >>> from streamal.engine import Query
    >>> encode_query(Query("e1", 3.0, {"a": 1.0}, {"x": 0.5, "y": 0.5}, 0.5, "split", 4))
    b'{"v":1,"id":"e1","ts":3.0,"x":{"a":1.0},"proba":{"x":0.5,"y":0.5},"score":0.5,"strategy":"split","model_version":4}'

    """
    return _dumps(
        {
            "v": VERSION,
            "id": query.id,
            "ts": query.ts,
            "x": query.x,
            "proba": query.proba,
            "score": query.score,
            "strategy": query.strategy,
            "model_version": query.model_version,
        }
    )


def encode_prediction(prediction: Prediction, model_version: int) -> bytes:
    """The predictions-topic record of ``prediction``, made by the model at ``model_version``.

    The version (how many examples the model had learned) is what a replay of
    the run needs to reproduce every decision, queried or not.
    """
    return _dumps(
        {
            "v": VERSION,
            "id": prediction.id,
            "y": prediction.y,
            "proba": prediction.proba,
            "queried": prediction.queried,
            "model_version": model_version,
        }
    )


def encode_training_example(example: TrainingExample) -> bytes:
    """The training-log record of ``example``; :func:`decode_training_example` reads it back.

    The answers behind an aggregated label, and the model's confidence when
    it asked, are written only when the engine aggregates (annotator-aware mode).

    >>> from streamal.annotators import Answer
    >>> from streamal.engine import TrainingExample
    >>> example = TrainingExample("e1", {"a": 1.0}, True, 1.0, 2.5, False, "ann")
    >>> decode_training_example(encode_training_example(example)) == example
    True
    >>> answers = (Answer(True, "ann", 0.5), Answer(False, "bob"))
    >>> aggregated = TrainingExample("e1", {"a": 1.0}, True, 1.0, 2.5, False, "ann", answers, 0.97)
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
    return _dumps(record)


def _answer(answer: Answer) -> dict:
    fields = {"label": answer.label, "annotator": answer.annotator, "cost": answer.cost}
    return {k: v for k, v in fields.items() if v is not None}


def decode_training_example(raw: bytes) -> TrainingExample:
    """Read a training-log record (written by :func:`encode_training_example`)."""
    obj = _parse(raw, max_bytes=len(raw))
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
    )


def encode_dead_letter(
    raw: bytes | None, *, topic: str, partition: int, offset: int, reason: str, detail: str
) -> bytes:
    """The dead-letter record of a refused record: where it came from, why, and its bytes.

    The original bytes are kept exactly (base64) and, when they are UTF-8, also as text
    for people reading the topic.

    >>> import orjson
    >>> letter = orjson.loads(encode_dead_letter(
    ...     b"{oops", topic="streamal.events", partition=0, offset=41,
    ...     reason="malformed_json", detail="unexpected character"))
    >>> letter["reason"], letter["offset"], letter["value"], letter["value_b64"]
    ('malformed_json', 41, '{oops', 'e29vcHM=')

    """
    raw = raw or b""
    try:
        text: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return _dumps(
        {
            "v": VERSION,
            "reason": reason,
            "detail": detail,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "value": text,
            "value_b64": base64.b64encode(raw).decode("ascii"),
        }
    )
