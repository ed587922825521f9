"""`Delivery`: send the daemon's records and wait until Kafka has them.

Two kinds of failure are told apart. A transient one (the broker is
unreachable, a leader is moving, a request timed out) is waited out with
backoff, for as long as it lasts: the records are sent again, and the input
behind them stays unconsumed meanwhile. A permanent one is the broker's
refusal of one record (too large, an unknown topic, not authorized): sending
it again would fail forever and stop every record behind it, so it is
counted, logged, and replaced by a dead letter saying what was refused and
why; if the dead-letter topic refuses that too, it is counted and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container
from typing import Any, NamedTuple

from kafka import KafkaProducer
from kafka.errors import BrokerResponseError, KafkaError, UnknownTopicOrPartitionError

from streamal.messages import Reason, encode_dead_letter
from streamal.metrics import Metrics

__all__ = ["Delivery", "Outgoing", "is_permanent"]

log = logging.getLogger("streamal.delivery")

#: how long one flush waits before the outage is logged and backed off
_FLUSH_SECONDS = 5.0


class Outgoing(NamedTuple):
    """One record to write, and the role of its topic (a small fixed set, for the metrics).

    A named tuple, not a frozen dataclass: one is made per record written, and
    a frozen dataclass took 2 µs to make here, a tuple a tenth of that.
    """

    topic: str
    key: bytes | None
    value: bytes
    role: str
    headers: tuple[tuple[str, bytes], ...] = ()


def is_permanent(error: BaseException) -> bool:
    """Whether sending the record again cannot succeed: the broker refused it, not the network.

    >>> from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
    >>> is_permanent(MessageSizeTooLargeError()), is_permanent(KafkaTimeoutError())
    (True, False)

    """
    # kafka-python calls an unknown topic retriable (its metadata may be stale), but the
    # daemon creates its topics at start: one missing now was deleted, and stays missing.
    return isinstance(error, UnknownTopicOrPartitionError) or (
        isinstance(error, BrokerResponseError) and not error.retriable
    )


class Delivery:
    """Write records to Kafka, at least once, in the order given per partition.

    Parameters
    ----------
    producer
        The daemon's producer.
    dead_letter_topic
        Where a permanently refused record is reported.
    metrics
        ``undeliverable`` and ``dead_letters`` are counted here.
    backoff
        ``backoff(attempt, what, error)`` waits before the next try (and may raise
        to give up when the daemon is asked to stop).
    """

    def __init__(
        self,
        producer: KafkaProducer,
        dead_letter_topic: str,
        metrics: Metrics,
        backoff: Callable[[int, str, Exception], None],
    ) -> None:
        self.producer = producer
        self.dead_letter_topic = dead_letter_topic
        self.metrics = metrics
        self.backoff = backoff

    def deliver(
        self, outgoing: list[Outgoing], tracked: Container[str] = ()
    ) -> dict[str, dict[int, int]]:
        """Send every record and return once Kafka has each, or refused it for good.

        Returns ``{topic: {partition: next offset}}`` after the records written to
        the ``tracked`` topics (where each record went costs a little per record,
        and the daemon needs it of one topic only).
        """
        written: dict[str, dict[int, int]] = {}
        attempt = 0
        # librdkafka's producer takes a batch with one callback for all its records.
        send_all = getattr(self.producer, "send_all", None) or self._send_each
        while outgoing:
            sending = send_all(outgoing, tracked)
            while not sending.done():
                try:
                    self.producer.flush(timeout=_FLUSH_SECONDS)
                except KafkaError as e:
                    self.backoff(attempt, "delivering to Kafka", e)
                    attempt += 1
            failed = sending.outcome(written)
            retry: list[Outgoing] = []
            transient: BaseException | None = None
            for record, error in failed:
                if is_permanent(error):
                    retry += self._refused(record, error)
                else:
                    retry.append(record)
                    transient = error
            if transient is not None:
                self.backoff(attempt, f"delivering {len(retry)} records", transient)
                attempt += 1
            outgoing = retry
        return written

    def _send_each(self, outgoing: list[Outgoing], tracked: Container[str]) -> _Futures:
        """Send the records one by one, a future each (kafka-python's way)."""
        sending = _Futures(tracked)
        send = self.producer.send
        for record in outgoing:
            try:
                future = send(
                    record.topic,
                    record.value,
                    record.key,
                    headers=list(record.headers) if record.headers else None,
                )
            except KafkaError as e:
                # Some refusals come at once (a record over max_request_size).
                sending.failed.append((record, e))
            else:
                sending.sent.append((record, future))
        return sending

    def _refused(self, record: Outgoing, error: BaseException) -> list[Outgoing]:
        """Count a permanent refusal; the dead letter reporting it is what remains to send."""
        kind = type(error).__name__
        self.metrics.undeliverable.labels(topic=record.role, error=kind).inc()
        log.error(
            "Kafka refused a %d-byte record for %s for good (%s: %s)",
            len(record.value),
            record.topic,
            kind,
            error,
        )
        if record.topic == self.dead_letter_topic:
            return []
        letter = encode_dead_letter(
            record.value,
            topic=record.topic,
            partition=-1,
            offset=-1,
            reason=Reason.UNDELIVERABLE.value,
            detail=f"Kafka refused it: {kind}: {error}",
        )
        self.metrics.dead_letters.labels(reason=Reason.UNDELIVERABLE.value).inc()
        return [Outgoing(self.dead_letter_topic, record.key, letter, "dead_letter")]


class _Futures:
    """Records being sent with a future each, and what became of them."""

    def __init__(self, tracked: Container[str]) -> None:
        self.tracked = tracked
        self.sent: list[tuple[Outgoing, Any]] = []
        self.failed: list[tuple[Outgoing, BaseException]] = []

    def done(self) -> bool:
        return all([future.is_done for _, future in self.sent])

    def outcome(self, written: dict[str, dict[int, int]]) -> list[tuple[Outgoing, BaseException]]:
        """The records that failed; where those of tracked topics went is added to ``written``."""
        failed = self.failed
        for record, future in self.sent:
            if future.exception is not None:
                failed.append((record, future.exception))
            elif record.topic in self.tracked:
                meta = future.value
                partitions = written.setdefault(meta.topic, {})
                partitions[meta.partition] = max(partitions.get(meta.partition, 0), meta.offset + 1)
        return failed
