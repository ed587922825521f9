"""Drift-aware spending: ADWIN on the labeled error stream restarts the thresholds."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from river import drift

from streamal.decider import Decider
from streamal.decider import layout as L
from streamal.engine import Engine, Event, Label

ERRORS = np.r_[np.zeros(300), np.ones(300)]  # the model goes from always right to always wrong


def rows(*confidences: float) -> np.ndarray:
    return np.array([[c, 1.0 - c] for c in confidences])


def test_reserve_worked_example():
    # b = 0.1, w = 10, every event wanted. Outside a burst drift-aware spending keeps the hard
    # cap, q <= b n: t=1: 0 <= 0.1, query. t=3: the estimated budget allows (u/w = 0.081) but
    # 1 <= 0.3 fails; t=10: u/w = 0.9⁹/10 = 0.039 and 1 <= 1.0: query. (Uncapped: 1, 3, 10.)
    decider = Decider("variable_uncertainty", 0.1, window=10, drift_aware=True)
    queried, _ = decider.decide(rows(*[0.5] * 10))
    assert (np.flatnonzero(queried) + 1).tolist() == [1, 10]
    assert decider.name == "variable_uncertainty/estimated+drift/least_confidence"


def test_detections_are_adwins():
    decider = Decider("split", 0.1, drift_aware=True, drift_delta=0.01)
    reference = drift.ADWIN(delta=0.01)
    expected = 0
    for e in ERRORS:
        reference.update(e)
        expected += reference.drift_detected
    assert decider.observe_errors(ERRORS) == expected == decider.drifts >= 1


def test_a_drift_restarts_thresholds_and_the_spending_estimate():
    decider = Decider("variable_uncertainty", 0.1, drift_aware=True, biqf_window=10)
    twin = Decider("variable_uncertainty", 0.1, drift_aware=True, biqf_window=10)
    for d in (decider, twin):
        d.decide(np.random.default_rng(0).dirichlet([1, 1], size=2000))
    assert decider.threshold != 1.0 and decider.state[L.ESTIMATE] > 5
    decider.observe_errors(ERRORS)
    assert decider.state[L.BURST_UNTIL] == 2000 + 100  # the next w events
    assert decider.threshold == 1.0 and decider.state[L.ESTIMATE] == 0.0
    # For the next w events the cap lends one window of labels and the spending estimate
    # starts afresh: a run of confident events is asked until u/w reaches b.
    queried, _ = decider.decide(rows(*[0.9] * 20))
    assert queried[:3].all()
    assert queried.sum() > twin.decide(rows(*[0.9] * 20))[0].sum()
    assert decider.labels_spent <= 0.1 * (decider.events_seen + 100)


def test_quantile_filter_window_restarts_on_drift():
    decider = Decider("quantile_uncertainty", 0.1, drift_aware=True, biqf_window=10)
    decider.decide(np.random.default_rng(1).dirichlet([1, 1], size=50))
    assert decider.state[L.WINDOW_COUNT] == 10
    decider.observe_errors(ERRORS)
    assert decider.state[L.WINDOW_COUNT] == 0 and decider.state[L.WINDOW_HEAD] == 0
    decider.decide(rows(0.6, 0.7))
    assert decider.state[L.WINDOW_COUNT] == 2  # refills with the new utilities only


def test_long_run_fraction_holds_under_repeated_drifts():
    rng = np.random.default_rng(2)
    decider = Decider("variable_uncertainty", 0.05, drift_aware=True)
    for chunk in range(40):
        decider.decide(rng.dirichlet([1, 1], size=500))
        decider.observe_errors(ERRORS if chunk % 2 else ERRORS[::-1])
    assert decider.drifts >= 20
    assert decider.labels_spent <= 0.05 * (decider.events_seen + 100)
    assert decider.spent_fraction >= 0.045


def test_not_drift_aware_ignores_errors():
    decider = Decider("split", 0.1)
    assert decider.observe_errors(ERRORS) == 0 and decider.drifts == 0
    assert not decider.drift_aware and decider.detector is None


def test_detector_travels_in_the_state_dict():
    a = Decider("split", 0.1, drift_aware=True)
    a.observe_errors(ERRORS[:250])
    saved = a.state_dict()
    b = Decider("split", 0.1, drift_aware=True)
    b.load_state_dict(saved)
    pickled = pickle.loads(pickle.dumps(a))
    assert a.observe_errors(ERRORS[250:]) == b.observe_errors(ERRORS[250:]) >= 1
    assert pickled.observe_errors(ERRORS[250:]) == a.drifts
    with pytest.raises(ValueError, match="does not fit"):
        Decider("split", 0.1).load_state_dict(saved)


def test_engine_feeds_the_error_stream():
    engine = Engine("naive_bayes.GaussianNB()", Decider("split", 0.5, drift_aware=True))
    for t in range(0, 1200, 50):
        out = engine.process(
            [Event(str(i), {"x": float(i % 2)}, float(i)) for i in range(t, t + 50)]
        )
        # The concept flips at 600: the label of x = 0 was "a", becomes "b".
        labels = [
            Label(
                q.id,
                ("a" if q.x["x"] == 0 else "b")
                if int(q.id) < 600
                else ("b" if q.x["x"] == 0 else "a"),
                ts=float(t + 50),
            )
            for q in out.queries
        ]
        engine.answer(labels)
    assert engine.decider.drifts >= 1
