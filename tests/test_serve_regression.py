"""``streamal serve --task regression`` on the embedded broker: numbers in, numbers learned.

The demo's loop with numeric labels, run as a subprocess: queries carry the
predicted value and its deviation, answers are read as finite numbers (a
number, or text that spells one; anything else is dead-lettered as
``not_a_number`` and its query waits for a right answer), the model learns
them, the labeled absolute error is scraped over HTTP, a ``kill -9`` loses no
label, and a snapshot of the other task is refused at start.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from streamal.connectors.snapshots import SnapshotStore, snapshot_key
from streamal.settings import EngineSettings
from tests.conftest import FAST_GROUP, wait_for


def _events(start: int, n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {"v": 1, "id": f"e{i}", "ts": float(i), "x": {"a": float(a), "b": float(b)}}
        for i, (a, b) in zip(range(start, start + n), rng.normal(size=(n, 2)), strict=True)
    ]


def _truth(x: dict) -> float:
    """A linear target of mean 0 (the default regressor has no intercept), no noise."""
    return round(3.0 * x["a"] - 2.0 * x["b"], 6)


def _value(metrics: dict, name: str, **labels: str) -> float:
    return metrics[(name, *sorted(labels.items()))]


def _label(query: dict, answer: object, delay: float = 2.0) -> dict:
    return {"v": 1, "id": query["id"], "label": answer, "ts": query["ts"] + delay}


def test_a_numeric_target_through_serve_with_a_crash_and_a_refused_restart(
    topics, serve, tmp_path: Path
):
    state = tmp_path / "state"
    args = [
        *topics.flags(),
        *FAST_GROUP,
        "--state-dir", str(state),
        "--task", "regression",
        "--budget", "0.2",
        "--pending-ttl", "100000",
        "--snapshot-interval", "60",
    ]  # fmt: skip
    daemon = serve(args)
    daemon.wait_logged("partitions assigned")
    events = _events(0, 150, seed=1)
    by_id = {e["id"]: e for e in events}
    topics.send_many(topics.events, events)

    predictions = topics.read_json(topics.predictions, at_least=150)
    assert [p["id"] for p in predictions] == [e["id"] for e in events]
    first = topics.read_json(topics.queries)
    assert 10 <= len(first) <= 0.35 * len(events)
    settings = EngineSettings(task="regression")
    assert {q["strategy"] for q in first} == {settings.strategy}
    # Asked before the model learned anything: no prediction to carry, no classes.
    assert all(q["proba"] == {} and q["classes"] == [] for q in first)
    assert all("prediction" not in q for q in first)

    # Answers: a JSON number, text that spells one, and text that does not, whose query
    # then still takes a number.
    as_number, as_text, wrong = first[0], first[1], first[2]
    topics.send(topics.labels, _label(as_number, _truth(as_number["x"])), as_number["id"])
    topics.send(topics.labels, _label(as_text, f" {_truth(as_text['x'])} "), as_text["id"])
    refused = topics.send(topics.labels, _label(wrong, "abc"), wrong["id"])
    topics.send(topics.labels, _label(wrong, _truth(wrong["x"])), wrong["id"])
    for q in first[3:]:
        topics.send(topics.labels, _label(q, _truth(q["x"])), q["id"])

    training = topics.read_json(topics.training, at_least=len(first))
    assert [t["id"] for t in training] == [q["id"] for q in first]
    assert all(type(t["y"]) is float for t in training)
    assert [t["y"] for t in training] == [_truth(by_id[t["id"]]["x"]) for t in training]
    (letter,) = topics.read_json(topics.dead_letter, at_least=1)
    assert (letter["reason"], letter["topic"], letter["offset"]) == (
        "not_a_number",
        topics.labels,
        refused,
    )
    assert "'abc' is not a number" in letter["detail"]

    # The model has learned the answers: later queries and predictions carry its values.
    later = _events(150, 150, seed=2)
    by_id |= {e["id"]: e for e in later}
    topics.send_many(topics.events, later)
    predictions = topics.read_json(topics.predictions, at_least=300)[150:]
    errors = [abs(p["y"] - _truth(by_id[p["id"]]["x"])) for p in predictions]
    spread = np.mean([abs(_truth(e["x"])) for e in later])
    assert np.mean(errors) < 0.25 * spread, (np.mean(errors), spread)
    assert all(p["std"] > 0 for p in predictions)
    second = topics.read_json(topics.queries)[len(first) :]
    assert len(second) >= 5
    versions = [q["model_version"] for q in second]
    assert min(versions) >= len(first) > 0
    assert all(q["std"] > 0 for q in second)
    # The queried events are predicted well too, though chosen where labels are sparse.
    asked_errors = [abs(q["prediction"] - _truth(q["x"])) for q in second]
    asked_spread = np.mean([abs(_truth(q["x"])) for q in second])
    assert np.mean(asked_errors) < 0.3 * asked_spread, (np.mean(asked_errors), asked_spread)

    def settled():
        metrics = daemon.metrics()
        applied = _value(metrics, "streamal_labels_total", outcome="applied")
        return metrics if applied == len(first) else None

    metrics = wait_for(settled, 20, "the answers to be counted")
    assert _value(metrics, "streamal_labels_total", outcome="not_a_number") == 1
    assert _value(metrics, "streamal_dead_letters_total", reason="not_a_number") == 1
    assert _value(metrics, "streamal_events_total") == 300
    # Every first query was asked before the model learned: none is scored yet.
    assert math.isnan(_value(metrics, "streamal_labeled_absolute_error"))
    # The deployed-accuracy estimate is for classes: never set for a numeric target, whose
    # deployed error has no answer to rest on yet.
    assert math.isnan(_value(metrics, "streamal_deployed_accuracy_ratio", bound="estimate"))
    assert math.isnan(_value(metrics, "streamal_deployed_absolute_error", bound="estimate"))

    # Half the second queries answered, and kill -9 at once: no snapshot covers them, some
    # may not even be read yet.
    half = len(second) // 2
    for q in second[:half]:
        topics.send(topics.labels, _label(q, _truth(q["x"])), q["id"])
    daemon.kill()
    again = serve(args)
    again.wait_logged("partitions assigned")
    for q in second[half:]:
        topics.send(topics.labels, _label(q, str(_truth(q["x"]))), q["id"])
    answered = [q["id"] for q in first + second]
    training = topics.read_json(topics.training, at_least=len(answered))
    # Every answer reached the training log; one joined again after the crash is there twice
    # at most, and learned once.
    assert set(t["id"] for t in training) == set(answered)

    def learned():
        metrics = again.metrics()
        applied = _value(metrics, "streamal_labels_total", outcome="applied")
        return metrics if applied >= len(second) - half else None

    # The restarted daemon scores the answers it joined against the predictions their
    # queries carried (read back from the queries topic).
    metrics = wait_for(learned, 20, "the restarted daemon to learn the answers")
    labeled = _value(metrics, "streamal_labeled_absolute_error")
    assert 0 < labeled < 0.3 * asked_spread, (labeled, asked_spread)
    # The error on all events, from the even share's answers: about the predictions' own.
    deployed = [
        _value(metrics, "streamal_deployed_absolute_error", bound=b)
        for b in ("low", "estimate", "high")
    ]
    assert 0 <= deployed[0] <= deployed[1] <= deployed[2], deployed
    assert 0 < deployed[1] < 0.3 * spread, (deployed, spread)
    assert again.stop() == 0
    snapshot, _ = SnapshotStore(state, snapshot_key(state, {})).newest()
    assert snapshot is not None and snapshot.engine.model.task == "regression"
    assert snapshot.engine.model.version == len(answered)

    # The same state as a classifier's: refused in one line, before anything is consumed.
    classifier = serve([*args, "--task", "classification"])
    assert classifier.process.wait(60) == 2
    assert classifier.stop() == 2  # and its log is read to the end
    refusal = [line for line in classifier.log if line.startswith("error: ")]
    assert len(refusal) == 1, classifier.log
    assert "is of a regression model, not classification" in refusal[0]
    assert len(topics.read(topics.training)) == len(training)
