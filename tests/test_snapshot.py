import pickle

import numpy as np
import pytest

from streamal.decider import Decider
from streamal.decider import layout as L
from streamal.engine import Engine, Event, Label
from streamal.settings import EngineSettings, build_engine, configure_engine
from streamal.snapshot import Snapshot, SnapshotError, dump_snapshot, load_snapshot
from streamal.training import TrainingFold

KEY = b"k" * 32


def _busy_fold() -> TrainingFold:
    fold = TrainingFold(Engine("naive_bayes.GaussianNB()", Decider("variable_uncertainty", 0.5)))
    rng = np.random.default_rng(1)
    events = [Event(str(i), {"a": float(rng.normal())}, float(i)) for i in range(50)]
    out = fold.engine.process(events)
    joined = fold.engine.join([Label(q.id, q.x["a"] > 0, 60.0) for q in out.queries[:5]])
    fold.apply(joined.examples)
    return fold


def test_restored_engine_makes_the_same_decisions():
    fold = _busy_fold()
    restored = load_snapshot(dump_snapshot(Snapshot(fold, {"t": {0: 50}}), KEY), KEY)
    assert len(restored.engine.pending) == len(fold.engine.pending)
    assert restored.engine.model.version == fold.engine.model.version == 5
    more = [Event(f"n{i}", {"a": i / 10}, 100.0 + i) for i in range(40)]
    first = [q.id for q in fold.engine.process(more).queries]
    second = [q.id for q in restored.engine.process(more).queries]
    assert first == second
    assert len(first) > 0


def test_any_flipped_byte_is_refused():
    data = bytearray(dump_snapshot(Snapshot(_busy_fold()), KEY))
    for position in (20, len(data) // 2, len(data) - 1):
        corrupt = bytearray(data)
        corrupt[position] ^= 0x01
        with pytest.raises(SnapshotError):
            load_snapshot(bytes(corrupt), KEY)


def test_a_pickle_not_written_by_the_daemon_is_never_unpickled():
    class Boom:
        def __reduce__(self):
            return (pytest.fail, ("unpickled an unsigned snapshot",))

    with pytest.raises(SnapshotError, match="bad header"):
        load_snapshot(pickle.dumps(Boom()), KEY)


def test_truncated_and_empty_files_are_refused():
    data = dump_snapshot(Snapshot(_busy_fold()), KEY)
    with pytest.raises(SnapshotError, match="truncated"):
        load_snapshot(data[: len(data) // 2], KEY)
    with pytest.raises(SnapshotError, match="bad header"):
        load_snapshot(b"", KEY)


def test_pending_queries_pickled_before_their_newer_fields_take_the_defaults():
    from streamal.pending import PendingQuery

    # The pickled state of a query from before `confidence` and `number` existed.
    old = PendingQuery.__new__(PendingQuery)
    old.__setstate__(["e1", {"a": 1.0}, 3.0, True, 0.7])
    assert (old.id, old.y_pred, old.score, old.confidence, old.number) == (
        "e1",
        True,
        0.7,
        None,
        -1,
    )
    new = PendingQuery("e2", {}, 4.0, False, 0.5, 0.9, 12)
    assert pickle.loads(pickle.dumps(new)) == new
    # A label for it still joins (and a bandit decider ignores the unknown number).
    engine = Engine("naive_bayes.GaussianNB()", Decider("bandit", 0.5))
    engine.pending.add(old)
    joined = engine.join([Label("e1", False, 9.0)])
    assert [e.y for e in joined.examples] == [False] and not joined.rejected


def test_a_snapshot_from_before_the_decided_offsets_loads_with_none():
    snapshot = Snapshot(_busy_fold(), {"t": {0: 50}}, {"events": 1}, {0: 7}, 12.5, {0: 50})
    older = Snapshot.__new__(Snapshot)
    older.__setstate__(snapshot.__getstate__()[:5])
    restored = load_snapshot(dump_snapshot(older, KEY), KEY)
    assert restored.decided == restored.delivered == {}
    assert (restored.offsets, restored.queries_written, restored.written_at) == (
        {"t": {0: 50}},
        {0: 7},
        12.5,
    )
    assert load_snapshot(dump_snapshot(snapshot, KEY), KEY).decided == {0: 50}
    assert restored.deployed.estimate() is None  # before the estimate was kept: a fresh one


def test_the_deployed_accuracy_estimate_survives_a_restart():
    snapshot = Snapshot(_busy_fold())
    snapshot.deployed.see(np.full(100, 0.9))
    for right in [True] * 8 + [False] * 2:
        snapshot.deployed.label(0.9, right, probability=0.1)
    restored = load_snapshot(dump_snapshot(snapshot, KEY), KEY)
    assert restored.deployed.estimate() == snapshot.deployed.estimate()
    assert restored.deployed.estimate().labels == 10


def _bandit_engine(share: float) -> Engine:
    engine = build_engine(EngineSettings("naive_bayes.GaussianNB()", random_share=share))
    a = np.random.default_rng(2).normal(size=400)
    out = engine.process([Event(str(i), {"a": float(a[i])}, float(i)) for i in range(400)])
    engine.answer([Label(q.id, q.x["a"] > 0, 500.0) for q in out.queries])
    return engine


def test_a_new_random_share_keeps_what_the_bandit_learned():
    engine = _bandit_engine(0.2)
    learned = engine.decider.state.copy()
    configure_engine(engine, EngineSettings("naive_bayes.GaussianNB()", random_share=0.5))
    assert engine.decider.params[L.BANDIT_RANDOM_SHARE] == 0.5
    assert (engine.decider.state == learned).all()
    # Another budget is another decider: it starts over.
    configure_engine(engine, EngineSettings("naive_bayes.GaussianNB()", budget=0.2))
    assert engine.decider.labels_spent == 0


def test_a_bandit_pickled_before_the_random_share_continues_with_it():
    engine = _bandit_engine(0.2)
    # Before the random share its parameters ended one slot earlier.
    engine.decider.params = engine.decider.params[: L.BANDIT_RANDOM_SHARE]
    restored = pickle.loads(pickle.dumps(engine))
    spent = restored.decider.labels_spent
    configure_engine(restored, EngineSettings("naive_bayes.GaussianNB()"))
    assert len(restored.decider.params) == L.N_PARAMS
    assert restored.decider.params[L.BANDIT_RANDOM_SHARE] == 0.2
    assert restored.decider.labels_spent == spent > 0


def test_a_decider_pickled_with_less_state_for_its_rule_starts_over():
    """``random`` kept no state of its own before its stratified draw: its kernel now keeps the
    next query's event past the shared state, which an old decider's array does not have."""
    settings = EngineSettings("naive_bayes.GaussianNB()", "random", 0.1)
    engine = build_engine(settings)
    engine.process([Event(f"e{i}", {"x": float(i)}, ts=float(i)) for i in range(50)])
    assert engine.decider.labels_spent == 5
    engine.decider.state = engine.decider.state[: int(engine.decider.params[L.REGION])].copy()
    restored = pickle.loads(pickle.dumps(engine))
    configure_engine(restored, settings)
    assert restored.decider.state.shape == build_engine(settings).decider.state.shape
    assert restored.decider.labels_spent == 0  # a fresh decider, not the old one read past its end
