"""scikit-activeml's stream strategies deciding for streamal's river model, prequentially.

The benchmark's own environment (``make bench-quality``) installs
scikit-activeml; streamal does not depend on it. :class:`RiverClassifier`
presents a :class:`streamal.model.Model` as a ``SkactivemlClassifier``: the
strategies see each event as a fixed-order numeric vector, the river model
sees it as the same feature dict that streamal's replay gives it.

:func:`run` follows the protocol of :func:`streamal.replay.replay` with no
label delay, and of scikit-activeml's stream examples: predict each event
(and score the prediction), ask the strategy, learn a queried label at once,
and ``update`` the strategy with the event and whether it was queried.

Until the model learns a label its predictions cannot change, so the
strategy is asked about a chunk of events at a time: the events up to the
first one it queries are exactly those it would have seen one by one, with
the same model, and only they are passed to ``update``. For strategies whose
budget manager draws the same random numbers in ``query`` as in ``update``
the decisions are those of one-by-one calls (:data:`EXACT_IN_CHUNKS`). The
density-based strategies are asked about one event at a time
(:data:`PER_EVENT`). Every strategy is updated one event at a time.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Hashable, Sequence

import numpy as np
from river import metrics
from skactiveml.base import SingleAnnotatorStreamQueryStrategy, SkactivemlClassifier
from skactiveml.stream import (
    CognitiveDualQueryStrategyFixUn,
    CognitiveDualQueryStrategyRan,
    CognitiveDualQueryStrategyRanVarUn,
    CognitiveDualQueryStrategyVarUn,
    FixedUncertainty,
    PeriodicSampling,
    RandomVariableUncertainty,
    Split,
    StreamDensityBasedAL,
    StreamProbabilisticAL,
    StreamRandomSampling,
    VariableUncertainty,
)

from streamal.model import DEFAULT_MODEL, Model

__all__ = [
    "EXACT_IN_CHUNKS",
    "PAL_WINDOW",
    "PER_EVENT",
    "STRATEGIES",
    "RiverClassifier",
    "euclidean",
    "feature_matrix",
    "run",
]

#: Labels the river model has not seen are encoded as this class index.
MISSING = -1

#: Labeled events in the window that StreamProbabilisticAL's Parzen density estimate sees.
PAL_WINDOW = 300


def euclidean(window: Sequence[np.ndarray], candidates: Sequence[np.ndarray]) -> np.ndarray:
    """Euclidean distances, window rows × candidates: the density strategies' metric.

    scikit-learn's ``pairwise_distances`` (their default ``dist_func``) validates its
    inputs on every call, several times the cost of the distances for one candidate.

    >>> euclidean([np.array([0.0, 0.0]), np.array([3.0, 4.0])], [np.array([0.0, 0.0])])
    array([[0.],
           [5.]])
    """
    a, b = np.asarray(window, dtype=np.float64), np.asarray(candidates, dtype=np.float64)
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))


Factory = Callable[[float, int, list[int]], SingleAnnotatorStreamQueryStrategy]

#: ``skal:`` name → factory(budget, seed, class indices), each with the package's defaults.
#: CognitiveDualQueryStrategy itself is left out: its default budget manager makes it
#: CognitiveDualQueryStrategyRanVarUn.
STRATEGIES: dict[str, Factory] = {
    "StreamRandomSampling": lambda b, s, c: StreamRandomSampling(budget=b, random_state=s),
    "PeriodicSampling": lambda b, s, c: PeriodicSampling(budget=b, random_state=s),
    "FixedUncertainty": lambda b, s, c: FixedUncertainty(classes=c, budget=b, random_state=s),
    "VariableUncertainty": lambda b, s, c: VariableUncertainty(budget=b, random_state=s),
    "RandomVariableUncertainty": lambda b, s, c: RandomVariableUncertainty(
        budget=b, random_state=s
    ),
    "Split": lambda b, s, c: Split(budget=b, random_state=s),
    # A river model has no predict_freq: PAL estimates the density of labels around a
    # candidate with its own Parzen window over the labeled data (its docs' metric="rbf").
    "StreamProbabilisticAL": lambda b, s, c: StreamProbabilisticAL(
        metric="rbf", budget=b, random_state=s
    ),
    "StreamDensityBasedAL": lambda b, s, c: StreamDensityBasedAL(
        dist_func=euclidean, budget=b, random_state=s
    ),
    "CognitiveDualQueryStrategyRan": lambda b, s, c: CognitiveDualQueryStrategyRan(
        budget=b, random_state=s
    ),
    "CognitiveDualQueryStrategyFixUn": lambda b, s, c: CognitiveDualQueryStrategyFixUn(
        classes=c, dist_func=euclidean, budget=b, random_state=s
    ),
    "CognitiveDualQueryStrategyVarUn": lambda b, s, c: CognitiveDualQueryStrategyVarUn(
        budget=b, random_state=s
    ),
    "CognitiveDualQueryStrategyRanVarUn": lambda b, s, c: CognitiveDualQueryStrategyRanVarUn(
        budget=b, random_state=s
    ),
}

#: Strategies asked about one event at a time. Their query runs the budget manager on each
#: dense candidate separately, from the state of the last update, so a later candidate of a
#: chunk would not see the earlier ones counted.
PER_EVENT = frozenset(
    {
        "StreamDensityBasedAL",
        "CognitiveDualQueryStrategyRan",
        "CognitiveDualQueryStrategyFixUn",
        "CognitiveDualQueryStrategyVarUn",
        "CognitiveDualQueryStrategyRanVarUn",
    }
)

#: Chunked strategies whose decisions equal one-by-one decisions for the same seed. The
#: randomised-threshold manager of RandomVariableUncertainty draws a normal per candidate in
#: ``query`` but a uniform in ``update``, so in a chunk it sees other (equally distributed)
#: random thresholds.
EXACT_IN_CHUNKS = frozenset(STRATEGIES) - PER_EVENT - {"RandomVariableUncertainty"}


def feature_matrix(xs: Sequence[dict]) -> tuple[list[str], np.ndarray]:
    """The feature names in first-seen order and one numeric row per event.

    >>> names, X = feature_matrix([{"b": 1, "a": 2.5}, {"a": 0.0, "b": 3}])
    >>> names, X.tolist()
    (['b', 'a'], [[1.0, 2.5], [3.0, 0.0]])
    """
    names = list(dict.fromkeys(k for x in xs for k in x))
    return names, np.array([[float(x[k]) for k in names] for x in xs], dtype=np.float64)


class RiverClassifier(SkactivemlClassifier):
    """A river classifier, built from a streamal model spec, as a scikit-activeml classifier.

    Labels are class indices into ``labels`` (``-1`` = unlabeled), so every
    label type works with scikit-activeml's numeric ``missing_label``; the
    river model learns the original labels and sees each row of ``X`` as the
    feature dict ``{name: value}`` again.

    Parameters
    ----------
    spec
        A model spec for :class:`streamal.model.Model`.
    feature_names
        The names of the columns of ``X``.
    labels
        Every label of the stream; class ``i`` is ``labels[i]``.
    random_state
        Only for scikit-activeml's tie-breaking in :meth:`predict`.

    Examples
    --------

    >>> clf = RiverClassifier("naive_bayes.GaussianNB()", ["a"], ["low", "high"])
    >>> clf.predict_proba(np.array([[1.0]])).tolist()  # nothing learned yet: uniform
    [[0.5, 0.5]]
    >>> X, y = np.array([[1.0], [3.0], [2.0], [1.2], [3.3]]), np.array([0, 1, -1, 0, 1])
    >>> clf = clf.partial_fit(X, y)  # the unlabeled row (-1) is skipped
    >>> clf.predict(np.array([[1.1], [2.9]])).tolist()
    [0, 1]

    """

    def __init__(
        self,
        spec: str = DEFAULT_MODEL,
        feature_names: Sequence[str] = (),
        labels: Sequence[Hashable] = (),
        random_state: int | None = None,
    ) -> None:
        super().__init__(
            classes=np.arange(len(labels)), missing_label=MISSING, random_state=random_state
        )
        self.spec = spec
        self.feature_names = feature_names
        self.labels = labels
        self._model = Model(spec)
        # The strategies predict the candidates the driver has just predicted to score
        # them, with the same model: the last answer is kept until the model learns.
        self._last: tuple[np.ndarray, np.ndarray, list] | None = None
        self._validate_data(np.empty((0, len(feature_names))), np.empty(0))

    def _dicts(self, X: np.ndarray) -> list[dict]:
        names = self.feature_names
        return [dict(zip(names, row, strict=True)) for row in np.asarray(X).tolist()]

    def fit(self, X, y, sample_weight=None) -> RiverClassifier:
        """Forget everything and learn the labeled rows of ``X`` in order (no weights)."""
        self._model = Model(self.spec)
        return self.partial_fit(X, y)

    def partial_fit(self, X, y, sample_weight=None) -> RiverClassifier:
        """Learn the labeled rows of ``X`` in order (``sample_weight`` is not supported)."""
        if sample_weight is not None:
            raise ValueError("a river model learns unweighted examples")
        y = np.asarray(y)
        known = y != MISSING
        if known.any():
            self._last = None
            xs = self._dicts(np.asarray(X)[known])
            self._model.learn(xs, [self.labels[i] for i in y[known].tolist()])
        return self

    def predict_proba(self, X, **kwargs) -> np.ndarray:
        """Class probabilities, columns in class-index order; uniform before any label."""
        return self.predict_both(X)[0]

    def predict_both(self, X) -> tuple[np.ndarray, list]:
        """:meth:`predict_proba` and the river model's own predictions (original labels).

        The predictions are :meth:`streamal.model.Model.predict`'s, ties and all, and
        ``None`` before the model has learned a label, so accuracy counts as in
        :func:`streamal.replay.replay`.
        """
        X = np.asarray(X)
        last = self._last
        if last is not None and last[0].shape == X.shape and np.array_equal(last[0], X):
            return last[1], last[2]
        n_classes = len(self.labels)
        proba = np.full((len(X), n_classes), 1 / n_classes)
        predicted: list = [None] * len(X)
        if self._model.classes:
            known = self._model.predict_proba(self._dicts(X))
            predicted = self._model.predict(known)
            columns = [self.labels.index(c) for c in self._model.classes]
            proba[:] = 0.0
            proba[:, columns] = known
            total = proba.sum(axis=1, keepdims=True)
            # A river tree may give an all-zero row for a leaf that has seen no class yet.
            proba = np.divide(proba, total, out=np.full_like(proba, 1 / n_classes), where=total > 0)
        self._last = (X.copy(), proba, predicted)
        return proba, predicted


def _chunk_size(budget: float) -> int:
    """About two expected gaps between queries: few wasted predictions, few calls.

    >>> _chunk_size(0.01), _chunk_size(0.1), _chunk_size(1.0)
    (64, 20, 2)
    """
    return max(1, min(64, math.ceil(2 / budget)))


def run(
    xs: Sequence[dict],
    ys: Sequence[Hashable],
    strategy: str,
    budget: float,
    seed: int = 0,
    model: str = DEFAULT_MODEL,
    chunk: int | None = None,
    metric: metrics.base.ClassificationMetric | None = None,
) -> tuple[float, float, list[int]]:
    """Prequential accuracy, spent fraction and queried positions of one skactiveml run.

    Parameters
    ----------
    xs, ys
        The stream's feature dicts and true labels, in order.
    strategy
        A key of :data:`STRATEGIES`.
    budget
        The fraction of events the strategy may label.
    seed
        ``random_state`` of the strategy (the river model keeps its spec's own seed).
    model
        A streamal model spec.
    chunk
        Events the strategy is asked about at once (default: :func:`_chunk_size`, or 1
        for :data:`PER_EVENT`); 1 asks about every event on its own, as
        scikit-activeml's examples do.
    metric
        A river metric updated with every event's true label and prediction, in order
        (e.g. ``metrics.BalancedAccuracy()``), as :func:`streamal.replay.replay` scores.

    Examples
    --------

    >>> from river import datasets
    >>> pairs = list(datasets.Phishing())[:300]
    >>> xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
    >>> accuracy, spent, queried = run(xs, ys, "VariableUncertainty", 0.1)
    >>> round(accuracy, 3), round(spent, 3), queried[:3]
    (0.693, 0.133, [0, 3, 5])
    >>> balanced = metrics.BalancedAccuracy()
    >>> _ = run(xs, ys, "VariableUncertainty", 0.1, metric=balanced)
    >>> round(balanced.get(), 3)
    0.705
    """
    names, X = feature_matrix(xs)
    labels = sorted(set(ys), key=repr)
    y = np.array([labels.index(v) for v in ys])
    classes = list(range(len(labels)))
    clf = RiverClassifier(model, names, labels, random_state=seed)
    qs = STRATEGIES[strategy](budget, seed, classes)
    window: deque[int] = deque(maxlen=PAL_WINDOW)  # positions of the latest labeled events
    pal = isinstance(qs, StreamProbabilisticAL)
    step = chunk or (1 if strategy in PER_EVENT else _chunk_size(budget))
    correct = 0
    queried: list[int] = []
    start, n = 0, len(xs)
    while start < n:
        candidates = X[start : start + step]
        _, predicted = clf.predict_both(candidates)
        # The baselines take no classifier.
        kwargs = {} if isinstance(qs, StreamRandomSampling | PeriodicSampling) else {"clf": clf}
        if pal and window:
            kwargs |= {"X": X[list(window)], "y": y[list(window)]}
        elif pal:  # no label yet: one unlabeled row, as PAL needs some X to fit its window
            kwargs |= {"X": X[start : start + 1], "y": np.array([MISSING])}
        picked, utilities = qs.query(candidates, return_utilities=True, **kwargs)
        # The model learns the first queried event's label before the next event: the events
        # after it are asked about again, by a changed model, in the next chunk.
        asked = len(picked) > 0
        seen = int(picked[0]) + 1 if asked else len(candidates)
        for p, t in zip(predicted[:seen], ys[start : start + seen], strict=True):
            correct += p == t
            if metric is not None:
                metric.update(t, p)
        # One update per event, as in scikit-activeml's examples: the cognitive dual-query
        # strategies pass only the dense candidates of a chunk to their budget manager, with
        # the queried index still counting all of them.
        for i in range(seen):
            update = {"budget_manager_param_dict": {"utilities": utilities[i : i + 1]}}
            hit = [0] if asked and i == seen - 1 else []
            qs.update(candidates[i : i + 1], hit, **(update if pal else {}))
        if asked:
            t = start + seen - 1
            clf.partial_fit(X[t : t + 1], y[t : t + 1])
            queried.append(t)
            window.append(t)
        start += seen
    return correct / n if n else 0.0, len(queried) / n if n else 0.0, queried
