"""Two daemons in one group split the events, answer their own labels and hold the same model."""

from __future__ import annotations

import random

from streamal.connectors.snapshots import SnapshotStore, snapshot_key
from tests.conftest import FAST_GROUP, Annotator, Topics, wait_for


def test_two_replicas_split_the_partitions_and_learn_the_same_examples(broker, serve, tmp_path):
    topics = Topics(broker.bootstrap_servers, partitions=2)
    topics.create()
    states = [tmp_path / "a", tmp_path / "b"]
    daemons = [
        serve([*topics.flags(), *FAST_GROUP, "--state-dir", str(state), "--budget", "0.2"])
        for state in states
    ]
    for daemon in daemons:
        wait_for(lambda d=daemon: d.logged(f"assigned: {topics.events}["), 40, "an assignment")
    # Both in the group: each holds one events partition and the labels partition beside it.
    wait_for(
        lambda: all(d.logged(f"{topics.labels}[") and d.logged("assigned: ") for d in daemons),
        40,
        "both daemons assigned",
    )
    annotator = Annotator(topics)
    annotator.start()
    rng = random.Random(5)
    n = 600
    events = [
        {"v": 1, "id": f"e{i}", "ts": float(i), "x": {"a": rng.gauss(0, 1), "b": rng.gauss(0, 1)}}
        for i in range(n)
    ]
    topics.send_many(topics.events, events)

    predicted = [p["id"] for p in topics.read_json(topics.predictions, at_least=n, timeout=60)]
    assert sorted(predicted) == sorted(e["id"] for e in events)
    queried = {q["id"] for q in topics.read_json(topics.queries)}
    wait_for(lambda: annotator.answered == queried, 30, "every query answered")
    wait_for(
        lambda: {t["id"] for t in topics.read_json(topics.training)} == queried,
        30,
        "every label in the training log",
    )
    letters = topics.read_json(topics.dead_letter)
    assert [d for d in letters if d["reason"] == "unknown"] == []
    scored = [d.metrics()[("streamal_events_total",)] for d in daemons]
    assert sum(scored) == n
    assert min(scored) > 0.2 * n  # keyed by id, the events split about evenly
    annotator.stopping.set()
    for daemon in daemons:
        assert daemon.stop() == 0

    models = []
    for state in states:
        snapshot, _ = SnapshotStore(state, snapshot_key(state, {})).newest()
        models.append(snapshot.engine.model)
        assert snapshot.engine.model.version == len(queried)
    # Same examples in the same order: the replicas answer alike.
    probe = [{"a": rng.gauss(0, 1), "b": rng.gauss(0, 1)} for _ in range(200)]
    first, second = (m.predict_proba(probe) for m in models)
    assert models[0].classes == models[1].classes
    assert (first == second).all()
    topics.close()
