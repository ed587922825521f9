"""Several annotators per query: how reliable each one is, and how their answers combine.

A label may come from any of several annotators, some better than others,
and the same query may be answered more than once. This module holds the
rules, with no I/O; :class:`streamal.engine.Engine` applies them.

**Reliability** (an online, one-coin Dawid–Skene-lite). Each annotator ``a``
has a Beta(α, β) belief about the probability ``r_a`` that its answer is the
true class, starting from the prior (α₀, β₀) = (2, 1) (better than chance,
weakly held). Its estimate is the posterior mean ``r_a = α / (α + β)``. Every
labeled example the model learns updates it:

- with two answers or more, each answering annotator scores a success
  (α += 1) if its answer is the weighted vote of the *other* answers and a
  failure (β += 1) otherwise (no update when the others are tied) — the E
  step of Dawid & Skene's EM replaced by a hard, leave-one-out consensus,
  the M step by a Beta count. Leaving the annotator's own answer out keeps
  an annotator already believed reliable from confirming itself; with two
  answers it scores agreement, whose rate grows with accuracy, so the
  estimates rank annotators rightly but sit below their true accuracy;
- with one answer, the only other witness is the model: if its probability
  for its own prediction at query time was at least ``confident``, the
  annotator scores a success if it agreed with the prediction, a failure if
  not; an unsure model says nothing about the annotator.

**Aggregation** (reliability-weighted vote). With ``C`` classes and
annotators who err uniformly over the other classes, the posterior log-odds
of class ``k`` given the answers is ``Σ_{j answered k} w_j`` with
``w_j = log(r_j (C − 1) / (1 − r_j))``: the class with the highest sum wins.
Ties go to the model's prediction at query time when it is among them,
otherwise to the tied class answered first.

**Second labels.** When every answer so far disagrees with a model that was
confident (as above), one more answer is asked for (:meth:`Annotators.second_label`).

References
----------
M. Herde, D. Huseljic, B. Sick, A. Calma. *A Survey on Cost Types, Interaction
Schemes, and Annotator Performance Models in Selection Algorithms for Active
Learning in Classification.* IEEE Access 9, 2021.
A. P. Dawid, A. M. Skene. *Maximum Likelihood Estimation of Observer
Error-Rates Using the EM Algorithm.* JRSS C 28(1), 1979.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

__all__ = ["OTHER", "Annotators", "Answer", "BoundedNames", "CostBudget", "weighted_vote"]

#: The metric label of every annotator beyond the tracked ones.
OTHER = "other"


@dataclass(frozen=True, slots=True)
class Answer:
    """One annotator's answer to a query; ``annotator`` ``None`` is an anonymous one."""

    label: Hashable
    annotator: str | None = None
    cost: float | None = None


def weighted_vote(
    answers: Sequence[Answer],
    weights: Sequence[float],
    prediction: Hashable | None = None,
) -> Hashable:
    """The class with the largest sum of its answerers' weights.

    Ties go to ``prediction`` (the model's) when it is tied, else to the tied
    class answered first.

    >>> answers = [Answer("cat", "ann"), Answer("dog", "bob"), Answer("dog", "cid")]
    >>> weighted_vote(answers, [2.0, 0.8, 0.8])  # 2.0 > 0.8 + 0.8
    'cat'
    >>> weighted_vote(answers, [1.6, 0.8, 0.8])  # 1.6 = 1.6: the first answered
    'cat'
    >>> weighted_vote(answers, [1.6, 0.8, 0.8], prediction="dog")
    'dog'

    """
    scores: dict[Hashable, float] = {}
    for answer, weight in zip(answers, weights, strict=True):
        scores[answer.label] = scores.get(answer.label, 0.0) + weight
    best = max(scores.values())
    # Equal sums of the same weights may differ in the last bit: compare with a tolerance.
    tied = [label for label, score in scores.items() if math.isclose(score, best, abs_tol=1e-9)]
    return prediction if prediction in tied else tied[0]


class Annotators:
    """Reliability estimates of the annotators and the rules that use them.

    Parameters
    ----------
    confident
        The model's probability for its prediction from which it is trusted
        to judge a lone answer, and to ask for a second label when the
        answers disagree with it; above 1, never.
    labels_per_query
        How many answers each query gets from the labelers (the example is
        learned once they are in, or once the wait is over).
    wait
        How long, in the events' time unit, answers still expected for a
        query are waited for after its first answer; then the model learns
        what came. 0: not at all.
    prior
        (α₀, β₀) of every annotator's Beta belief in its accuracy.

    Examples
    --------

    Alice is right twice by a confident model and wrong once; Bob, with no
    witness, keeps the prior:

    >>> annotators = Annotators(confident=0.9)
    >>> annotators.observe([Answer("a", "alice")], y_pred="a", confidence=0.95, y="a")
    >>> annotators.observe([Answer("a", "alice")], y_pred="a", confidence=0.99, y="a")
    >>> annotators.observe([Answer("b", "alice")], y_pred="a", confidence=0.92, y="b")
    >>> annotators.observe([Answer("b", "bob")], y_pred="a", confidence=0.6, y="b")
    >>> round(annotators.accuracy("alice"), 3), round(annotators.accuracy("bob"), 3)  # 4/6, 2/3
    (0.667, 0.667)
    >>> annotators.counts["alice"]
    [4.0, 2.0]

    """

    def __init__(
        self,
        confident: float = 0.9,
        labels_per_query: int = 1,
        wait: float = 0.0,
        prior: tuple[float, float] = (2.0, 1.0),
    ) -> None:
        if not (prior[0] > 0 and prior[1] > 0):
            raise ValueError(f"the Beta prior needs two positive counts, got {prior!r}")
        if labels_per_query < 1:
            raise ValueError(f"labels_per_query must be at least 1, got {labels_per_query}")
        if not wait >= 0:
            raise ValueError(f"wait must be zero or positive, got {wait!r}")
        self.confident = confident
        self.labels_per_query = labels_per_query
        self.wait = wait
        self.prior = prior
        #: ``{annotator: [α, β]}``, in the order first seen
        self.counts: dict[str, list[float]] = {}

    def accuracy(self, annotator: str | None) -> float:
        """The posterior mean of the annotator's accuracy (the prior's for one never seen)."""
        alpha, beta = self.counts.get(annotator, self.prior) if annotator else self.prior
        return alpha / (alpha + beta)

    def weight(self, annotator: str | None, n_classes: int) -> float:
        """``log(r (C − 1) / (1 − r))``: the log-odds an answer of this annotator adds.

        >>> round(Annotators().weight("new", n_classes=2), 4)  # log(2/3 / (1/3)) = log 2
        0.6931

        """
        r = self.accuracy(annotator)
        return math.log(r * (max(n_classes, 2) - 1) / (1.0 - r))

    def aggregate(
        self, answers: Sequence[Answer], classes: Iterable[Hashable], y_pred: Hashable | None
    ) -> Hashable:
        """The reliability-weighted vote of ``answers`` (``classes``: those the model knows)."""
        n_classes = len(set(classes) | {a.label for a in answers})
        weights = [self.weight(a.annotator, n_classes) for a in answers]
        return weighted_vote(answers, weights, y_pred)

    def _trusted(self, y_pred: Hashable | None, confidence: float | None) -> bool:
        return y_pred is not None and confidence is not None and confidence >= self.confident

    def second_label(
        self, answers: Sequence[Answer], y_pred: Hashable | None, confidence: float | None
    ) -> bool:
        """Whether to ask once more: every answer disagrees with a confident model.

        >>> annotators = Annotators(confident=0.9)
        >>> annotators.second_label([Answer("b")], y_pred="a", confidence=0.95)
        True
        >>> annotators.second_label([Answer("b")], y_pred="a", confidence=0.7)
        False

        """
        return self._trusted(y_pred, confidence) and all(a.label != y_pred for a in answers)

    def observe(
        self,
        answers: Sequence[Answer],
        y_pred: Hashable | None,
        confidence: float | None,
        y: Hashable,
    ) -> None:
        """Update the estimates from one learned example (the rule is in the module's docstring)."""
        if len(answers) == 1:
            if self._trusted(y_pred, confidence):
                self._score(answers[0], y_pred)
            return
        n_classes = len({a.label for a in answers} | {y})
        verdicts = []  # all judged on the estimates before this example, then applied
        for i, answer in enumerate(answers):
            others = [*answers[:i], *answers[i + 1 :]]
            weights = [self.weight(a.annotator, n_classes) for a in others]
            scores: dict[Hashable, float] = {}
            for other, weight in zip(others, weights, strict=True):
                scores[other.label] = scores.get(other.label, 0.0) + weight
            best = max(scores.values())
            leaders = [k for k, v in scores.items() if math.isclose(v, best, abs_tol=1e-9)]
            if len(leaders) == 1:  # the others disagree evenly: no evidence
                verdicts.append((answer, leaders[0]))
        for answer, truth in verdicts:
            self._score(answer, truth)

    def _score(self, answer: Answer, truth: Hashable) -> None:
        if answer.annotator is not None:
            counts = self.counts.setdefault(answer.annotator, list(self.prior))
            counts[0 if answer.label == truth else 1] += 1.0


class CostBudget:
    """Spend at most ``per_event`` cost units per event seen.

    Spent cost is the actual cost of the answers received (an answer without
    a cost counts 1) plus the expected cost of the queries still waiting for
    an answer; the expected cost is the running mean of the costs observed
    (``expected_cost`` until the first). A query is allowed when the spent
    cost after it stays within ``per_event · events``.

    Examples
    --------

    >>> budget = CostBudget(per_event=0.5)
    >>> budget.see(4)          # 4 events: 2 cost units may be spent
    >>> budget.ask("e1"), budget.ask("e2"), budget.ask("e3")
    (True, True, False)
    >>> budget.pay("e1", 0.2)  # cheaper than expected: the mean falls to 0.2
    >>> budget.spent, budget.expected_cost, budget.ask("e3")  # 0.2 + 1·0.2 + 0.2 <= 2
    (0.4, 0.2, True)

    """

    def __init__(self, per_event: float, expected_cost: float = 1.0) -> None:
        if not (per_event > 0 and math.isfinite(per_event)):
            raise ValueError(f"the cost budget must be a positive number, got {per_event!r}")
        if not (expected_cost > 0 and math.isfinite(expected_cost)):
            raise ValueError(f"the expected cost must be positive, got {expected_cost!r}")
        self.per_event = per_event
        self.initial_cost = expected_cost
        self.events = 0
        #: cost of the answers received
        self.paid = 0.0
        self.answers = 0
        #: ``{query id: answers still expected}``, and their sum
        self.waiting: dict[str, int] = {}
        self.awaited = 0

    @property
    def expected_cost(self) -> float:
        return self.paid / self.answers if self.answers else self.initial_cost

    @property
    def spent(self) -> float:
        """Answers' costs plus the expected cost of the answers awaited."""
        return self.paid + self.awaited * self.expected_cost

    @property
    def label_fraction(self) -> float:
        """The fraction of events the decider may query: ``min(1, per_event / expected cost)``."""
        return min(1.0, self.per_event / self.expected_cost)

    def see(self, n: int) -> None:
        """Count ``n`` more events."""
        self.events += n

    def ask(self, query_id: str, answers: int = 1) -> bool:
        """Reserve the expected cost of ``answers`` answers to ``query_id``, if it fits."""
        # A whisker of tolerance: 0.1 · 30 events must allow 3 answers of cost 1.
        if self.spent + answers * self.expected_cost > self.per_event * self.events + 1e-9:
            return False
        self.waiting[query_id] = self.waiting.get(query_id, 0) + answers
        self.awaited += answers
        return True

    def pay(self, query_id: str, cost: float | None) -> None:
        """An answer to ``query_id`` came, at ``cost`` (``None``: 1)."""
        self.paid += 1.0 if cost is None else cost
        self.answers += 1
        self.cancel(query_id, 1)

    def cancel(self, query_id: str, n: int | None = None) -> None:
        """Stop expecting ``n`` (default: all) answers to ``query_id``: they will never come."""
        left = self.waiting.pop(query_id, 0)
        gone = left if n is None else min(n, left)
        self.awaited -= gone
        if left > gone:
            self.waiting[query_id] = left - gone


class BoundedNames:
    """At most ``limit`` distinct names for metric labels: the first seen, then :data:`OTHER`.

    >>> names = BoundedNames(limit=2)
    >>> [names("alice"), names("bob"), names("carol"), names("alice"), names(None)]
    ['alice', 'bob', 'other', 'alice', 'other']
    >>> names.tracked
    ['alice', 'bob']

    """

    def __init__(self, limit: int, seen: Iterable[str] = ()) -> None:
        self.limit = limit
        self._tracked: dict[str, None] = {}
        for name in seen:
            self(name)

    @property
    def tracked(self) -> list[str]:
        return list(self._tracked)

    def __call__(self, name: str | None) -> str:
        if name is None or name == OTHER:
            return OTHER
        if name not in self._tracked and len(self._tracked) < self.limit:
            self._tracked[name] = None
        return name if name in self._tracked else OTHER
