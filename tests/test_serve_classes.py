"""``streamal serve`` reads people's answers as the stream's classes (the labelers issue)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from streamal.connectors.snapshots import SnapshotStore, snapshot_key
from tests.conftest import FAST_GROUP, Annotator

N_EVENTS = 600


def _events(n: int = N_EVENTS) -> list[dict]:
    rng = np.random.default_rng(5)
    return [
        {"v": 1, "id": f"e{i}", "ts": float(i), "x": {"a": float(a), "b": float(b)}}
        for i, (a, b) in enumerate(rng.normal(size=(n, 2)))
    ]


def _truth(x: dict) -> bool:
    return x["a"] + 0.3 * x["b"] > 0


def test_spelled_answers_on_a_boolean_stream_keep_its_classes(topics, serve, tmp_path: Path):
    # How tools and people write booleans; one in forty answers names no class at all.
    spellings = itertools.cycle([("true", "false"), ("True", "False"), (1, 0), ("1", "0"),
                                 (True, False), ("YES", "no")])  # fmt: skip
    count = itertools.count()

    def answer(query: dict) -> object:
        if next(count) % 40 == 39:
            return "maybe"
        yes, no = next(spellings)
        return yes if _truth(query["x"]) else no

    state = tmp_path / "state"
    daemon = serve([*topics.flags(), *FAST_GROUP, "--state-dir", str(state),
                    "--strategy", "random", "--budget", "0.3"])  # fmt: skip
    annotator = Annotator(topics, answer)
    annotator.start()
    daemon.wait_logged("partitions assigned")
    events = _events()
    topics.send_many(topics.events, events[:300])
    # The second half is scored by a model that has learned the first half's answers.
    topics.read(topics.training, at_least=60, timeout=60)
    topics.send_many(topics.events, events[300:])
    predictions = topics.read_json(topics.predictions, at_least=N_EVENTS)
    training = topics.read_json(topics.training, at_least=60)
    metrics = daemon.metrics()
    annotator.stopping.set()
    assert daemon.stop() == 0

    assert {type(t["y"]) for t in training} == {bool}
    assert all(t["y"] == _truth(events[int(t["id"][1:])]["x"]) for t in training)
    letters = topics.read_json(topics.dead_letter, at_least=1)
    assert letters and {d["reason"] for d in letters} == {"unknown_class"}
    assert all("'maybe' is not a boolean class" in d["detail"] for d in letters)
    queries = topics.read_json(topics.queries)
    assert queries[-1]["classes"] in ([True, False], [False, True])

    snapshot, _ = SnapshotStore(state, snapshot_key(state, {})).newest()
    assert sorted(snapshot.engine.model.classes) == [False, True]
    late = predictions[N_EVENTS // 2 :]
    right = sum(p["y"] == _truth(events[int(p["id"][1:])]["x"]) for p in late)
    assert right / len(late) > 0.85

    # Random queries are a fair sample: the estimate of the deployed accuracy holds the truth.
    hits = [p["y"] == _truth(events[int(p["id"][1:])]["x"]) for p in predictions]
    truth = sum(hits) / len(hits)
    low, estimate, high = (
        metrics[("streamal_deployed_accuracy_ratio", ("bound", bound))]
        for bound in ("low", "estimate", "high")
    )
    assert low <= truth <= high
    assert abs(estimate - truth) < 0.06, (estimate, truth)


def test_the_bandit_tells_each_answer_its_chance_and_the_estimate_holds_the_truth(
    topics, serve, tmp_path: Path
):
    """The default strategy: every query and training record carries the chance it was
    asked, and the estimate built on them holds the accuracy of all the predictions."""
    daemon = serve([*topics.flags(), *FAST_GROUP, "--state-dir", str(tmp_path / "state"),
                    "--budget", "0.3", "--random-share", "0.5"])  # fmt: skip
    annotator = Annotator(topics, lambda query: _truth(query["x"]))
    annotator.start()
    daemon.wait_logged("partitions assigned")
    events = _events(1500)  # ~450 labels: the random share is whole after the first 200
    for start in range(0, len(events), 150):
        # In steps, so that the answers reach the model while the stream goes on.
        topics.send_many(topics.events, events[start : start + 150])
        topics.read(topics.training, at_least=int(0.2 * (start + 150)), timeout=60)
    predictions = topics.read_json(topics.predictions, at_least=len(events))
    queries = topics.read_json(topics.queries, at_least=400)
    training = topics.read_json(topics.training, at_least=len(queries), timeout=60)
    assert len(training) == len(queries)
    metrics = daemon.metrics()
    annotator.stopping.set()
    assert daemon.stop() == 0

    assert all(0.0 < q["probability"] <= 1.0 and q["probability"] == q["score"] for q in queries)
    chance = {q["id"]: q["probability"] for q in queries}
    assert all(t.get("probability", 1.0) == chance[t["id"]] for t in training)
    # Once the ramp is over every event has a chance of at least 0.5 × 0.3, unsure ones more.
    late = [q["probability"] for q in queries[250:]]
    assert min(late) >= 0.15 - 1e-9 and max(late) > 0.3
    hits = [p["y"] == _truth(events[int(p["id"][1:])]["x"]) for p in predictions]
    truth = sum(hits) / len(hits)
    assert truth > 0.8
    low, estimate, high = (
        metrics[("streamal_deployed_accuracy_ratio", ("bound", bound))]
        for bound in ("low", "estimate", "high")
    )
    assert low <= truth <= high
    assert abs(estimate - truth) < 0.06, (estimate, truth)  # three standard errors


def test_the_deployed_accuracy_metric_is_near_the_truth_after_500_labels(topics, serve, tmp_path):
    """The default strategy asks the events its model is least sure of; weighed by the
    chance each query had, the labels give the accuracy on all events, cold start included."""
    events = [
        {"v": 1, "id": f"e{i}", "ts": float(i), "x": {"a": float(a), "b": float(b)}}
        for i, (a, b) in enumerate(np.random.default_rng(8).normal(size=(3000, 2)))
    ]
    daemon = serve([*topics.flags(), *FAST_GROUP, "--state-dir", str(tmp_path / "state"),
                    "--budget", "0.2"])  # fmt: skip
    annotator = Annotator(topics, lambda query: _truth(query["x"]))
    annotator.start()
    daemon.wait_logged("partitions assigned")
    # In stretches, each answered and learned before the next: the model keeps up, as it
    # does when people answer while the stream flows.
    for start in range(0, 3000, 300):
        topics.send_many(topics.events, events[start : start + 300])
        asked = len(topics.read(topics.queries, at_least=1))
        topics.read(topics.training, at_least=asked, timeout=60)
    predictions = topics.read_json(topics.predictions, at_least=3000)
    metrics = daemon.metrics()
    annotator.stopping.set()
    assert daemon.stop() == 0

    labels = metrics[("streamal_labels_total", ("outcome", "applied"))]
    assert labels >= 500
    # The truth over the estimate's window: the last 10,000 events, fading exponentially.
    hits = [
        p["y"] == _truth(events[int(p["id"][1:])]["x"])
        for p in sorted(predictions, key=lambda p: int(p["id"][1:]))
    ]
    fade = (1 - 1e-4) ** np.arange(len(hits) - 1, -1, -1)
    truth = float(fade @ hits / fade.sum())
    estimate = metrics[("streamal_deployed_accuracy_ratio", ("bound", "estimate"))]
    assert abs(estimate - truth) < 0.03, (estimate, truth)
