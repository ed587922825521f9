"""`PendingQueries`: queries sent out and waiting for their label, bounded in count and age."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, fields

__all__ = ["PendingQueries", "PendingQuery"]


@dataclass(frozen=True, slots=True)
class PendingQuery:
    """What the engine remembers of a query until its label arrives."""

    id: str
    x: dict
    ts: float
    y_pred: Hashable | None
    score: float
    #: the model's probability for ``y_pred`` when it asked
    confidence: float | None = None
    #: the decider's number for the query (see :meth:`streamal.decider.Decider.credit`)
    number: int = -1
    #: the chance the decider had of asking it
    probability: float = 1.0

    def __setstate__(self, state: list) -> None:
        # A snapshot from before a field was added holds fewer values: the rest take defaults.
        names = fields(self)
        values = [*state, *(f.default for f in names[len(state) :])]
        for f, value in zip(names, values, strict=True):
            object.__setattr__(self, f.name, value)


class PendingQueries:
    """Queries waiting for a label, oldest first, plus the ids recently answered or dropped.

    A label is joined with its query by id. The store holds at most
    ``max_size`` queries and none older than ``ttl`` (in the events' time
    unit); the oldest are dropped first. It remembers the last ``memory`` ids
    that were answered or dropped (by default the larger of ``4 · max_size``
    and 100 000), so that a late or repeated label can be told apart from one
    nobody asked for.

    Examples
    --------

    >>> pending = PendingQueries(max_size=2, ttl=10.0)
    >>> for i in range(3):
    ...     _ = pending.add(PendingQuery(id=f"e{i}", x={}, ts=float(i), y_pred=None, score=1.0))
    >>> len(pending), pending.status("e0")
    (2, 'expired')
    >>> pending.pop("e1").id, pending.status("e1"), pending.status("zzz")
    ('e1', 'answered', 'unknown')
    >>> [q.id for q in pending.expire(now=12.5)]
    ['e2']

    """

    def __init__(
        self, max_size: int = 100_000, ttl: float = float("inf"), memory: int | None = None
    ):
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        if not ttl > 0:
            raise ValueError("ttl must be positive")
        self.max_size = max_size
        self.ttl = ttl
        self.memory = memory if memory is not None else max(4 * max_size, 100_000)
        self._queries: OrderedDict[str, PendingQuery] = OrderedDict()
        self._closed: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._queries)

    def __contains__(self, query_id: str) -> bool:
        return query_id in self._queries

    def __iter__(self):
        return iter(self._queries.values())

    def _close(self, query_id: str, how: str) -> None:
        self._closed[query_id] = how
        self._closed.move_to_end(query_id)
        while len(self._closed) > self.memory:
            self._closed.popitem(last=False)

    def add(self, query: PendingQuery) -> list[PendingQuery]:
        """Remember ``query``; returns the queries dropped to stay within ``max_size``.

        A query asked again under the same id (a redelivered event) replaces
        the old one and counts as new.
        """
        self._queries.pop(query.id, None)
        self._closed.pop(query.id, None)
        self._queries[query.id] = query
        dropped = []
        while len(self._queries) > self.max_size:
            _, old = self._queries.popitem(last=False)
            self._close(old.id, "expired")
            dropped.append(old)
        return dropped

    def get(self, query_id: str) -> PendingQuery | None:
        """The pending query of ``query_id``, left pending; ``None`` if there is none."""
        return self._queries.get(query_id)

    def pop(self, query_id: str) -> PendingQuery | None:
        """Take the query answered by a label, or ``None`` if it is not pending."""
        query = self._queries.pop(query_id, None)
        if query is not None:
            self._close(query_id, "answered")
        return query

    def learned(self, query_id: str) -> None:
        """Close ``query_id`` as answered, pending here or not: its label reached the model.

        A replica learns the examples other replicas joined, for queries it may
        never have held; a label for one read later is a duplicate, not unknown.

        >>> pending = PendingQueries()
        >>> pending.learned("asked elsewhere")
        >>> pending.status("asked elsewhere")
        'answered'

        """
        self._queries.pop(query_id, None)
        self._close(query_id, "answered")

    def status(self, query_id: str) -> str:
        """``pending``, ``answered``, ``expired`` or ``unknown``."""
        if query_id in self._queries:
            return "pending"
        return self._closed.get(query_id, "unknown")

    def expire(self, now: float) -> list[PendingQuery]:
        """Drop and return the queries asked more than ``ttl`` before ``now``."""
        dropped = []
        while self._queries:
            oldest = next(iter(self._queries.values()))
            if now - oldest.ts <= self.ttl:
                break
            self._queries.popitem(last=False)
            self._close(oldest.id, "expired")
            dropped.append(oldest)
        return dropped
