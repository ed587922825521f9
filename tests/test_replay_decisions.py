"""Replay's decisions pinned for a seed: speed-ups of the replay path must not change them.

The expected values were produced by the replay of commit adb09e0 (before the
replay-speed work): every query, the accuracy, the labels and the last deployed-accuracy
estimate, for the one-by-one (batch 1, 16) and frame (600) prediction paths, a per-event
model, and simulated annotators with aggregation and a label delay. The aggregated run's
were made again when the label budget came to count answers (299 for 3,000 events at 10 %,
where it had asked 653: two answers to each of 10 % of the events, and the re-asks).
The bandit runs' estimates were made again when answers' weights came to be trimmed at
twice the events per answer (the decisions did not change), and the logistic regression's
runs when a binary classifier came to name no class before its first label (river's says
False at 50 %, which counted as right on half the events before it: the 600-row batch's
first 600 events). The aggregated run's were made again when the picks an answer budget
vetoes came to be refunded to the decider (it asks other events instead), and the bandit
runs' when the labels it owes its budget came to raise its rules' chances (298 labels of
300 before, 300 after).
"""

from __future__ import annotations

import hashlib
import itertools

import pytest
from river.datasets import synth

from streamal.replay import LabelDelay, ReplaySetup, Row, SimulatedAnnotator, replay
from streamal.settings import EngineSettings

MINI_BATCH = "preprocessing.StandardScaler() | linear_model.LogisticRegression()"
TREE = "tree.HoeffdingAdaptiveTreeClassifier(seed=42)"
ANNOTATORS = (SimulatedAnnotator("a", 0.9), SimulatedAnnotator("b", 0.7, 0.5))


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    data = synth.Hyperplane(seed=7, n_features=6, n_drift_features=3, mag_change=0.001)
    return [
        Row(id=str(i), x={f"x{k}": v for k, v in x.items()}, ts=i / 2, y=y)
        for i, (x, y) in enumerate(itertools.islice(data, 3000))
    ]


@pytest.mark.parametrize(
    ("spec", "strategy", "batch", "aggregate", "correct", "labels", "digest", "estimate"),
    [
        (MINI_BATCH, "bandit", 16, False, 2623, 300, "d2b1ada5e6f92ca0", 0.858277),
        (MINI_BATCH, "entropy", 16, False, 2635, 321, "9846f1fbebd8ac8d", 0.838084),
        (MINI_BATCH, "variable_uncertainty", 1, False, 2654, 319, "d103c8379cdffc24", 0.775458),
        (MINI_BATCH, "bandit", 600, False, 2124, 300, "85c3a7874ee8ebd2", 0.709823),
        (TREE, "bandit", 16, False, 2557, 300, "8ab2dc3a9a66c4dc", 0.856215),
        (MINI_BATCH, "split", 16, True, 2471, 299, "a5e27c1651328000", 0.692327),
    ],
)
def test_replay_decides_as_before(
    rows, spec, strategy, batch, aggregate, correct, labels, digest, estimate
):
    extra = {"annotators": ANNOTATORS, "aggregate": True, "delay": LabelDelay(20)}
    settings = EngineSettings(spec, strategy, 0.1, seed=5, labels_per_query=2 if aggregate else 1)
    setup = ReplaySetup(settings, batch_size=batch, **(extra if aggregate else {}))
    result = replay(rows, setup)
    assert round(result.accuracy * len(rows)) == correct
    assert result.labels == labels
    # Every queried id, in order: one changed decision changes the digest.
    assert hashlib.sha256(",".join(result.queried).encode()).hexdigest()[:16] == digest
    assert result.estimates[-1][2] == pytest.approx(estimate, abs=1e-6)
