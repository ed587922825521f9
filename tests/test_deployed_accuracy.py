"""The deployed-accuracy estimate, on hand-worked cases."""

from __future__ import annotations

import numpy as np
from pytest import approx

from streamal.deployed_accuracy import DeployedAccuracy


def test_without_labels_it_is_the_model_own_claim():
    estimator = DeployedAccuracy(window=10**9)
    estimator.see(np.array([0.95, 0.95, 0.55, 0.55]), np.zeros(4, dtype=bool))
    assert estimator.estimate().value == approx(0.75)  # the mean confidence
    assert estimator.estimate().labels == 0


def test_a_burst_of_early_labels_does_not_outvote_the_quiet_stretch():
    estimator = DeployedAccuracy(window=10**9, prior=1e-9, pace=100)
    # A cold start: 100 events, all asked, the model right on 40.
    estimator.see(np.full(100, 0.55), np.ones(100, dtype=bool))
    for right in [True] * 40 + [False] * 60:
        estimator.label(0.55, right)
    # Then 900 events, one in ten asked, the model right on 9 of 10 of those.
    for _ in range(9):
        estimator.see(np.full(100, 0.55), np.arange(100) < 10)
        for right in [True] * 9 + [False]:
            estimator.label(0.55, right)
    # Unweighted, the labels say 121 right of 190 (64 %); the events say 40 + 810 of 1000.
    assert estimator.estimate().labels == approx(190)
    assert estimator.estimate().value == approx(0.85, abs=0.03)


def test_a_prediction_made_before_any_class_is_left_out():
    estimator = DeployedAccuracy()
    estimator.see(np.zeros(3), np.ones(3, dtype=bool))
    estimator.label(None, False)
    assert estimator.estimate().labels == 0
    assert estimator.estimate().value == 0.0  # no class named: every such prediction is wrong
