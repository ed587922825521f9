"""`QueriesLog`: every replica's fold of the queries topic.

The queries topic is the fleet's record of what it asked, as the training
topic is the record of what it learned. Every replica reads all of it, so

- every replica holds every query still waiting for its label, whoever
  asked it: a label is joined by whichever replica holds its labels
  partition now, after any crash or rebalance, and the labels topic needs
  no particular layout;
- every replica knows how far each events partition has been handled: each
  query carries, in the header ``streamal.decided``, the events partition
  its event came from, the offset before which that partition's events had
  their output delivered when the query was decided, and the offset after
  the batch that decided it. A replica taking a partition over resumes no
  earlier than the first (nothing delivered is redone, even when the last
  owner died before it could commit), and an event it reads again below the
  second was decided already, by whichever replica: it is predicted again but
  not decided again (:meth:`streamal.engine.Engine.process`), so the budget
  is spent on each event once.

A query is made pending unless its id is already known here (asked by this
replica, answered, expired) or learned from the training log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from kafka import KafkaConsumer, TopicPartition

from streamal.connectors.recovery import read_to_end
from streamal.messages import InvalidRecord, decode_query
from streamal.pending import PendingQuery
from streamal.snapshot import Snapshot

__all__ = ["DECIDED_HEADER", "QueriesLog", "decided_header", "read_decided"]

log = logging.getLogger("streamal.queries")

DECIDED_HEADER = "streamal.decided"


def decided_header(
    events_topic: str, partition: int, delivered: int, decided: int
) -> tuple[str, bytes]:
    """The header of a query decided in a batch of ``events_topic[partition]``.

    The partition's events before ``delivered`` were handled and their output
    delivered; the batch decided them up to ``decided``.

    >>> decided_header("streamal.events", 3, 1150, 1200)
    ('streamal.decided', b'streamal.events:3:1150:1200')
    >>> read_decided([decided_header("streamal.events", 3, 1150, 1200)], "streamal.events")
    (3, 1150, 1200)

    """
    return DECIDED_HEADER, f"{events_topic}:{partition}:{delivered}:{decided}".encode()


def read_decided(
    headers: Iterable[tuple[str, bytes]] | None, events_topic: str
) -> tuple[int, int, int] | None:
    """``(partition, delivered, decided)`` from a query's headers, if it is ``events_topic``'s.

    A topic name has no colon, so the value splits unambiguously; anything
    else (another events topic, a header written by hand) says nothing.

    >>> read_decided([("streamal.decided", b"other:3:1150:1200")], "streamal.events") is None
    True
    >>> read_decided([("streamal.decided", b"junk")], "streamal.events") is None
    True

    """
    for key, value in headers or ():
        if key != DECIDED_HEADER:
            continue
        topic, *numbers = bytes(value).decode("utf-8", "replace").split(":")
        if topic == events_topic and len(numbers) == 3 and all(n.isdigit() for n in numbers):
            partition, delivered, decided = map(int, numbers)
            return partition, delivered, decided
    return None


class QueriesLog:
    """Read the queries topic into the engine's pending queries and the decided offsets.

    Parameters
    ----------
    reader
        A consumer outside the group (``group_id=None``), used only here.
    topic, events_topic
        The queries topic, and the events topic its ``streamal.decided`` headers count in.
    state
        The live state: its engine's pending queries, its ``delivered`` and
        ``decided`` offsets and ``queries_written`` (how far this log is read) move
        forward here.
    """

    def __init__(
        self, reader: KafkaConsumer, topic: str, events_topic: str, state: Snapshot
    ) -> None:
        self.reader = reader
        self.topic = topic
        self.events_topic = events_topic
        self.state = state
        self.partitions: list[TopicPartition] = []

    def start(self) -> None:
        """Read on from where the state's last snapshot had read (all of it, without one)."""
        found = self.reader.partitions_for_topic(self.topic) or ()
        self.partitions = [TopicPartition(self.topic, p) for p in sorted(found)]
        self.reader.assign(self.partitions)
        read = self.state.queries_written
        for tp in self.partitions:
            if tp.partition in read:
                self.reader.seek(tp, read[tp.partition])
            else:
                self.reader.seek_to_beginning(tp)

    def poll(self) -> int:
        """Fold what has arrived since the last call, without waiting; returns how many."""
        return self.apply(self.reader.poll(timeout_ms=0))

    def catch_up(self, stopping: threading.Event) -> int:
        """Fold everything written before this call; returns how many queries became pending."""
        pending = [0]

        def fold(polled: dict) -> None:
            pending[0] += self.apply(polled)

        read_to_end(self.reader, self.partitions, fold, stopping)
        return pending[0]

    def apply(self, polled: dict) -> int:
        """Fold polled records; returns how many queries became pending."""
        added = 0
        delivered, decided = self.state.delivered, self.state.decided
        for records in polled.values():
            for record in records:
                added += self._pending(record.key, record.value)
                where = read_decided(record.headers, self.events_topic)
                if where is not None:
                    partition, handled, end = where
                    delivered[partition] = max(delivered.get(partition, 0), handled)
                    decided[partition] = max(decided.get(partition, 0), end)
                self.state.queries_written[record.partition] = record.offset + 1
        return added

    def _pending(self, key: bytes | None, raw: bytes) -> int:
        engine = self.state.engine
        # A daemon keys each query by its id: this replica's own queries, read back here,
        # are known without decoding them (a tenth of the events, at 15 µs a query).
        if key is not None and engine.was_queried(key.decode("utf-8", "replace")):
            return 0
        try:
            query = decode_query(raw)
        except InvalidRecord as e:
            # Only daemons write this topic; a stray record must not stop one.
            log.warning("skipping a record on the queries topic that is not a query (%s)", e)
            return 0
        if engine.was_queried(query.id) or query.id in self.state.fold:
            return 0
        proba = query.proba
        guess = max(proba, key=proba.get) if proba else None
        # JSON keys are strings; the model's classes may be integers or booleans.
        y_pred = next((c for c in engine.model.classes if str(c) == guess), guess)
        confidence = proba[guess] if proba else None
        if query.prediction is not None:  # a numeric target's query
            y_pred = query.prediction
        engine.restore_pending(
            PendingQuery(
                query.id,
                query.x,
                query.ts,
                y_pred,
                query.score,
                confidence,
                probability=query.probability,
            )
        )
        return 1
