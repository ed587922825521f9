"""``streamal serve`` in annotator-aware mode, on the embedded broker."""

from __future__ import annotations

from pytest import approx

from streamal.connectors.snapshots import SnapshotStore, snapshot_key
from tests.conftest import FAST_GROUP, wait_for


def _value(metrics: dict, name: str, **labels: str) -> float | None:
    return metrics.get((name, *sorted(labels.items())))


def test_three_answers_for_one_id_train_the_model_once_with_their_vote(topics, serve, tmp_path):
    state = tmp_path / "state"
    daemon = serve(
        [
            *topics.flags(), *FAST_GROUP, "--state-dir", str(state),
            "--strategy", "random", "--budget", "1",
            "--label-wait", "1000", "--labels-per-query", "3", "--annotator-metrics", "2",
            "--second-label-confidence", "0.5",
        ]
    )  # fmt: skip
    daemon.wait_logged("partitions assigned")
    events = [{"v": 1, "id": f"e{i}", "ts": float(i), "x": {"a": float(i)}} for i in range(30)]
    topics.send_many(topics.events, events)
    # Three answers a query within one answer an event: a third of the events, at most.
    asked = [q["id"] for q in topics.read_json(topics.queries, at_least=1)]
    assert 1 <= len(asked) <= 10, asked
    first = asked[0]
    answers = [("alice", "pos", 1.0), ("bob", "neg", 0.5), ("carol", "neg", None)]
    for annotator, label, cost in answers:
        record = {"v": 1, "id": first, "label": label, "annotator": annotator, "ts": 1.0}
        topics.send(topics.labels, record | ({"cost": cost} if cost is not None else {}), first)
    late = topics.send(topics.labels, {"v": 1, "id": first, "label": "pos", "annotator": "dave"})

    [example] = topics.read_json(topics.training, at_least=1)
    # Three newcomers weigh the same: two "neg" beat one "pos".
    assert (example["id"], example["y"], example["annotator"]) == (first, "neg", "bob")
    assert [(a["annotator"], a["label"]) for a in example["answers"]] == [
        ("alice", "pos"),
        ("bob", "neg"),
        ("carol", "neg"),
    ]
    letters = topics.read_json(topics.dead_letter, at_least=1)
    assert [(d["reason"], d["offset"]) for d in letters] == [("duplicate", late)]

    def settled():
        metrics = daemon.metrics()
        reliability = _value(metrics, "streamal_annotator_reliability", annotator="alice")
        return metrics if reliability is not None and reliability < 2 / 3 else None

    metrics = wait_for(settled, 20, "the reliability estimates from the learned example")
    assert _value(metrics, "streamal_labels_total", outcome="applied") == 3
    assert _value(metrics, "streamal_labels_total", outcome="duplicate") == 1
    # At most two names: alice and bob, then "other".
    assert _value(metrics, "streamal_annotator_labels_total", annotator="alice") == 1
    assert _value(metrics, "streamal_annotator_labels_total", annotator="bob") == 1
    assert _value(metrics, "streamal_annotator_labels_total", annotator="other") == 1
    assert _value(metrics, "streamal_annotator_labels_total", annotator="carol") is None
    assert _value(metrics, "streamal_label_cost_total") == 2.5  # 1 + 0.5 + 1 (no cost)
    # Three newcomers (r = 2/3), no trusted model: π(neg) ∝ 2/3 · 2/3 · 1/3 = 4/27 and
    # π(pos) ∝ 1/3 · 1/3 · 2/3 = 2/27, so π(neg) = 2/3 (not asked again: ≥ 0.5).
    # alice's other evidence: bob and carol against her, a = 1/5, z = log(1/4); her r solves
    # r = (2 + σ(logit r − log 4)) / 4: 0.560. bob's and carol's others tie: no change, 2/3.
    alice = _value(metrics, "streamal_annotator_reliability", annotator="alice")
    assert alice == approx(0.560, abs=0.002)
    assert _value(metrics, "streamal_annotator_reliability", annotator="bob") == approx(2 / 3)

    assert daemon.stop() == 0
    snapshot, _ = SnapshotStore(state, snapshot_key(state, {})).newest()
    assert snapshot.engine.model.version == 1
    counts = snapshot.engine.annotators.counts
    assert counts == {
        "alice": approx([4 * alice, 4 * (1 - alice)]),
        "bob": approx([8 / 3, 4 / 3]),
        "carol": approx([8 / 3, 4 / 3]),
    }
