"""A checkpointable pseudo-random generator for the decision kernels.

numba's global ``np.random`` state lives inside the compiled runtime and cannot
be saved, so the kernels draw from SplitMix64 (Steele, Lea & Flood 2014), whose
whole state is one 64-bit word kept in a numpy array next to the other
decider state.

>>> import numpy as np
>>> state = seed_state(42)
>>> a = [next_uniform(state) for _ in range(3)]
>>> b = [next_uniform(seed_state(42)) for _ in range(1)]
>>> a[0] == b[0], all(0.0 <= v < 1.0 for v in a)
(True, True)

"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["next_normal", "next_uniform", "seed_state"]

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53: 53 random bits make a double in [0, 1)


@numba.njit(cache=True, nogil=True, inline="always")
def _next_word(state: np.ndarray) -> np.uint64:
    z = state[0] + _GAMMA
    state[0] = z
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@numba.njit(cache=True, nogil=True, inline="always")
def next_uniform(state: np.ndarray) -> float:
    """Draw from U[0, 1) and advance ``state`` (a ``uint64`` array of length 1)."""
    return float(_next_word(state) >> _S11) * _TO_UNIT


@numba.njit(cache=True, nogil=True, inline="always")
def next_normal(state: np.ndarray, mean: float, sd: float) -> float:
    """Draw from N(mean, sd²) by the Box–Muller transform (two uniforms per draw)."""
    u1 = 1.0 - next_uniform(state)  # in (0, 1]: log stays finite
    u2 = next_uniform(state)
    return mean + sd * math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def seed_state(seed: int) -> np.ndarray:
    """A fresh generator state for ``seed`` (any Python int)."""
    return np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64)
