"""Leverage: conditional D-optimal sampling for linear models, on the stream."""

from __future__ import annotations

import numba
import numpy as np

from streamal.decider import layout as L
from streamal.decider.measures import LEVERAGE
from streamal.decider.strategies.utility_threshold import UtilityThreshold

RULE = 15

# The strategy's region of the state: [labeled rows learned, A⁻¹ (p × p, row-major)], with
# p = n_features + 1 when the constant column is on.


@numba.njit(cache=True, nogil=True, inline="always")
def dimension(params: np.ndarray) -> int:
    """``p``: the feature rows' width, plus one for the constant column if it is on."""
    return int(params[L.N_FEATURES]) + int(params[L.INTERCEPT])


@numba.njit(cache=True, nogil=True, inline="always")
def _design_row(x: np.ndarray, params: np.ndarray, out: np.ndarray) -> None:
    """``x̃``: ``x`` after the constant 1 when the intercept is on."""
    offset = int(params[L.INTERCEPT])
    if offset:
        out[0] = 1.0
    for j in range(x.shape[0]):
        out[offset + j] = x[j]


@numba.njit(cache=True, nogil=True)
def utilities(features: np.ndarray, params: np.ndarray, state: np.ndarray, out: np.ndarray) -> None:
    """``u = x̃' A⁻¹ x̃`` of every feature row, into ``out``.

    ``A⁻¹`` is symmetric, so the quadratic form reads its upper triangle only:
    ``Σ_i M_ii x_i² + 2 Σ_{i<j} M_ij x_i x_j`` (``p (p + 1) / 2`` products).
    Rounding can take a leverage a hair below zero; it is clipped to 0.
    """
    p = dimension(params)
    m = int(params[L.REGION]) + 1
    x = np.empty(p)
    for i in range(features.shape[0]):
        _design_row(features[i], params, x)
        total = 0.0
        for a in range(p):
            row = m + a * p
            cross = 0.0
            for b in range(a + 1, p):
                cross += state[row + b] * x[b]
            total += x[a] * (state[row + a] * x[a] + 2.0 * cross)
        out[i] = max(total, 0.0)


@numba.njit(cache=True, nogil=True)
def remember(features: np.ndarray, params: np.ndarray, state: np.ndarray) -> None:
    """Add labeled rows to ``A`` by Sherman–Morrison: ``A⁻¹ ← A⁻¹ - v v' / (1 + x̃' v)``.

    with ``v = A⁻¹ x̃``. Each row costs ``O(p²)``; ``A`` itself is never formed or inverted.
    Subtracting the same rounded ``v_a v_b / (1 + x̃' v)`` on both sides of
    the diagonal keeps the stored matrix exactly symmetric.
    """
    p = dimension(params)
    base = int(params[L.REGION])
    m = base + 1
    x = np.empty(p)
    v = np.empty(p)
    for i in range(features.shape[0]):
        _design_row(features[i], params, x)
        denominator = 1.0
        for a in range(p):
            row = m + a * p
            total = 0.0
            for b in range(p):
                total += state[row + b] * x[b]
            v[a] = total
            denominator += x[a] * total
        shrink = 1.0 / denominator
        for a in range(p):
            row = m + a * p
            for b in range(p):
                # (v_a v_b) first: the same product on both sides of the diagonal.
                state[row + b] -= (v[a] * v[b]) * shrink
        state[base] += 1.0


class Leverage(UtilityThreshold):
    """Query the events a linear model's labeled data covers worst (regression).

    Utility (Cacciarelli, Kulahci & Tyssedal 2022, conditional D-optimality):
    the leverage ``u = x̃' A⁻¹ x̃`` of the event's standardised feature row
    ``x̃ = (1, x)``, with ``A = λ I + Σ_j x̃_j x̃_j'`` over the rows labeled so
    far. For a linear model ``σ² u`` is the variance of its prediction at
    ``x`` (ridge-regularised), and the labeled row that most increases
    ``det A`` (the D-optimal choice, conditional on the rows already
    labeled) is the one of largest ``u``, since
    ``det(A + x̃ x̃') = det A · (1 + u)``. It needs no model output at all,
    only the feature rows, and is suited to linear models (river's
    ``linear_model.LinearRegression``); for others it is a model-free
    exploration of the feature space. The decider keeps ``A⁻¹`` and updates
    it by a Sherman–Morrison step for every labeled row it is told of
    (:meth:`streamal.decider.Decider.learn`, no targets needed), so the
    utility of an event costs ``p (p + 1) / 2`` products and a label
    ``2 p²``, ``p = n_features + 1``.

    The paper queries when ``u`` exceeds a threshold set from the budget by
    the distribution the leverage would have if the features' distribution
    were known. Here the threshold is the shared rule of the regression
    strategies (:mod:`~streamal.decider.strategies.utility_threshold`): the
    balanced incremental quantile filter by default, the empirical version of
    that threshold (the ``1 - b`` quantile of recent leverages) that needs no
    distributional assumption and follows the leverage down as ``A`` grows.

    Choices: the constant column is on by default, as the model it stands
    for has an intercept, so an event far from the labeled rows' mean counts
    as far even when the features are centred. ``λ = 1`` is a prior worth
    one observation of unit variance in every direction of the standardised
    features: it keeps ``A`` invertible before ``p`` rows are labeled and
    fades as labels accumulate. ``A`` never forgets a labeled row, as the
    model does not. The region holds ``1 + p²`` values: 2,402 (19 KB) for
    the 48 features of :class:`streamal.features.FeatureEncoder`.

    Parameters
    ----------
    ridge
        ``λ > 0`` of ``A = λ I + Σ x̃ x̃'`` (1).
    intercept
        1 (default): prepend the constant column to the feature rows; 0: not.
    theta, step
        Of the variable threshold (see
        :class:`~streamal.decider.strategies.utility_threshold.UtilityThreshold`).

    Examples
    --------

    Two features, no intercept, two labeled rows ``(1, 0)`` and ``(1, 1)``:
    ``A = I + [[2, 1], [1, 1]] = [[3, 1], [1, 2]]``, ``A⁻¹ = [[2, -1], [-1, 3]] / 5``,
    so ``u(0, 1) = 3/5``, ``u(1, 0) = 2/5`` and ``u(1, -1) = (2 + 2 + 3) / 5``:

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> decider = Decider("leverage", task="regression", n_features=2, intercept=0)
    >>> decider.learn(np.array([[1.0, 0.0], [1.0, 1.0]]))
    >>> rows = np.zeros((3, 2))  # the model's output is not read
    >>> _, u = decider.decide(rows, features=np.array([[0.0, 1.0], [1.0, 0.0], [1.0, -1.0]]))
    >>> u.round(6).tolist()
    [0.6, 0.4, 1.4]

    On a stream, the quantile filter asks for the rows far from what is labeled:

    >>> decider = Decider("leverage", budget=0.1, task="regression", n_features=3, seed=0)
    >>> x = np.random.default_rng(1).normal(size=(20_000, 3))
    >>> queried = []
    >>> for batch in np.split(x, 200):  # the labeled rows are learned after each batch
    ...     queried.append(decider.decide(np.zeros((100, 2)), features=batch)[0])
    ...     decider.learn(batch[queried[-1]])
    >>> queried = np.concatenate(queried)
    >>> round(float(queried.mean()), 3), bool(np.linalg.norm(x[queried], axis=1).mean() > 2.5)
    (0.1, True)

    References
    ----------
    Cacciarelli, D., Kulahci, M., Tyssedal, J. S. (2022). Stream-based active
    learning with linear models. Knowledge-Based Systems 254, 109664.

    Cacciarelli, D., Kulahci, M. (2024). Active learning for data streams: a
    survey. Machine Learning 113, 185–239.

    """

    name = "leverage"
    rule = RULE
    measure = LEVERAGE
    needs_features = True
    needs_labels = True
    parameters = {
        **UtilityThreshold.parameters,
        "ridge": (L.RIDGE, 1.0),
        "intercept": (L.INTERCEPT, 1.0),
    }

    @classmethod
    def resolve(cls, budget: float, given: dict[str, float]) -> dict[int, float]:
        slots = super().resolve(budget, given)
        if not slots[L.RIDGE] > 0.0 or slots[L.INTERCEPT] not in (0.0, 1.0):
            raise ValueError("ridge of 'leverage' must be positive and intercept 0 or 1")
        return slots

    @classmethod
    def region_size(cls, params: np.ndarray) -> int:
        return 1 + dimension(params) ** 2

    @classmethod
    def start_region(cls, params: np.ndarray, state: np.ndarray) -> None:
        p = dimension(params)
        start = int(params[L.REGION]) + 1
        # A = λ I before any label, so A⁻¹ = I / λ.
        state[start : start + p * p] = (np.eye(p) / params[L.RIDGE]).ravel()
