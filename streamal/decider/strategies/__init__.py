"""The query strategies, one module each; the registry is :data:`STRATEGIES`."""

from __future__ import annotations

from streamal.decider.base import Strategy
from streamal.decider.strategies.bandit import Bandit
from streamal.decider.strategies.cogdqs import CogDQS
from streamal.decider.strategies.dbal import DBALStream
from streamal.decider.strategies.entropy import EntropySampling
from streamal.decider.strategies.fixed_uncertainty import FixedUncertainty
from streamal.decider.strategies.pal import PAL
from streamal.decider.strategies.periodic import Periodic
from streamal.decider.strategies.qbc import QueryByCommittee
from streamal.decider.strategies.quantile_uncertainty import QuantileUncertainty
from streamal.decider.strategies.random import RandomSampling
from streamal.decider.strategies.randomized_variable_uncertainty import (
    RandomizedVariableUncertainty,
)
from streamal.decider.strategies.selective_sampling import SelectiveSampling
from streamal.decider.strategies.split import Split
from streamal.decider.strategies.variable_uncertainty import VariableUncertainty

__all__ = [
    "PAL",
    "STRATEGIES",
    "Bandit",
    "CogDQS",
    "DBALStream",
    "EntropySampling",
    "FixedUncertainty",
    "Periodic",
    "QuantileUncertainty",
    "QueryByCommittee",
    "RandomSampling",
    "RandomizedVariableUncertainty",
    "SelectiveSampling",
    "Split",
    "VariableUncertainty",
]

#: CLI name → strategy.
STRATEGIES: dict[str, type[Strategy]] = {
    s.name: s
    for s in (
        RandomSampling,
        Periodic,
        FixedUncertainty,
        VariableUncertainty,
        RandomizedVariableUncertainty,
        Split,
        SelectiveSampling,
        EntropySampling,
        QuantileUncertainty,
        DBALStream,
        CogDQS,
        PAL,
        QueryByCommittee,
        Bandit,
    )
}
