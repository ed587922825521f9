"""streamal: stream-based online active learning."""

from __future__ import annotations

from streamal.decider import DEFAULT_STRATEGY, STRATEGIES, Decider

__version__ = "0.1.0"

__all__ = ["DEFAULT_STRATEGY", "STRATEGIES", "Decider", "__version__"]
