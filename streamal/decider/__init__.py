"""Budgeted query deciders: an informativeness measure, a query rule and a budget manager."""

from __future__ import annotations

from streamal.decider.base import TASKS, Strategy
from streamal.decider.budget import BUDGET_MANAGERS
from streamal.decider.decider import (
    DEFAULT_REGRESSION_STRATEGY,
    DEFAULT_STRATEGY,
    Decider,
    budget_managers_of,
    check_strategy,
    strategies_for,
)
from streamal.decider.measures import MEASURES, measures_for
from streamal.decider.strategies import ALL_STRATEGIES, REGRESSION_STRATEGIES, STRATEGIES

__all__ = [
    "ALL_STRATEGIES",
    "BUDGET_MANAGERS",
    "DEFAULT_REGRESSION_STRATEGY",
    "DEFAULT_STRATEGY",
    "MEASURES",
    "REGRESSION_STRATEGIES",
    "STRATEGIES",
    "TASKS",
    "Decider",
    "Strategy",
    "budget_managers_of",
    "check_strategy",
    "measures_for",
    "strategies_for",
]
