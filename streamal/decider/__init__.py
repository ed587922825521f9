"""Budgeted query deciders: an informativeness measure, a query rule and a budget manager."""

from __future__ import annotations

from streamal.decider.base import Strategy
from streamal.decider.budget import BUDGET_MANAGERS
from streamal.decider.decider import DEFAULT_STRATEGY, Decider, budget_managers_of
from streamal.decider.measures import MEASURES
from streamal.decider.strategies import STRATEGIES

__all__ = [
    "BUDGET_MANAGERS",
    "DEFAULT_STRATEGY",
    "MEASURES",
    "STRATEGIES",
    "Decider",
    "Strategy",
    "budget_managers_of",
]
