"""`EngineSettings` and :func:`build_engine`: one meaning of every engine setting, for every driver.

``streamal replay`` evaluates a set-up, ``streamal serve`` deploys it and
``streamal demo`` shows it; each describes the engine with the same
:class:`EngineSettings` and builds it with the same :func:`build_engine`, so
a set-up proven in replay runs unchanged in the daemon (docs/design.md, "One
engine, several drivers").
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

from river import base

from streamal.annotators import Annotators
from streamal.classes import ClassSchema
from streamal.cost_budget import AnswerBudget, CostBudget
from streamal.decider import (
    ALL_STRATEGIES,
    BUDGET_MANAGERS,
    DEFAULT_REGRESSION_STRATEGY,
    DEFAULT_STRATEGY,
    Decider,
    check_strategy,
)
from streamal.decider.strategies.bandit import RANDOM_SHARE
from streamal.decider.strategies.utility_threshold import EVEN_SHARE
from streamal.engine import Engine
from streamal.model import (
    CLASS_WEIGHTS,
    DEFAULT_MODELS,
    TASKS,
    Model,
    ModelSpecError,
    parse_model_spec,
    task_of,
    task_of_spec,
)

__all__ = [
    "EngineSettings",
    "SettingsError",
    "build_engine",
    "configure_engine",
    "default_strategy",
    "require_positive",
]


class SettingsError(ValueError):
    """An engine setting that cannot be used; the message is one line naming it."""


#: the settings that are a strategy's share of the budget asked without regard to the model:
#: (name, default, the strategies that take it)
SHARES = (
    ("random_share", RANDOM_SHARE, "the bandit"),
    ("even_share", EVEN_SHARE, "the regression rules"),
)


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """What the engine is: its model, how it spends the budget, and how it takes answers.

    Parameters
    ----------
    task
        ``classification`` (labels are classes) or ``regression`` (labels are numbers);
        ``None``: what ``model`` predicts, classification if no model is named.
    model
        River model spec (parsed, never evaluated), or a river classifier or regressor
        itself (a model trained beforehand; it is learned on in place); ``None``: the
        task's default (:data:`streamal.model.DEFAULT_MODELS`).
    strategy, budget
        Query strategy (``None``: the task's default) and the fraction of events whose
        label may be asked for.
    budget_manager
        ``estimated`` or ``biqf`` instead of the strategy's own (``None``: the strategy's).
    hard_cap
        Never more than ``floor(budget * n) + 1`` labels in the first ``n`` events (the
        bandit and the regression rules always hold it).
    drift_aware
        ADWIN on the labeled errors; after a drift, restart the thresholds and spend faster
        for a window, paid back under the hard cap.
    delay_aware
        Delay-aware querying: for this many events after a query (the label delay, in
        events), do not ask about events within 0.5 standardised units of it (0: off).
    random_share
        The share of the budget the ``bandit`` spends uniformly at random, so that every
        event has a known chance of being asked: the deployed-accuracy estimate rests on
        it (:mod:`streamal.deployed_accuracy`). More makes the estimate tighter, and the
        model a little less accurate.
    even_share
        The share of the budget the regression rules ask at an even pace, whatever the
        utility: those answers are the fair sample the deployed-error estimate rests on
        (:mod:`streamal.deployed_error`); 0 leaves the papers' rules alone.
    cost_budget, expected_cost
        Spend at most ``cost_budget`` cost units per event instead of a label fraction
        (0: off); the decider paces for ``min(1, cost_budget / expected_cost)``, divided
        by ``labels_per_query``.
    label_wait, labels_per_query, second_label_confidence
        Annotator-aware mode (``label_wait`` 0: off): answers for one id wait up to
        ``label_wait`` (events' time unit) for ``labels_per_query`` answers and are
        aggregated by reliability; a vote less sure than ``second_label_confidence``
        asks again. The label budget then counts answers, not queries: the decider
        asks ``budget / labels_per_query`` of the events, and no answer, first or asked
        again, is asked for once ``budget`` answers per event are spent.
    seed
        Seed of the decider's generator.
    max_pending, pending_ttl
        Bounds of the queries waiting for a label: count, and age in the events' time unit.
    classes
        The stream's classes, fixed: an answer naming another is refused (``unknown_class``).
        Empty (the default): their type comes from the first label and new ones are learned
        as they come (:mod:`streamal.classes`).
    class_weight
        ``balanced``: the model learns each label weighted by the inverse of its class's
        share of the labels so far (at most :data:`~streamal.model.MAX_CLASS_WEIGHT`), so a
        rare class is learned as a common one is: far higher balanced accuracy, a little
        lower accuracy (``benchmarks/RESULTS.md``). ``none`` (the default): every label
        weighs 1. Needs a model whose ``learn_one`` takes a weight ``w``.

    Examples
    --------

    >>> settings = EngineSettings(strategy="variable_uncertainty", budget=0.05, hard_cap=True)
    >>> build_engine(settings).decider.name
    'variable_uncertainty/estimated+cap/least_confidence'
    >>> EngineSettings(budget=1.5).check()
    Traceback (most recent call last):
    ...
    streamal.settings.SettingsError: budget must be in (0, 1], got 1.5

    A river regressor makes the task a numeric one, with its own default strategy:

    >>> settings = EngineSettings("forest.ARFRegressor(seed=42)")
    >>> settings.task, settings.strategy
    ('regression', 'density_ratio')

    """

    model: str | base.Estimator | None = None
    strategy: str | None = None
    budget: float = 0.1
    budget_manager: str | None = None
    hard_cap: bool = False
    drift_aware: bool = False
    delay_aware: int = 0
    random_share: float = RANDOM_SHARE
    even_share: float = EVEN_SHARE
    cost_budget: float = 0.0
    expected_cost: float = 1.0
    label_wait: float = 0.0
    labels_per_query: int = 1
    second_label_confidence: float = 0.75
    seed: int = 0
    max_pending: int = 100_000
    pending_ttl: float = math.inf
    classes: tuple[Hashable, ...] = ()
    class_weight: str = "none"
    task: str | None = None

    def __post_init__(self) -> None:
        # None means "the task's default"; the settings always hold what they resolve to.
        task = self.task or _task_of(self.model) or TASKS[0]
        object.__setattr__(self, "task", task)
        if self.model is None:
            object.__setattr__(self, "model", DEFAULT_MODELS.get(task, DEFAULT_MODELS[TASKS[0]]))
        if self.strategy is None:
            object.__setattr__(self, "strategy", default_strategy(task))

    def check(self) -> EngineSettings:
        """Raise :class:`SettingsError` on the first setting that cannot be used."""
        if self.task not in TASKS:
            raise SettingsError(f"unknown task {self.task!r} (choose from: {', '.join(TASKS)})")
        try:
            check_strategy(self.strategy, self.task)
        except ValueError as e:
            raise SettingsError(str(e)) from None
        if self.budget_manager is not None and self.budget_manager not in BUDGET_MANAGERS:
            raise SettingsError(
                f"unknown budget manager {self.budget_manager!r} "
                f"(choose from: {', '.join(BUDGET_MANAGERS)})"
            )
        if not 0.0 < self.budget <= 1.0:
            raise SettingsError(f"budget must be in (0, 1], got {self.budget:g}")
        if not 0.0 <= self.random_share <= 1.0:
            raise SettingsError(f"random_share must be in [0, 1], got {self.random_share:g}")
        if not 0.0 <= self.even_share < 1.0:
            raise SettingsError(f"even_share must be in [0, 1), got {self.even_share:g}")
        for name, default, whose in SHARES:
            if getattr(self, name) != default and not self._takes(name):
                raise SettingsError(f"{name} is a setting of {whose}, not of {self.strategy!r}")
        try:
            self.decider()
        except ValueError as e:  # a combination the decider refuses, e.g. a budget manager
            raise SettingsError(str(e)) from None
        try:
            if isinstance(self.model, str):
                parse_model_spec(self.model)
        except ModelSpecError as e:
            raise SettingsError(f"model: {e}") from None
        predicts = _task_of(self.model)
        if predicts != self.task:
            kind = "regressor" if predicts == "regression" else "classifier"
            raise SettingsError(f"model {self.model!r} is a {kind}, not a model for {self.task}")
        if self.class_weight not in CLASS_WEIGHTS:
            raise SettingsError(
                f"unknown class_weight {self.class_weight!r} "
                f"(choose from: {', '.join(CLASS_WEIGHTS)})"
            )
        if self.task == "regression":
            if self.class_weight != "none":
                raise SettingsError("class_weight is for classes: a numeric target has none")
            if self.classes:
                raise SettingsError("classes are for classification: a numeric target has none")
            if self.label_wait:
                raise SettingsError(
                    "label_wait (annotator-aware mode) weighs votes for classes: "
                    "not for a numeric target"
                )
        elif self.class_weight != "none" and not Model(self.model).takes_weights:
            raise SettingsError(
                f"class_weight {self.class_weight} needs a model that learns with a weight "
                f"(its learn_one takes w, as river's trees and linear models do): "
                f"{self.model!r} does not"
            )
        elif len(self.classes) > 2 and Model(self.model).binary:
            raise SettingsError(
                f"model {self.model!r} tells two classes apart, not {len(self.classes)}: "
                "multiclass.OneVsRestClassifier(...) around it learns any number"
            )
        require_positive(
            pending_ttl=self.pending_ttl,
            max_pending=self.max_pending,
            labels_per_query=self.labels_per_query,
            expected_cost=self.expected_cost,
        )
        for name in ("label_wait", "cost_budget", "delay_aware"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise SettingsError(f"{name} must be zero or positive, got {value:g}")
        if not 0.0 <= self.second_label_confidence <= 1.0:
            raise SettingsError(
                f"second_label_confidence must be in [0, 1], got {self.second_label_confidence:g}"
            )
        return self

    def cost(self) -> CostBudget | None:
        """What holds the answers asked for to the budget, beyond the decider's own pace.

        The cost budget, when one is set. Else, in annotator-aware mode, the label
        budget counted in answers (:class:`~streamal.cost_budget.AnswerBudget`): a
        query answered twice, or asked again, spends two labels.

        >>> EngineSettings(budget=0.05, label_wait=10.0, labels_per_query=2).cost().per_event
        0.05
        >>> EngineSettings(budget=0.05).cost() is None
        True
        """
        if self.cost_budget:
            return CostBudget(self.cost_budget, self.expected_cost)
        return AnswerBudget(self.budget) if self.label_wait else None

    def _takes(self, parameter: str) -> bool:
        return parameter in ALL_STRATEGIES[self.strategy].parameters

    def decider(self) -> Decider:
        """A fresh decider, paced for the queries the budget buys.

        With a cost budget, the label fraction it buys; with several answers to
        each query, that many times fewer queries.

        >>> EngineSettings(budget=0.1, label_wait=10.0, labels_per_query=2).decider().budget
        0.05
        """
        cost = self.cost()
        answers = self.labels_per_query if self.label_wait else 1
        parameters = {name: getattr(self, name) for name, *_ in SHARES if self._takes(name)}
        return Decider(
            self.strategy,
            (cost.label_fraction if cost else self.budget) / answers,
            task=self.task,
            budget_manager=self.budget_manager,
            hard_cap=self.hard_cap,
            drift_aware=self.drift_aware,
            pending_events=self.delay_aware,
            seed=self.seed,
            **parameters,
        )


def default_strategy(task: str) -> str:
    """The strategy used when none is named, for ``task``.

    For classes, :data:`~streamal.decider.DEFAULT_STRATEGY`; for a numeric
    target, :data:`~streamal.decider.DEFAULT_REGRESSION_STRATEGY`, the density
    ratio, which reads no model output and so serves every regressor: with
    each of six candidate models it had the largest mean MAE reduction over
    random sampling at 5 and 10 % (``benchmarks/RESULTS_regression.md``).

    >>> default_strategy("regression"), default_strategy("classification")
    ('density_ratio', 'bandit')
    """
    return DEFAULT_REGRESSION_STRATEGY if task == "regression" else DEFAULT_STRATEGY


def _task_of(model: str | base.Estimator | None) -> str | None:
    if model is None:
        return None
    return task_of_spec(model) if isinstance(model, str) else task_of(model)


def require_positive(**values: float) -> None:
    """Raise :class:`SettingsError` naming the first value that is not a positive number.

    >>> require_positive(window=3, ttl=float("nan"))
    Traceback (most recent call last):
    ...
    streamal.settings.SettingsError: ttl must be positive, got nan
    """
    for name, value in values.items():
        if not (value > 0 and not math.isnan(value)):
            raise SettingsError(f"{name} must be positive, got {value:g}")


def build_engine(settings: EngineSettings) -> Engine:
    """A fresh engine as ``settings`` describe it: the one builder of every driver."""
    settings.check()
    engine = Engine(Model(settings.model), settings.decider())
    return configure_engine(engine, settings)


def configure_engine(engine: Engine, settings: EngineSettings) -> Engine:
    """Bring a restored engine to ``settings``, keeping what it has learned.

    The model stays (it is the fold of the training log); the decider's state
    starts over only when its rule, budget or seed changed (other parameters keep
    it); the pending bounds, the
    annotator-aware mode and the cost or answer budget follow the settings, keeping the
    annotators' reliability estimates and the cost already spent.
    """
    engine.model.class_weight = settings.class_weight
    if settings.classes:
        if not (engine.schema.fixed and engine.schema.classes == list(settings.classes)):
            engine.schema = ClassSchema(list(settings.classes), fixed=True)
    else:
        engine.schema.fixed = False
    fresh = settings.decider()
    if not fresh.configured_like(engine.decider):
        fresh.continue_from(engine.decider)
        engine.use_decider(fresh)
    engine.pending.max_size = settings.max_pending
    engine.pending.ttl = settings.pending_ttl
    if not settings.label_wait:
        engine.annotators = None
    elif engine.annotators is None:
        engine.annotators = Annotators(
            settings.second_label_confidence, settings.labels_per_query, settings.label_wait
        )
    else:
        engine.annotators.confident = settings.second_label_confidence
        engine.annotators.labels_per_query = settings.labels_per_query
        engine.annotators.wait = settings.label_wait
    budget = settings.cost()
    if budget is None or type(engine.cost_budget) is not type(budget):
        engine.cost_budget = budget
    else:
        engine.cost_budget.per_event = budget.per_event
    return engine
