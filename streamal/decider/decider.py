"""`Decider`: measure + query rule + budget manager, deciding whole batches in one numba call."""

from __future__ import annotations

import math
import pickle

import numpy as np
from river import drift

from streamal.decider import layout as L
from streamal.decider.base import TASKS
from streamal.decider.budget import BUDGET_MANAGERS, NONE, budget_fraction
from streamal.decider.kernel import decide_batch, decide_batch_rich, learn_batch
from streamal.decider.measures import (
    COMMITTEE_MEASURES,
    COMMITTEE_VARIANCE,
    DEFAULT_MEASURES,
    DENSITY_RATIO,
    LEVERAGE,
    MEASURES,
    REGRESSION_MEASURES,
    measures_for,
)
from streamal.decider.pending_window import capacity
from streamal.decider.rng import seed_state
from streamal.decider.strategies import ALL_STRATEGIES, bandit, density_ratio, leverage
from streamal.decider.strategies.interval_width import normal_quantile
from streamal.decider.strategies.utility_threshold import even_turns

__all__ = [
    "DEFAULT_REGRESSION_STRATEGY",
    "DEFAULT_STRATEGY",
    "Decider",
    "budget_managers_of",
    "check_strategy",
    "strategies_for",
]

_NO_FEATURES = np.empty((0, 0))
_NO_COMMITTEE = np.empty((0, 0, 0))

#: The strategy used when none is named; chosen from benchmarks/quality.py (see README).
DEFAULT_STRATEGY = "bandit"
#: The strategy of a regression model when none is named: the largest mean MAE reduction over
#: random sampling at 5-10 % in benchmarks/quality_regression.py (README), with every candidate
#: model; it reads no model output, so it serves any regressor.
DEFAULT_REGRESSION_STRATEGY = "density_ratio"
#: the interval width's coverage when the strategy does not set it (regression random, periodic)
_DEFAULT_COVERAGE = 0.8


def strategies_for(task: str) -> list[str]:
    """The strategies made for ``task`` (``"classification"`` or ``"regression"``).

    >>> strategies_for("regression")
    ['random', 'periodic', 'leverage', 'committee_variance', 'interval_width', 'density_ratio']
    """
    _check_choice("task", task, TASKS)
    return [name for name, kind in ALL_STRATEGIES.items() if task in kind.tasks]


def budget_managers_of(strategy: str) -> list[str]:
    """The budget managers ``strategy`` takes: ``none`` only if it paces itself.

    >>> budget_managers_of("random"), budget_managers_of("split")
    (['estimated', 'biqf', 'none'], ['estimated', 'biqf'])
    """
    paces = ALL_STRATEGIES[strategy].paces_itself
    return [m for m, code in BUDGET_MANAGERS.items() if code != NONE or paces]


def _name_of(code: int, names: dict[str, int]) -> str:
    return next(name for name, c in names.items() if c == code)


def check_strategy(strategy: str, task: str) -> None:
    """Raise ``ValueError`` unless ``strategy`` is one made for ``task``; the one-line why.

    >>> check_strategy("leverage", "classification")
    Traceback (most recent call last):
    ...
    ValueError: strategy 'leverage' is not made for classification (choose from: random, ...)
    """
    known = strategies_for(task)
    if strategy in known:
        return
    if strategy in ALL_STRATEGIES:
        raise ValueError(
            f"strategy {strategy!r} is not made for {task} (choose from: {', '.join(known)})"
        )
    _check_choice("strategy", strategy, known)


def _check_choice(kind: str, value: str, choices) -> None:
    if value not in choices:
        raise ValueError(f"unknown {kind} {value!r} (choose from: {', '.join(choices)})")


class Decider:
    """A budgeted query decider for a stream of class-probability rows, or of regression rows.

    Parameters
    ----------
    strategy
        Query rule, by CLI name (see :data:`streamal.decider.STRATEGIES` and
        :data:`streamal.decider.REGRESSION_STRATEGIES`), one
        made for ``task`` (:func:`strategies_for`).
    budget
        Fraction of events that may be queried, ``0 < b <= 1``.
    budget_manager
        ``"estimated"`` or ``"biqf"``; defaults to the strategy's own choice.
    measure
        ``"least_confidence"``, ``"margin"``, ``"entropy"``, or a committee
        measure, ``"vote_entropy"`` or ``"kl_consensus"``; for regression
        ``"interval_width"`` or ``"committee_variance"`` (``"leverage"`` and
        ``"density_ratio"`` are their strategies' own); defaults to the strategy's own choice,
        or for random and periodic sampling to the task's
        (``least_confidence``, ``interval_width``).
    hard_cap
        Never spend more than ``floor(b n) + 1`` labels in the first ``n`` events.
    drift_aware
        Watch the labeled error stream (:meth:`observe_errors`) with river's
        ``drift.ADWIN``; on a drift, reset the thresholds (``θ``, the quantile
        filter's window) and the spending estimate, so labels come faster for
        the next ``w`` events, up to ``b (n + w)`` labels. Outside these bursts
        the hard cap holds (``floor(b n) + 1``), so a burst is borrowed from
        the long run, which still holds the budget. With ``hard_cap`` as well,
        there are no bursts beyond the cap.
    drift_delta
        ``delta`` of ADWIN (river: 0.002); smaller detects fewer, surer drifts.
    window
        ``w`` of the estimated budget (Žliobaitė: 100).
    biqf_window, tolerance
        ``w`` and ``w_tol`` of the balanced quantile filter (Kottke: 100, 50;
        the tolerance is the strategy's own unless given: 10 for the density ratio).
    seed
        Seed of the decider's own generator.
    n_features
        Width of the feature rows, for strategies that need them
        (:attr:`needs_features`; :class:`streamal.features.FeatureEncoder`'s default).
    pending_events, pending_radius
        Delay-aware querying (see :mod:`streamal.decider.pending_window`): for
        ``pending_events`` (the label delay ``D``; 0, the default, turns it off)
        after a query, do not ask about events within ``pending_radius`` of it
        (standardised feature units). It needs feature rows.
    task
        ``"classification"`` (rows of class probabilities) or ``"regression"``
        (rows of predicted value and predictive standard deviation, see
        :meth:`decide`). A strategy or measure made for another task is refused.
    **parameters
        The strategy's parameters (e.g. ``step=0.01`` for variable uncertainty).

    Examples
    --------

    >>> import numpy as np
    >>> decider = Decider("variable_uncertainty", budget=0.1, seed=1)
    >>> proba = np.random.default_rng(0).dirichlet([2, 2], size=10_000)
    >>> queried, scores = decider.decide(proba)
    >>> decider.events_seen, decider.labels_spent, round(decider.spent_fraction, 3)
    (10000, 1039, 0.104)

    Deciding in batches of any size gives the same answers, and the state can
    be saved and restored mid-stream:

    >>> a = Decider("split", budget=0.1, seed=5)
    >>> b = Decider("split", budget=0.1, seed=5)
    >>> first = a.decide(proba)[0]
    >>> saved = b.state_dict(); _ = b.decide(proba[:10]); b.load_state_dict(saved)
    >>> second = np.concatenate([b.decide(proba[i:i + 7])[0] for i in range(0, len(proba), 7)])
    >>> bool((first == second).all())
    True

    """

    def __init__(
        self,
        strategy: str = DEFAULT_STRATEGY,
        budget: float = 0.1,
        *,
        budget_manager: str | None = None,
        measure: str | None = None,
        hard_cap: bool = False,
        drift_aware: bool = False,
        drift_delta: float = 0.002,
        window: int = 100,
        biqf_window: int = 100,
        tolerance: float | None = None,
        seed: int = 0,
        n_features: int = 48,
        pending_events: int = 0,
        pending_radius: float = 0.5,
        task: str = "classification",
        **parameters: float,
    ) -> None:
        check_strategy(strategy, task)
        if not (isinstance(budget, int | float) and 0.0 < budget <= 1.0):
            raise ValueError(f"budget must be in (0, 1], got {budget!r}")
        kind = ALL_STRATEGIES[strategy]
        own_tolerance = kind.tolerance if tolerance is None else tolerance
        if int(window) < 1 or int(biqf_window) < 1 or not own_tolerance > 0 or int(n_features) < 1:
            raise ValueError("window, biqf_window, tolerance and n_features must be positive")
        if budget_manager is not None:
            _check_choice("budget manager", budget_manager, BUDGET_MANAGERS)
            if budget_manager not in budget_managers_of(strategy):
                raise ValueError(
                    f"budget manager 'none' would let {strategy!r} ask as often as it likes: "
                    "only random and periodic pace themselves"
                )
        if measure is not None:
            _check_choice("measure", measure, MEASURES)
            if measure not in measures_for(task):
                raise ValueError(
                    f"measure {measure!r} is not made for {task} "
                    f"(choose from: {', '.join(measures_for(task))})"
                )
        self.task = task
        self.strategy = strategy
        self.budget = float(budget)
        self.seed = seed

        self.codes = np.zeros(L.N_CODES, dtype=np.int64)
        if measure is not None:
            self.codes[L.MEASURE] = MEASURES[measure]
        elif (kind.measure in REGRESSION_MEASURES) == (task == "regression"):
            self.codes[L.MEASURE] = kind.measure
        else:  # random and periodic serve both tasks: the task's measure scores their events
            self.codes[L.MEASURE] = DEFAULT_MEASURES[task]
        # Leverage's utility is read off its own matrix, the density ratio's off its own rings,
        # which only the strategy of that name keeps.
        for own, rule in ((LEVERAGE, leverage.RULE), (DENSITY_RATIO, density_ratio.RULE)):
            if (self.codes[L.MEASURE] == own) != (kind.rule == rule):
                name = _name_of(own, MEASURES)
                raise ValueError(f"the {name} measure is the {name} strategy's, and only its")
        self.codes[L.RULE] = kind.rule
        self.codes[L.BUDGET_MANAGER] = (
            kind.budget_manager if budget_manager is None else BUDGET_MANAGERS[budget_manager]
        )

        self.params = np.zeros(L.N_PARAMS)
        self.params[L.FIXED_THETA] = math.nan
        self.params[L.SELECTIVE_B] = math.nan
        self.params[L.BUDGET] = self.budget
        numerator, denominator = budget_fraction(self.budget)
        self.params[L.BUDGET_NUMERATOR] = numerator
        self.params[L.BUDGET_DENOMINATOR] = denominator
        self.params[L.WINDOW] = int(window)
        self.params[L.BIQF_WINDOW] = int(biqf_window)
        self.params[L.BIQF_TOLERANCE] = float(own_tolerance)
        self.hard_cap = bool(hard_cap)
        self.drift_aware = bool(drift_aware)
        # Drift-aware spending pays back its bursts under the hard cap (see budget.within_cap).
        self.params[L.HARD_CAP] = 1.0 if hard_cap or drift_aware or kind.capped else 0.0
        if drift_aware and not hard_cap:
            self.params[L.CAP_RESERVE] = int(window)
        self.detector = drift.ADWIN(delta=drift_delta) if drift_aware else None
        self.params[L.N_FEATURES] = int(n_features)
        self.params[L.COVERAGE] = _DEFAULT_COVERAGE
        self.params[L.INTERVAL_Z] = normal_quantile(_DEFAULT_COVERAGE)
        for slot, value in kind.resolve(self.budget, parameters).items():
            self.params[slot] = value
        for name, (slot, _) in kind.parameters.items():
            if slot == L.OWN_WINDOW and self.params[slot] < 1:
                raise ValueError(f"{name} must be at least 1")
        self.params[L.OWN_WINDOW] = int(self.params[L.OWN_WINDOW])
        #: the rules a meta-strategy chooses between, each a decider of its own
        self.arms = [
            Decider(
                arm,
                budget,
                budget_manager=budget_manager,
                measure=measure,
                window=window,
                biqf_window=biqf_window,
                tolerance=tolerance,
                seed=seed + 1 + i,
                n_features=n_features,
            )
            for i, arm in enumerate(getattr(kind, "arms", ()))
        ]
        if self.arms:
            if self.params[L.BANDIT_RECEIPTS] < 1:
                raise ValueError("receipts must be at least 1")
            if not 0.0 <= self.params[L.BANDIT_RANDOM_SHARE] <= 1.0:
                raise ValueError("random_share must be in [0, 1]")
            self.params[L.BANDIT_RECEIPTS] = int(self.params[L.BANDIT_RECEIPTS])
            self.params[L.BANDIT_ARMS] = len(self.arms)
            # The rules pace themselves without a cap, so the mixture may lean over the
            # budget; the cap on the mixture is what holds it. An untrained model gains the
            # most from its first labels, so unless the strict cap was asked for, the first
            # w events may borrow w events' labels (as a drift burst does), paid back after.
            self.params[L.HARD_CAP] = 1.0
            if not hard_cap:
                self.params[L.CAP_RESERVE] = int(window)

        if int(pending_events) < 0 or not pending_radius >= 0:
            raise ValueError("pending_events and pending_radius must not be negative")
        self.params[L.PENDING_EVENTS] = int(pending_events)
        self.params[L.PENDING_RADIUS] = float(pending_radius)
        self.params[L.REGION] = L.N_SCALARS + 2 * int(biqf_window)
        self.params[L.PENDING_REGION] = self.params[L.REGION] + kind.region_size(self.params)
        pending = 0
        if pending_events:
            self.params[L.PENDING_SIZE] = capacity(self.budget, int(pending_events))
            pending = 2 + int(self.params[L.PENDING_SIZE]) * (int(n_features) + 1)
        self.state = np.zeros(int(self.params[L.PENDING_REGION]) + pending)
        kind.start_region(self.params, self.state)
        self.state[L.THETA] = self.params[L.THETA0]
        if self.arms:
            self.state[L.BURST_UNTIL] = self.params[L.CAP_RESERVE]
        self.rng = seed_state(seed)
        # Threshold rules take the shortest way through decide(): per-call overhead counts there.
        # The regression measures and rules are only in the rich loop.
        self._plain = not (
            self.needs_features or self.needs_committee or self.arms or task == "regression"
        )

    @property
    def needs_features(self) -> bool:
        """Whether :meth:`decide` needs the events' feature rows."""
        return (
            ALL_STRATEGIES[self.strategy].needs_features
            or self.params[L.PENDING_EVENTS] > 0
            or any(arm.needs_features for arm in self.arms)
        )

    @property
    def needs_committee(self) -> bool:
        """Whether :meth:`decide` needs the committee members' rows (or predicted values)."""
        return int(self.codes[L.MEASURE]) in COMMITTEE_MEASURES

    @property
    def needs_labels(self) -> bool:
        """Whether the strategy learns from labeled events (see :meth:`learn`)."""
        return ALL_STRATEGIES[self.strategy].needs_labels or any(a.needs_labels for a in self.arms)

    @property
    def needs_answers(self) -> bool:
        """Whether the strategy learns which of its queries paid off (see :meth:`credit`)."""
        return bool(self.arms)

    @property
    def n_features(self) -> int:
        return int(self.params[L.N_FEATURES])

    def _features(self, features: np.ndarray | None, n: int) -> np.ndarray:
        if not self.needs_features:
            return _NO_FEATURES
        if features is None:
            raise ValueError(
                f"strategy {self.strategy!r} needs the events' features: "
                f"decide(proba, features=<events × {self.n_features} float matrix>)"
            )
        features = np.ascontiguousarray(features, dtype=np.float64)
        if features.shape != (n, self.n_features):
            raise ValueError(
                f"features must have shape ({n}, {self.n_features}), got {features.shape}"
            )
        if not np.isfinite(features).all():
            raise ValueError("features must be finite")
        return features

    def _committee(self, committee: np.ndarray | None, n: int) -> np.ndarray:
        if not self.needs_committee:
            return _NO_COMMITTEE
        if committee is None:
            raise ValueError(
                f"measure {_name_of(int(self.codes[L.MEASURE]), MEASURES)!r} needs the "
                "committee: decide(proba, committee=<events × members × classes array>)"
            )
        committee = np.ascontiguousarray(committee, dtype=np.float64)
        last = "1" if self.task == "regression" else "classes"
        if committee.ndim != 3 or committee.shape[0] != n:
            raise ValueError(
                f"committee must have shape ({n}, members, {last}), got {committee.shape}"
            )
        if self.codes[L.MEASURE] == COMMITTEE_VARIANCE and committee.shape[2] < 1:
            raise ValueError(f"committee must have shape ({n}, members, 1), got {committee.shape}")
        return committee

    def decide(
        self,
        proba: np.ndarray,
        features: np.ndarray | None = None,
        committee: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Decide a batch of probability rows (n × k, classes in a fixed order).

        A regression decider's rows are n × 2 instead: the model's predicted
        value and its predictive standard deviation (NaN where it gives none).
        ``features`` (n × :attr:`n_features`, e.g. from
        :class:`streamal.features.FeatureEncoder`) is required by the strategies
        that :attr:`needs_features`, ``committee`` (n × members × classes) by
        the committee measures (:attr:`needs_committee`; n × members × 1, the
        members' predicted values, for regression); both are ignored
        otherwise. Returns the boolean query mask and the score (uncertainty,
        disagreement or the strategy's utility; NaN where a regression
        utility is unknown) of every row.
        """
        proba = np.ascontiguousarray(proba, dtype=np.float64)
        if self.task == "regression":
            if proba.ndim != 2 or proba.shape[1] != 2:
                raise ValueError(
                    f"regression rows must be n × 2 (value, σ), got shape {proba.shape}"
                )
        elif proba.ndim != 2:
            raise ValueError(f"proba must be 2-D (events × classes), got shape {proba.shape}")
        queried = np.zeros(proba.shape[0], dtype=np.bool_)
        scores = np.empty(proba.shape[0], dtype=np.float64)
        if self._plain:
            decide_batch(proba, self.codes, self.params, self.state, self.rng, queried, scores)
            return queried, scores
        features = self._features(features, proba.shape[0])
        committee = self._committee(committee, proba.shape[0])
        if self.arms:
            advice = np.empty((proba.shape[0], len(self.arms)), dtype=np.bool_)
            for e, arm in enumerate(self.arms):
                advice[:, e] = arm.decide(proba, features, committee)[0]
            arrays = (self.params, self.state, self.rng)
            bandit.decide(proba, advice, features, *arrays, queried, scores)
            return queried, scores
        decide_batch_rich(
            proba,
            features,
            committee,
            self.codes,
            self.params,
            self.state,
            self.rng,
            queried,
            scores,
        )
        return queried, scores

    def learn(self, features: np.ndarray, classes: np.ndarray | None = None) -> None:
        """Tell the decider about labeled events: their feature rows and class indices.

        Class indices are columns of the probability rows :meth:`decide` is
        given; PAL needs them, the regression rules only the feature rows
        (``classes`` may be omitted). Strategies that do not :attr:`needs_labels` ignore
        the call.
        """
        if not self.needs_labels:
            return
        if classes is None:
            if self.task != "regression":
                raise ValueError(f"strategy {self.strategy!r} learns the labeled class indices")
            features = np.asarray(features, dtype=np.float64)
            if features.ndim != 2:
                raise ValueError(f"features must be 2-D, got shape {features.shape}")
            classes = np.zeros(features.shape[0], dtype=np.int64)
        classes = np.ascontiguousarray(classes, dtype=np.int64)
        if classes.ndim != 1 or (classes < 0).any():
            raise ValueError("classes must be a 1-D array of class indices (>= 0)")
        features = self._features(features, classes.shape[0])
        learn_batch(features, classes, self.codes, self.params, self.state)
        for arm in self.arms:
            arm.learn(features, classes)

    def credit(self, numbers: np.ndarray, errors: np.ndarray) -> None:
        """Tell the decider which of its queries were answered, and whether the model erred.

        ``numbers`` are query numbers (the decider's count of queries before
        each one: the first query is 0), ``errors`` whether the model's
        prediction at query time was wrong. Strategies that do not
        :attr:`needs_answers` ignore the call.
        """
        if not self.needs_answers:
            return
        numbers = np.ascontiguousarray(numbers, dtype=np.int64)
        errors = np.ascontiguousarray(errors, dtype=np.bool_)
        if numbers.shape != errors.shape or numbers.ndim != 1:
            raise ValueError("numbers and errors must be 1-D arrays of the same length")
        bandit.credit(numbers, errors, self.params, self.state)

    def query_probability(self, scores: np.ndarray, seen_before: int = 0) -> np.ndarray:
        """The chance each event :meth:`decide` asked about had of being asked, from its scores.

        The bandit asks with a known probability (its score, ``p``, at least
        its random share of the budget). A regression rule's turns of the even
        share (the events after the ``seen_before`` the decider had seen
        before the call) are a sample of the stream by time alone, one event
        in ``1 / (f b)``, so their chance is ``f b``. The other rules are
        treated as asking for certain what they ask, given the stream before
        it. Weighing each answer by ``1 / p`` makes the answers a fair sample
        of the events (:mod:`streamal.deployed_accuracy`,
        :mod:`streamal.deployed_error`).

        >>> decider = Decider("interval_width", 0.2, task="regression", even_share=0.5)
        >>> _ = decider.decide(np.zeros((15, 2)))  # the turns: events 1 and 11
        >>> decider.query_probability(np.zeros(10), seen_before=5).tolist()  # events 6 … 15
        [1.0, 1.0, 1.0, 1.0, 1.0, 0.1, 1.0, 1.0, 1.0, 1.0]
        """
        scores = np.asarray(scores, dtype=np.float64)
        if self.arms:
            return scores.copy()
        chances = np.ones_like(scores)
        turns = even_turns(self.params, float(seen_before), scores.shape[0])
        chances[turns] = self.params[L.EVEN_SHARE] * self.budget
        return chances

    def arm_weights(self) -> np.ndarray:
        """The chance of following each of :attr:`arms` now (empty for a single rule)."""
        if not self.arms:
            return np.empty(0)
        return bandit.choice_probabilities(self.params, self.state)

    def observe_errors(self, errors: np.ndarray) -> int:
        """Feed the labeled error stream (1: the model's prediction at query time was wrong).

        Returns how many drifts were detected; each resets the thresholds and
        the spending estimate (see ``drift_aware``). Without ``drift_aware``
        the call is ignored.
        """
        if self.detector is None:
            return 0
        detected = 0
        for error in np.asarray(errors, dtype=np.float64).ravel().tolist():
            self.detector.update(error)
            if self.detector.drift_detected:
                detected += 1
                self._restart_thresholds()
        return detected

    def _restart_thresholds(self) -> None:
        self.state[L.DRIFTS] += 1.0
        self.state[L.THETA] = self.params[L.THETA0]
        self.state[L.ESTIMATE] = 0.0
        self.state[L.WINDOW_COUNT] = 0.0
        self.state[L.WINDOW_HEAD] = 0.0
        if self.params[L.CAP_RESERVE] > 0:
            self.state[L.BURST_UNTIL] = self.state[L.SEEN] + self.params[L.CAP_RESERVE]
        for arm in self.arms:
            arm._restart_thresholds()

    @property
    def drifts(self) -> int:
        """Drifts detected on the labeled error stream so far."""
        return int(self.state[L.DRIFTS])

    @property
    def name(self) -> str:
        """Strategy/budget manager/measure, e.g. ``split/estimated/least_confidence``."""
        manager = _name_of(int(self.codes[L.BUDGET_MANAGER]), BUDGET_MANAGERS)
        measure = _name_of(int(self.codes[L.MEASURE]), MEASURES)
        cap = ("+cap" if self.hard_cap else "") + ("+drift" if self.drift_aware else "")
        cap += "+delay" if self.params[L.PENDING_EVENTS] else ""
        return f"{self.strategy}/{manager}{cap}/{measure}"

    @property
    def events_seen(self) -> int:
        return int(self.state[L.SEEN])

    @property
    def queries_made(self) -> int:
        """Queries made, vetoed ones included: the next query's number (the bandit's receipts)."""
        return int(self.state[L.QUERIED])

    @property
    def labels_spent(self) -> int:
        """Queries made, less those a cost or answer budget vetoed (:meth:`refund`)."""
        return int(self.state[L.QUERIED] - self.state[L.REFUNDED])

    @property
    def spent_fraction(self) -> float:
        """Labels spent over events seen (0 before the first event)."""
        seen = self.state[L.SEEN]
        return float(self.labels_spent / seen) if seen else 0.0

    def refund(self, vetoed: int) -> None:
        """Give back the labels of ``vetoed`` queries a cost or answer budget did not let out.

        The decider paced itself counting them; uncounted, it asks again later
        and spends what the budget allows instead of falling short of it. They
        keep their numbers: a number says which query an answer is to.

        >>> decider = Decider("periodic", 0.5)
        >>> decider.decide(np.zeros((4, 2)))[0].tolist()  # every other event
        [False, True, False, True]
        >>> decider.refund(1)  # the second query was vetoed: it catches up
        >>> decider.decide(np.zeros((2, 2)))[0].tolist(), decider.labels_spent, decider.queries_made
        ([True, True], 3, 4)
        """
        if vetoed:
            self.state[L.REFUNDED] += vetoed
            # The estimated gate's running count of recent queries forgets them too.
            self.state[L.ESTIMATE] = max(0.0, self.state[L.ESTIMATE] - vetoed)

    @property
    def threshold(self) -> float:
        """The current threshold ``θ``: of confidence (variable uncertainty), or of utility.

        A regression rule's utility threshold is NaN until its first positive utility.
        """
        return float(self.state[L.THETA])

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the mutable arrays; with the same constructor arguments they restore it.

        A drift-aware decider's detector travels as the bytes of its pickle.
        """
        saved = {"state": self.state.copy(), "rng": self.rng.copy()}
        if self.detector is not None:
            saved["detector"] = np.frombuffer(pickle.dumps(self.detector), dtype=np.uint8).copy()
        for e, arm in enumerate(self.arms):
            saved |= {f"arm{e}.{key}": value for key, value in arm.state_dict().items()}
        return saved

    def _arm_states(self, saved: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
        return [
            {key.partition(".")[2]: value for key, value in saved.items() if key.startswith(prefix)}
            for prefix in (f"arm{e}." for e in range(len(self.arms)))
        ]

    def _fits(self, saved: dict[str, np.ndarray]) -> bool:
        """Whether ``saved`` came from a decider configured like this one."""
        if "state" not in saved or "rng" not in saved:
            return False
        if saved["state"].shape != self.state.shape or saved["rng"].shape != self.rng.shape:
            return False
        if (self.detector is None) != ("detector" not in saved):
            return False
        arm_states = zip(self.arms, self._arm_states(saved), strict=True)
        return all(arm._fits(arm_saved) for arm, arm_saved in arm_states)

    def configured_like(self, other: Decider) -> bool:
        """Whether ``other`` decides by the same rule, budget and parameters as this one.

        Its state must have the same layout too: a decider pickled by a streamal
        whose rule kept less state (``random`` before its stratified draw) would
        be read past its end by this one's kernel.
        """
        return (
            repr(self) == repr(other)
            and self.state.shape == other.state.shape
            and np.array_equal(self.codes, other.codes)
            and np.array_equal(self.params, other.params, equal_nan=True)
            and len(self.arms) == len(other.arms)
            and all(a.configured_like(b) for a, b in zip(self.arms, other.arms, strict=True))
        )

    def continue_from(self, other: Decider) -> bool:
        """Take over ``other``'s state (thresholds, weights, spending) when it fits this one.

        A decider restored from a snapshot and rebuilt with other parameters
        (or by a newer streamal, whose parameters have more slots) keeps what
        it learned, as long as its state has the same layout. Returns whether
        it did.
        """
        if repr(self) != repr(other):
            return False
        saved = other.state_dict()
        if not self._fits(saved):
            return False
        self.load_state_dict(saved)
        return True

    def load_state_dict(self, saved: dict[str, np.ndarray]) -> None:
        if not self._fits(saved):
            raise ValueError("saved decider state does not fit this decider's configuration")
        for arm, arm_saved in zip(self.arms, self._arm_states(saved), strict=True):
            arm.load_state_dict(arm_saved)
        self.state[:] = saved["state"]
        self.rng[:] = saved["rng"]
        if self.detector is not None:
            self.detector = pickle.loads(saved["detector"].tobytes())

    def __repr__(self) -> str:
        return f"Decider({self.name}, budget={self.budget:g}, seed={self.seed})"
