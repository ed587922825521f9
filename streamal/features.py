"""Event dicts as a fixed-width, standardised float matrix, for rules that measure distances.

Density-aware and probabilistic query rules (DBALStream, CogDQS, PAL) compare
events by Euclidean distance, so they need numbers in a fixed column order on a
common scale. :class:`FeatureEncoder` makes them:

* **numbers** (``int``, ``float``, ``bool``) get a column each, in the order
  their names are first seen; the first ``width - buckets`` names get columns
  and later ones are ignored (counted in :attr:`FeatureEncoder.ignored`).
  Each column is standardised online, ``(x - mean) / sd`` with the running
  mean and (population) standard deviation (Welford) *including* the row
  itself, updated row by row in stream order, so cutting the stream into
  batches of any size gives the same matrix;
* **strings** are one-hot encoded into ``buckets`` columns by a stable hash of
  ``name=value`` (CRC-32, not Python's salted ``hash``), left at 0/1: a
  different value adds 2 to the squared distance, as a number √2 standard
  deviations apart would (values that share a bucket look alike);
* a missing or non-finite number is written as 0 (the running mean) and does
  not move the statistics.

>>> encoder = FeatureEncoder(width=4, buckets=2)
>>> encoder.transform([{"a": 1.0, "b": 10}, {"a": 3.0, "colour": "red"}]).round(3).tolist()
[[0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0]]
>>> encoder.columns
['a', 'b']

"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numba
import numpy as np

__all__ = ["FeatureEncoder"]


@numba.njit(cache=True, nogil=True)
def _standardise(
    raw: np.ndarray, count: np.ndarray, mean: np.ndarray, m2: np.ndarray, update: bool
) -> None:
    """Standardise ``raw`` in place, row by row, updating the Welford statistics if ``update``."""
    for i in range(raw.shape[0]):
        for j in range(raw.shape[1]):
            x = raw[i, j]
            if math.isnan(x):
                raw[i, j] = 0.0
                continue
            if update:
                count[j] += 1.0
                delta = x - mean[j]
                mean[j] += delta / count[j]
                m2[j] += delta * (x - mean[j])
            variance = m2[j] / count[j] if count[j] > 0.0 else 0.0
            raw[i, j] = (x - mean[j]) / math.sqrt(variance) if variance > 0.0 else 0.0


class FeatureEncoder:
    """Turn event dicts into a ``len(xs) × width`` float64 matrix.

    Parameters
    ----------
    width
        Columns in all: numeric features first, in order of first sight, then
        the string buckets.
    buckets
        Columns for the hashed one-hot encoding of string features (0: ignore
        strings); a third of ``width`` by default.

    Examples
    --------

    The statistics move row by row, so batches do not change the answer:

    >>> xs = [{"t": float(t), "kind": "ab"[t % 2]} for t in range(6)]
    >>> whole = FeatureEncoder().transform(xs)
    >>> one = FeatureEncoder()
    >>> rows = np.vstack([one.transform([x]) for x in xs])
    >>> bool((whole == rows).all()), whole.shape
    (True, (6, 48))

    """

    def __init__(self, width: int = 48, buckets: int | None = None) -> None:
        buckets = width // 3 if buckets is None else buckets
        if not 0 <= buckets <= width or width < 1:
            raise ValueError(f"need 0 <= buckets <= width and width >= 1, got {buckets}, {width}")
        self.numeric = int(width - buckets)
        self.buckets = int(buckets)
        self._column: dict[str, int] = {}
        #: numeric values dropped because their name found no free column (a count, not the
        #: names: a stream with ever new names must not grow the encoder)
        self.ignored = 0
        self._count = np.zeros(self.numeric)
        self._mean = np.zeros(self.numeric)
        self._m2 = np.zeros(self.numeric)

    @property
    def width(self) -> int:
        return self.numeric + self.buckets

    @property
    def columns(self) -> list[str]:
        """Names of the numeric columns, in column order."""
        return list(self._column)

    def _numeric_column(self, name: str) -> int | None:
        column = self._column.get(name)
        if column is None:
            if len(self._column) < self.numeric:
                column = self._column[name] = len(self._column)
            else:
                self.ignored += 1
        return column

    def transform(self, xs: Sequence[dict], *, update: bool = True) -> np.ndarray:
        """The standardised matrix of ``xs``; ``update=False`` leaves the statistics alone.

        Labeled events are encoded again with ``update=False`` so that learning
        from them does not count them twice.
        """
        raw = np.full((len(xs), self.width), math.nan)
        raw[:, self.numeric :] = 0.0
        for i, x in enumerate(xs):
            for name, value in x.items():
                if isinstance(value, str):
                    if self.buckets:
                        key = f"{name}={value}".encode()
                        raw[i, self.numeric + zlib.crc32(key) % self.buckets] = 1.0
                elif isinstance(value, int | float):
                    column = self._numeric_column(str(name))
                    if column is not None and math.isfinite(value):
                        raw[i, column] = float(value)
        _standardise(raw[:, : self.numeric], self._count, self._mean, self._m2, update)
        return raw
