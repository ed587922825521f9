"""`DriftingStream`: a synthetic labeled stream whose concept turns slowly, for the demo.

The label is the side of a hyperplane the event falls on; the hyperplane
rotates a little with every event, so a model that stops learning slowly
goes wrong, and one that learns from a few well-chosen labels keeps up.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

__all__ = ["DriftingStream"]


class DriftingStream:
    """Events ``{"x1"…"xk", "colour"}`` labeled ``"pos"``/``"neg"`` by a rotating hyperplane.

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
    (['colour', 'x1', 'x2', 'x3', 'x4'], 'pos')

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
            colour = rng.choice(("red", "green", "blue"))
            score = sum(w * v for w, v in zip(weights, values, strict=True))
            score += 0.5 if colour == "red" else 0.0
            x: dict = {f"x{j + 1}": round(v, 6) for j, v in enumerate(values)}
            x["colour"] = colour
            yield x, "pos" if score > 0 else "neg"
            i += 1
