"""The contract every query strategy follows.

A strategy names a compiled query rule and how it is set up: the measure and
budget manager it uses unless told otherwise, and its parameters with the
defaults of its paper. The rule itself is a numba function with the signature
``rule(row, uncertainty, params, state, rng) -> bool`` in the strategy's
module, dispatched by :func:`streamal.decider.kernel.decide_batch`; it is
only called for events the budget manager lets through.

Rules that look at where an event lies (``needs_features``) get its
standardised feature row too, and keep their window in a region of the state
array of :meth:`Strategy.region_size` slots; density rules also receive the
event's local density factor, computed for every event whatever the budget.
Rules that learn from labels (``needs_labels``) are told each labeled event
through :meth:`streamal.decider.Decider.learn`.

Every strategy is made for one or more tasks (:attr:`Strategy.tasks`):
classification rules read rows of class probabilities, regression rules rows
of ``(predicted value, predictive standard deviation)``; random and periodic
sampling ignore the rows and serve both.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from streamal.decider.budget import ESTIMATED
from streamal.decider.measures import LEAST_CONFIDENCE

__all__ = ["TASKS", "Strategy"]

#: what a model predicts: a class (rows of class probabilities) or a number (value, σ)
TASKS = ("classification", "regression")


class Strategy:
    """A query rule with its defaults.

    Subclasses set the class attributes; they hold no state of their own (all
    state lives in the decider's arrays).
    """

    #: the CLI name
    name: ClassVar[str]
    #: the kernel's rule code
    rule: ClassVar[int]
    #: measure used unless the caller picks one
    measure: ClassVar[int] = LEAST_CONFIDENCE
    #: budget manager used unless the caller picks one
    budget_manager: ClassVar[int] = ESTIMATED
    #: parameter name → (params slot, default); ``None`` defaults are filled by ``resolve``
    parameters: ClassVar[dict[str, tuple[int, float]]] = {}
    #: the rule needs a feature row per event (see :mod:`streamal.features`)
    needs_features: ClassVar[bool] = False
    #: the rule needs to be told the labeled events
    needs_labels: ClassVar[bool] = False
    #: the rule asks at the budget's rate by itself, so it may go without a budget manager
    paces_itself: ClassVar[bool] = False
    #: the rule always asks under the hard cap, whatever the caller's ``hard_cap``
    capped: ClassVar[bool] = False
    #: ``w_tol`` of the balanced quantile filter unless the caller gives one (Kottke's 50)
    tolerance: ClassVar[float] = 50.0
    #: the tasks whose rows the rule reads (see :data:`TASKS`)
    tasks: ClassVar[frozenset[str]] = frozenset({"classification"})

    @classmethod
    def region_size(cls, params: np.ndarray) -> int:
        """State slots of the strategy's own region, given its resolved ``params``."""
        return 0

    @classmethod
    def start_region(cls, params: np.ndarray, state: np.ndarray) -> None:
        """Write the initial values of the strategy's region into a fresh ``state`` (zeros)."""

    @classmethod
    def resolve(cls, budget: float, given: dict[str, float]) -> dict[int, float]:
        """Params slots for this strategy, from the defaults overridden by ``given``."""
        unknown = sorted(set(given) - set(cls.parameters))
        if unknown:
            known = ", ".join(sorted(cls.parameters)) or "none"
            raise ValueError(
                f"strategy {cls.name!r} has no parameter {unknown[0]!r} (it takes: {known})"
            )
        slots = {}
        for name, (slot, default) in cls.parameters.items():
            value = float(given.get(name, default))
            # nan is allowed only where it is the default, meaning "derive it from the budget".
            if math.isinf(value) or (math.isnan(value) and not math.isnan(default)):
                raise ValueError(f"parameter {name!r} of {cls.name!r} must be finite")
            slots[slot] = value
        return slots
