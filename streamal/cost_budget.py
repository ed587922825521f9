"""Budgets the engine holds the answers asked for to: in cost units, or in answers, per event."""

from __future__ import annotations

import math

__all__ = ["AnswerBudget", "CostBudget"]


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


class AnswerBudget(CostBudget):
    """Ask for at most ``per_event`` answers per event seen: a label fraction counted in answers.

    In annotator-aware mode one query may be answered by several people
    (``labels_per_query``) and asked again when their answers disagree. Each
    answer is a person's paid work, so each spends from the label budget,
    whatever the annotator's own cost: a query answered twice spends two
    labels. Without this, the decider counted queries, and the answers ran
    past the budget by the re-asks and the extra answers.

    >>> budget = AnswerBudget(per_event=0.1)
    >>> budget.see(20)  # 2 answers may be asked
    >>> budget.ask("e1", answers=2), budget.ask("e2")
    (True, False)
    >>> budget.pay("e1", 5.0)  # a costly answer is still one answer
    >>> budget.spent, budget.expected_cost, budget.label_fraction
    (2.0, 1.0, 0.1)

    """

    def pay(self, query_id: str, cost: float | None) -> None:
        super().pay(query_id, 1.0)
