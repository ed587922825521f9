"""The engine feeds feature rows (and labels) to the deciders that need them."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from streamal.decider import Decider
from streamal.decider import layout as L
from streamal.decider.measures import VOTE_ENTROPY, disagreement
from streamal.engine import Engine, Event, Label
from streamal.features import FeatureEncoder


def events(xs: list[dict], start: int = 0) -> list[Event]:
    return [Event(str(start + i), x, ts=float(start + i)) for i, x in enumerate(xs)]


def test_threshold_rules_get_no_encoder():
    assert Engine("naive_bayes.GaussianNB()", Decider("split")).features is None


def test_engine_encodes_events_for_a_density_rule():
    rng = np.random.default_rng(0)
    crowd = [{"a": float(v), "b": float(w), "kind": "x"} for v, w in rng.normal(size=(200, 2))]
    decider = Decider("dbal", 0.5, n_features=6, hard_cap=True, seed=1)
    engine = Engine("naive_bayes.GaussianNB()", decider)
    out = engine.process(events(crowd))
    assert engine.features.columns == ["a", "b"] and engine.features.width == 6
    # An untrained model is unsure of everything: dense events are asked, within the cap.
    assert 0 < out.queried.sum() <= 0.5 * 200 + 1
    # A far outlier is sparse: never asked however unsure the model is.
    far = engine.process(events([{"a": 1e3, "b": -1e3, "kind": "y"}], start=200))
    assert far.queried.tolist() == [False]


def test_engine_with_features_is_deterministic_across_batch_sizes():
    values = np.random.default_rng(1).random(300)
    xs = [{"a": float(v), "s": "uv"[i % 2]} for i, v in enumerate(values)]
    whole = Engine("naive_bayes.GaussianNB()", Decider("dbal", 0.2, n_features=4, seed=3))
    parts = Engine("naive_bayes.GaussianNB()", Decider("dbal", 0.2, n_features=4, seed=3))
    a = whole.process(events(xs)).queried
    b = np.concatenate([parts.process(events(xs[i : i + 7], i)).queried for i in range(0, 300, 7)])
    assert (a == b).all() and a.any()


def test_encoder_standardises_online_and_hashes_strings():
    encoder = FeatureEncoder(width=3, buckets=1)
    m = encoder.transform([{"v": 0.0}, {"v": 2.0}, {"v": 4.0, "w": 1.0, "s": "z"}, {"s": 5}])
    # v: after 2 rows mean 1, sd 1 → (2 - 1) / 1; after 3 rows mean 2, sd √(8/3) → 2 / 1.633.
    assert m[:, 0] == pytest.approx([0.0, 1.0, 2 / np.sqrt(8 / 3), 0.0])
    assert m[:, 2].tolist() == [0.0, 0.0, 1.0, 0.0]  # one bucket: every string lands in it
    assert encoder.columns == ["v", "w"] and encoder.ignored == 1  # s=5 found no column
    assert m[3, 1] == 0.0  # a missing number is written as the mean
    before = encoder.transform([{"v": 100.0}], update=False)
    assert encoder.transform([{"v": 100.0}], update=False).tolist() == before.tolist()


def test_engine_tells_a_learning_decider_the_labels():
    engine = Engine("naive_bayes.GaussianNB()", Decider("pal", 0.3, n_features=3, seed=0))
    xs = [{"a": float(v)} for v in np.random.default_rng(2).normal(size=200)]
    out = engine.process(events(xs))
    labels = [Label(q.id, "neg" if q.x["a"] < 0 else "pos", ts=500.0) for q in out.queries]
    joined = engine.answer(labels)
    assert len(joined.examples) == len(out.queries) > 0
    region = engine.decider.state[int(engine.decider.params[L.REGION]) :]
    assert region[0] == len(out.queries)  # every labeled event is in PAL's window
    # after the count, the head, the derived width and w feature rows of width 3
    classes_start = 3 + int(engine.decider.params[L.OWN_WINDOW]) * 3
    window_classes = region[classes_start : classes_start + len(out.queries)]
    expected = [engine.model.classes.index(label.label) for label in labels]
    assert window_classes.tolist() == expected
    # Encoding labeled events again does not move the standardisation statistics.
    assert engine.features._count[0] == 200


def test_engine_gives_the_committee_to_qbc():
    spec = "ensemble.BaggingClassifier(naive_bayes.GaussianNB(), n_models=4, seed=1)"
    engine = Engine(spec, Decider("qbc", 0.3, seed=0))
    rng = np.random.default_rng(4)
    xs = [{"a": float(v)} for v in rng.normal(size=300)]
    first = engine.process(events(xs[:100]))
    assert first.queried.any()  # an untrained committee has no opinion: all uncertain
    labels = [Label(q.id, q.x["a"] > 0, ts=1e3) for q in first.queries]
    engine.answer(labels)
    later = engine.process(events(xs[100:], start=100))
    committee = engine.model.committee_proba([xs[i] for i in range(100, 300)])
    assert committee.shape == (200, 4, 2)
    expected = [disagreement(VOTE_ENTROPY, members) for members in committee]
    scores = [q.score for q in later.queries]
    queried_ids = [int(q.id) - 100 for q in later.queries]
    assert scores == pytest.approx([expected[i] for i in queried_ids])


def test_qbc_without_an_ensemble_is_refused():
    with pytest.raises(ValueError, match="needs a committee"):
        Engine("naive_bayes.GaussianNB()", Decider("qbc"))


@pytest.mark.parametrize(
    ("strategy", "options"),
    [("dbal", {}), ("cogdqs", {"drift_aware": True}), ("pal", {"pending_events": 20})],
)
def test_a_pickled_engine_continues_identically(strategy, options):
    # The daemon's snapshot is a pickle: encoder statistics, windows and detector come along.
    rng = np.random.default_rng(6)
    xs = [
        {"a": float(a), "b": float(b), "c": "pq"[i % 2]}
        for i, (a, b) in enumerate(rng.normal(size=(400, 2)))
    ]

    def label(q) -> Label:
        return Label(q.id, q.x["a"] + q.x["b"] > 0, ts=1e4)

    engine = Engine(
        "tree.HoeffdingTreeClassifier()", Decider(strategy, 0.2, n_features=5, **options)
    )
    for start in range(0, 200, 25):
        engine.answer(
            [label(q) for q in engine.process(events(xs[start : start + 25], start)).queries]
        )
    copy = pickle.loads(pickle.dumps(engine))
    for e in (engine, copy):
        e.answer([label(q) for q in e.process(events(xs[200:300], 200)).queries])
    a = engine.process(events(xs[300:], 300)).queried
    b = copy.process(events(xs[300:], 300)).queried
    assert (a == b).all() and a.any()
