"""Synthetic labeled streams whose concept turns slowly, for the demo.

`DriftingStream`: the label is the side of a hyperplane the event falls on;
the hyperplane rotates a little with every event, so a model that stops
learning slowly goes wrong, and one that learns from a few well-chosen labels
keeps up. `DriftingRegression` is its numeric twin: the target is a linear
function whose weights turn the same way.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

__all__ = ["COLOURS", "DriftingRegression", "DriftingStream", "colour_features"]


#: The colours of both streams' events, which come one-hot encoded (:func:`colour_features`).
COLOURS = ("red", "green", "blue")


def colour_features(colour: str) -> dict[str, float]:
    """``colour`` one-hot encoded, as river's ``preprocessing.OneHotEncoder`` writes it.

    Encoded, it is a feature every river model can learn from, a linear one or
    naive Bayes included, not only the trees that split on text.

    >>> colour_features("green")
    {'colour_red': 0.0, 'colour_green': 1.0, 'colour_blue': 0.0}
    """
    return {f"colour_{c}": float(c == colour) for c in COLOURS}


class DriftingStream:
    """Events ``{"x1"…"xk", "colour_*"}`` labeled ``"pos"``/``"neg"`` by a rotating hyperplane.

    Red events lean to ``"pos"``; the colour comes one-hot encoded
    (:func:`colour_features`).

    Parameters
    ----------
    features
        Number of numeric features (at least 2).
    period
        Events for the hyperplane to turn a full circle in its first two axes.
    seed
        Seed of the stream.

    Examples
    --------

    >>> stream = iter(DriftingStream(seed=1))
    >>> x, y = next(stream)
    >>> sorted(x), y
    (['colour_blue', 'colour_green', 'colour_red', 'x1', 'x2', 'x3', 'x4'], 'pos')

    """

    def __init__(self, features: int = 4, period: int = 200_000, seed: int = 0) -> None:
        if features < 2:
            raise ValueError("a drifting stream needs at least 2 features")
        self.features = features
        self.period = period
        self.seed = seed

    def __iter__(self) -> Iterator[tuple[dict, str]]:
        rng = random.Random(self.seed)
        fixed = [rng.uniform(-0.5, 0.5) for _ in range(self.features - 2)]
        i = 0
        while True:
            angle = 2 * math.pi * i / self.period
            weights = [math.cos(angle), math.sin(angle), *fixed]
            values = [rng.gauss(0.0, 1.0) for _ in range(self.features)]
            colour = rng.choice(COLOURS)
            score = sum(w * v for w, v in zip(weights, values, strict=True))
            score += 0.5 if colour == "red" else 0.0
            x: dict = {f"x{j + 1}": round(v, 6) for j, v in enumerate(values)}
            yield x | colour_features(colour), "pos" if score > 0 else "neg"
            i += 1


#: The categorical effect of :class:`DriftingRegression`: what each colour adds to the target.
COLOUR_EFFECT = dict(zip(COLOURS, (2.0, 0.0, -2.0), strict=True))


class DriftingRegression:
    """Events ``{"x1"…"xk", "colour_red", "colour_green", "colour_blue"}`` with a numeric target.

    The target is ``level + 4 (w · x) + c + ε``: ``w`` turns a full circle in its
    first two axes every ``period`` events (as :class:`DriftingStream`'s
    hyperplane), ``c`` is the colour's effect (:data:`COLOUR_EFFECT`) and ``ε``
    is normal noise of deviation ``noise``. The colour comes one-hot encoded
    (:func:`colour_features`), so that any regressor, a linear one included,
    can learn its effect. The colours'
    effects and the features average 0, so the target averages ``level``: a
    model without an intercept (river's ``BayesianLinearRegression``) can learn
    the stream only at level 0.

    Parameters
    ----------
    features
        Number of numeric features (at least 2).
    period
        Events for the weights to turn a full circle in their first two axes.
    noise
        Standard deviation of the target's noise.
    level
        The target's mean.
    seed
        Seed of the stream.

    Examples
    --------

    >>> stream = iter(DriftingRegression(seed=1))
    >>> x, y = next(stream)
    >>> sorted(x), round(y, 2)
    (['colour_blue', 'colour_green', 'colour_red', 'x1', 'x2', 'x3', 'x4'], 3.99)

    A quarter turn later, the same event has another target:

    >>> model = DriftingRegression(period=4, noise=0.0)
    >>> [round(model.target([1.0, 0.0], "green", i), 2) for i in range(3)]
    [4.0, 0.0, -4.0]

    """

    def __init__(
        self,
        features: int = 4,
        period: int = 200_000,
        noise: float = 1.0,
        level: float = 0.0,
        seed: int = 0,
    ) -> None:
        if features < 2:
            raise ValueError("a drifting stream needs at least 2 features")
        if not noise >= 0:
            raise ValueError(f"noise must be >= 0, got {noise}")
        self.features = features
        self.period = period
        self.noise = noise
        self.level = level
        self.seed = seed
        weights = random.Random(f"{seed}/weights")  # apart from the events' draws
        self._fixed = [weights.uniform(-0.5, 0.5) for _ in range(features - 2)]

    def target(self, values: list[float], colour: str, i: int) -> float:
        """The noiseless target of the ``i``-th event (only the first two axes turn)."""
        angle = 2 * math.pi * i / self.period
        weights = [math.cos(angle), math.sin(angle), *self._fixed]
        score = sum(w * v for w, v in zip(weights, values, strict=False))
        return self.level + 4.0 * score + COLOUR_EFFECT[colour]

    def __iter__(self) -> Iterator[tuple[dict, float]]:
        rng = random.Random(self.seed)
        i = 0
        while True:
            values = [round(rng.gauss(0.0, 1.0), 6) for _ in range(self.features)]
            colour = rng.choice(COLOURS)
            y = self.target(values, colour, i) + rng.gauss(0.0, self.noise)
            x: dict = {f"x{j + 1}": v for j, v in enumerate(values)}
            yield x | colour_features(colour), y
            i += 1
