"""The query strategies, one module each; the registries are :data:`STRATEGIES` and
:data:`REGRESSION_STRATEGIES`.

:data:`STRATEGIES` holds the classification strategies (random and periodic
sampling among them, which serve regression too), as it always has, so that
everything that runs every strategy on class probabilities keeps doing so;
:data:`REGRESSION_STRATEGIES` the strategies made only for regression.
:func:`streamal.decider.strategies_for` lists those of one task.
"""

from __future__ import annotations

from streamal.decider.base import Strategy
from streamal.decider.strategies.bandit import Bandit
from streamal.decider.strategies.cogdqs import CogDQS
from streamal.decider.strategies.committee_variance import CommitteeVariance
from streamal.decider.strategies.dbal import DBALStream
from streamal.decider.strategies.density_ratio import DensityRatio
from streamal.decider.strategies.entropy import EntropySampling
from streamal.decider.strategies.fixed_uncertainty import FixedUncertainty
from streamal.decider.strategies.interval_width import IntervalWidth
from streamal.decider.strategies.leverage import Leverage
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
    "ALL_STRATEGIES",
    "PAL",
    "REGRESSION_STRATEGIES",
    "STRATEGIES",
    "Bandit",
    "CogDQS",
    "CommitteeVariance",
    "DBALStream",
    "DensityRatio",
    "EntropySampling",
    "FixedUncertainty",
    "IntervalWidth",
    "Leverage",
    "Periodic",
    "QuantileUncertainty",
    "QueryByCommittee",
    "RandomSampling",
    "RandomizedVariableUncertainty",
    "SelectiveSampling",
    "Split",
    "VariableUncertainty",
]

#: CLI name → classification strategy.
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
#: CLI name → strategy made only for regression.
REGRESSION_STRATEGIES: dict[str, type[Strategy]] = {
    s.name: s for s in (Leverage, CommitteeVariance, IntervalWidth, DensityRatio)
}
#: CLI name → strategy, of every task.
ALL_STRATEGIES: dict[str, type[Strategy]] = STRATEGIES | REGRESSION_STRATEGIES
