"""The daemon's Kafka clients over librdkafka (``--kafka-client confluent``).

The connectors speak kafka-python's vocabulary: its ``TopicPartition``, its
records' attributes, its consumer's and producer's methods and its error
classes (:mod:`kafka.errors`), which say what is transient and what is a
broker's refusal for good (:func:`streamal.connectors.delivery.is_permanent`).
This module speaks the same vocabulary over ``confluent-kafka``, whose
producer writes a record in about a microsecond of Python time where
kafka-python's pure-Python one takes 25 µs, so the daemon's code is the same
for both clients and every delivery invariant holds for both.

Two differences are absorbed here. librdkafka runs the rebalance callbacks
inside :meth:`ConfluentConsumer.poll`, on the caller's thread (kafka-python 3:
on its I/O thread, while the caller waits in a poll), so a hand-over's commit
can wait for its answer. And librdkafka knows a partition's position only once
it has returned a record of it, so positions are kept here, as kafka-python
keeps them: where a seek put the partition, or one past its last record returned.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from typing import Any

import confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import ConsumerRebalanceListener, TopicPartition
from kafka import errors as kafka_errors
from kafka.structs import OffsetAndMetadata

from streamal.config import LIBRDKAFKA_UNDOTTED, ConfigError
from streamal.connectors.delivery import Outgoing

__all__ = [
    "ConfluentConsumer",
    "ConfluentProducer",
    "DeliveryFuture",
    "Record",
    "Sending",
    "create_topics",
    "librdkafka_settings",
]

log = logging.getLogger("streamal.kafka")
#: librdkafka's own log, through Python's logging rather than straight to stderr
_LIBRDKAFKA_LOG = logging.getLogger("librdkafka")

#: how long a metadata, offsets or admin request waits for the broker (seconds)
_REQUEST_SECONDS = 10.0
#: how long the request that wakes a resumed partition's fetcher waits (seconds)
_WAKE_SECONDS = 1.0

#: kafka-python's setting → librdkafka's; a dotted name is librdkafka's own and passes as is
_NAMES = {
    "bootstrap_servers": "bootstrap.servers",
    "client_id": "client.id",
    "group_id": "group.id",
    "enable_auto_commit": "enable.auto.commit",
    "auto_offset_reset": "auto.offset.reset",
    "fetch_max_wait_ms": "fetch.wait.max.ms",
    "fetch_min_bytes": "fetch.min.bytes",
    "fetch_max_bytes": "fetch.max.bytes",
    "max_partition_fetch_bytes": "max.partition.fetch.bytes",
    "session_timeout_ms": "session.timeout.ms",
    "heartbeat_interval_ms": "heartbeat.interval.ms",
    "max_poll_interval_ms": "max.poll.interval.ms",
    "request_timeout_ms": "request.timeout.ms",
    "retry_backoff_ms": "retry.backoff.ms",
    "reconnect_backoff_ms": "reconnect.backoff.ms",
    "reconnect_backoff_max_ms": "reconnect.backoff.max.ms",
    "metadata_max_age_ms": "metadata.max.age.ms",
    "connections_max_idle_ms": "connections.max.idle.ms",
    "security_protocol": "security.protocol",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_plain_username": "sasl.username",
    "sasl_plain_password": "sasl.password",
    "ssl_cafile": "ssl.ca.location",
    "ssl_certfile": "ssl.certificate.location",
    "ssl_keyfile": "ssl.key.location",
    "ssl_password": "ssl.key.password",
    "acks": "acks",
    "linger_ms": "linger.ms",
    "batch_size": "batch.size",
    "compression_type": "compression.type",
    "max_request_size": "message.max.bytes",
    "retries": "retries",
    "delivery_timeout_ms": "delivery.timeout.ms",
    "partition_assignment_strategy": "partition.assignment.strategy",
}
#: kafka-python settings this module keeps for itself (librdkafka has no such setting)
_OWN = frozenset({"max_poll_records", "max_block_ms"})
#: kafka-python settings with no meaning over librdkafka, dropped: it connects in the background
_DROPPED = frozenset({"bootstrap_timeout_ms", "api_version", "api_version_auto_timeout_ms"})
#: kafka-python's default batch of records per poll, kept for the same batches
_MAX_POLL_RECORDS = 500
#: kafka-python's default wait for room in a full producer queue
_MAX_BLOCK_MS = 60_000


def librdkafka_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` in kafka-python's names, as librdkafka's configuration.

    A dotted name (``fetch.wait.max.ms``) is librdkafka's own and passes as
    is, as do its few undotted ones (``debug``); librdkafka checks them when
    the client is made.

    >>> librdkafka_settings({"bootstrap_servers": ["a:9092", "b:9092"], "fetch_max_wait_ms": 10,
    ...                      "bootstrap_timeout_ms": 5000, "queued.min.messages": 1000})
    {'bootstrap.servers': 'a:9092,b:9092', 'fetch.wait.max.ms': 10, 'queued.min.messages': 1000}
    >>> librdkafka_settings({"max_in_flight_requests_per_connection": 1})
    Traceback (most recent call last):
    ...
    streamal.config.ConfigError: Kafka option 'max_in_flight_requests_per_connection' has no ...

    """
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if key in _OWN or key in _DROPPED:
            continue
        if "." in key or key in LIBRDKAFKA_UNDOTTED:
            out[key] = value
            continue
        name = _NAMES.get(key)
        if name is None:
            raise ConfigError(
                f"Kafka option {key!r} has no librdkafka equivalent known to streamal: give "
                "librdkafka's own name (e.g. fetch.wait.max.ms), or use --kafka-client kafka-python"
            )
        if key == "bootstrap_servers" and not isinstance(value, str):
            value = ",".join(value)
        elif key == "partition_assignment_strategy" and not isinstance(value, str):
            value = ",".join(getattr(a, "name", str(a)) for a in value)
        out[name] = value
    return out


def _configuration(settings: dict[str, Any]) -> dict[str, Any]:
    return librdkafka_settings(settings) | {"logger": _LIBRDKAFKA_LOG}


def kafka_error(error: confluent_kafka.KafkaError) -> kafka_errors.KafkaError:
    """librdkafka's error as kafka-python's, so that the daemon tells transient from permanent.

    A broker's error code is Kafka's own; librdkafka's local errors are negative.

    >>> from confluent_kafka import KafkaError
    >>> type(kafka_error(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))).__name__
    'MessageSizeTooLargeError'
    >>> type(kafka_error(KafkaError(KafkaError._TRANSPORT))).__name__
    'KafkaConnectionError'

    """
    code, text = error.code(), error.str()
    local = confluent_kafka.KafkaError
    if code >= 0:
        return kafka_errors.for_code(code)(text)
    if code in (local._UNKNOWN_TOPIC, local._UNKNOWN_PARTITION):
        return kafka_errors.UnknownTopicOrPartitionError(text)
    if code in (local._TRANSPORT, local._ALL_BROKERS_DOWN, local._RESOLVE):
        return kafka_errors.KafkaConnectionError(text)
    if code in (local._MSG_TIMED_OUT, local._TIMED_OUT):
        return kafka_errors.KafkaTimeoutError(text)
    return kafka_errors.KafkaError(f"{error.name()}: {text}")


@contextlib.contextmanager
def _kafka_errors() -> Iterator[None]:
    """librdkafka's exceptions raised as kafka-python's errors."""
    try:
        yield
    except confluent_kafka.KafkaException as e:
        raise _raised(e) from None


def _raised(e: confluent_kafka.KafkaException) -> kafka_errors.KafkaError:
    error = e.args[0] if e.args else None
    if isinstance(error, confluent_kafka.KafkaError):
        return kafka_error(error)
    return kafka_errors.KafkaError(str(e))


def _theirs(tp: TopicPartition, offset: int | None = None) -> confluent_kafka.TopicPartition:
    if offset is None:
        return confluent_kafka.TopicPartition(tp.topic, tp.partition)
    return confluent_kafka.TopicPartition(tp.topic, tp.partition, offset)


def _ours(tp: confluent_kafka.TopicPartition) -> TopicPartition:
    return TopicPartition(tp.topic, tp.partition)


class Record:
    """One consumed record, with the attributes of kafka-python's ``ConsumerRecord``."""

    __slots__ = ("headers", "key", "offset", "partition", "timestamp", "topic", "value")

    def __init__(self, message: confluent_kafka.Message) -> None:
        self.topic: str = message.topic()
        self.partition: int = message.partition()
        self.offset: int = message.offset()
        self.timestamp: int = message.timestamp()[1]
        self.key: bytes | None = message.key()
        self.value: bytes | None = message.value()
        self.headers: list[tuple[str, bytes]] = message.headers() or []


class ConfluentConsumer:
    """A librdkafka consumer with the methods of kafka-python's ``KafkaConsumer`` the daemon uses.

    Parameters
    ----------
    settings
        kafka-python's settings (see :func:`librdkafka_settings`). Without a
        ``group_id`` the consumer only reads the partitions it is assigned and
        commits nothing (librdkafka still wants a group id: a fresh one is given).
    """

    def __init__(self, **settings: Any) -> None:
        self.max_poll_records = int(settings.pop("max_poll_records", _MAX_POLL_RECORDS))
        self.grouped = settings.get("group_id") is not None
        if not self.grouped:
            settings["group_id"] = f"streamal-reader-{uuid.uuid4().hex}"
        self.reset = settings.get("auto_offset_reset", "latest")
        with _kafka_errors():
            self._consumer = confluent_kafka.Consumer(_configuration(settings))
        self._positions: dict[TopicPartition, int] = {}
        self._assigned: set[TopicPartition] = set()
        #: whether the partitions are assigned by hand, not by the group
        self._manual = False
        #: whether librdkafka reads the partitions assigned by hand from their positions
        self._placed = True
        self._listener: ConsumerRebalanceListener | None = None
        #: partitions given up so far (revoked or lost), counted to tell a poll it saw some go
        self._given_up = 0

    # -- subscription and assignment --------------------------------------------------

    def subscribe(
        self, topics: list[str], listener: ConsumerRebalanceListener | None = None
    ) -> None:
        self._listener = listener
        self._consumer.subscribe(
            list(topics),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )

    def _on_assign(self, consumer: confluent_kafka.Consumer, partitions: list) -> None:
        # Assigned before the listener runs, so that it may pause what it is given.
        consumer.assign(partitions)
        assigned = {_ours(tp) for tp in partitions}
        self._assigned = assigned
        for tp in assigned:
            self._positions.pop(tp, None)
        if self._listener is not None:
            self._listener.on_partitions_assigned(assigned)

    def _on_revoke(self, consumer: confluent_kafka.Consumer, partitions: list) -> None:
        revoked = {_ours(tp) for tp in partitions}
        if self._listener is not None:
            self._listener.on_partitions_revoked(revoked)
        self._assigned -= revoked
        self._given_up += len(revoked)

    def _on_lost(self, consumer: confluent_kafka.Consumer, partitions: list) -> None:
        lost = {_ours(tp) for tp in partitions}
        if self._listener is not None:
            self._listener.on_partitions_lost(lost)
        self._assigned -= lost
        self._given_up += len(lost)

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """Read ``partitions`` (not the group's), from where :meth:`seek` puts them."""
        self._assigned = set(partitions)
        self._manual = True
        self._placed = False

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def pause(self, *partitions: TopicPartition) -> None:
        self._consumer.pause([_theirs(tp) for tp in partitions])

    def resume(self, *partitions: TopicPartition) -> None:
        self._consumer.resume([_theirs(tp) for tp in partitions])
        # A broker's thread in librdkafka with nothing to fetch sleeps up to a second, and a
        # resume does not wake it: the first records of a resumed partition came 0.6 s late
        # (benchmarks/RESULTS_daemon.md, "Start"). A request to the partition's leader does.
        # It is only a nudge: at the first that fails (the broker unreachable), the rest are
        # left to wake by themselves, rather than each waiting for its own timeout.
        for tp in partitions:
            try:
                self._consumer.get_watermark_offsets(_theirs(tp), timeout=_WAKE_SECONDS)
            except confluent_kafka.KafkaException as e:
                log.debug("could not wake the fetcher of %s[%d]: %s", tp.topic, tp.partition, e)
                break

    # -- positions ----------------------------------------------------------------------

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self._positions[partition] = offset
        if self._manual:
            # librdkafka refuses a seek until its fetcher has started on the partition
            # (_STATE): partitions assigned by hand are assigned anew, at their positions.
            self._placed = False
            return
        with _kafka_errors():
            self._consumer.seek(_theirs(partition, offset))

    def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        for tp in partitions:
            low, _ = self._watermarks(tp)
            self.seek(tp, low)

    def position(self, partition: TopicPartition) -> int:
        """The offset of the next record to read: where a seek or the last record left it."""
        if partition not in self._positions:
            committed = self.committed(partition) if self.grouped else None
            if committed is not None:
                self._positions[partition] = committed
            else:
                low, high = self._watermarks(partition)
                self._positions[partition] = low if self.reset == "earliest" else high
        return self._positions[partition]

    def highwater(self, partition: TopicPartition) -> int | None:
        """The end of the partition as the last fetch of it saw it (no request)."""
        _, high = self._consumer.get_watermark_offsets(_theirs(partition), cached=True)
        return None if high < 0 else high

    def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self._watermarks(tp)[1] for tp in partitions}

    def _watermarks(self, partition: TopicPartition) -> tuple[int, int]:
        with _kafka_errors():
            return self._consumer.get_watermark_offsets(
                _theirs(partition), timeout=_REQUEST_SECONDS
            )

    def committed(self, partition: TopicPartition) -> int | None:
        with _kafka_errors():
            (tp,) = self._consumer.committed([_theirs(partition)], timeout=_REQUEST_SECONDS)
        return None if tp.offset < 0 else tp.offset

    def partitions_for_topic(self, topic: str) -> set[int]:
        with _kafka_errors():
            metadata = self._consumer.list_topics(topic, timeout=_REQUEST_SECONDS)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            return set()
        return set(found.partitions)

    # -- reading and committing ---------------------------------------------------------

    def poll(
        self, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Record]]:
        """Records by partition, each partition's in order, as kafka-python's ``poll``.

        An error librdkafka reports beside records (a broker gone, a partition
        moving) is logged: it retries by itself, and the records are not dropped.
        """
        if not self._placed:
            start = confluent_kafka.OFFSET_BEGINNING
            if self.reset != "earliest":
                start = confluent_kafka.OFFSET_END
            self._consumer.assign(
                [_theirs(tp, self._positions.get(tp, start)) for tp in self._assigned]
            )
            self._placed = True
        most = max_records or self.max_poll_records
        given_up = self._given_up
        with _kafka_errors():
            # librdkafka's consume waits until it has `most` records or the timeout is up; a
            # poll returns what is ready as soon as anything is (kafka-python's, and what
            # keeps the event-to-query latency low): wait for one record, then take the rest.
            messages = self._consumer.consume(most, 0)
            if not messages and timeout_ms > 0:
                messages = self._consumer.consume(1, timeout_ms / 1000.0)
                if messages and most > 1:
                    messages += self._consumer.consume(most - 1, 0)
        by_partition: dict[tuple[str, int], list[Record]] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise kafka_error(error)
                log.debug("librdkafka: %s", error)
                continue
            record = Record(message)
            key = (record.topic, record.partition)
            records = by_partition.get(key)
            if records is None:
                by_partition[key] = [record]
            else:
                records.append(record)
        polled = {TopicPartition(*key): records for key, records in by_partition.items()}
        if self._given_up != given_up:
            # A rebalance ran inside this poll's second consume, after the first had taken
            # records of partitions it then gave up: their hand-over committed the offsets
            # before those records, so they are the next owner's (scored here too, they were
            # predicted twice). kafka-python's poll drops them the same way.
            polled = {tp: records for tp, records in polled.items() if tp in self._assigned}
        for tp, records in polled.items():
            self._positions[tp] = records[-1].offset + 1
        return polled

    def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        with _kafka_errors():
            self._consumer.commit(
                offsets=[_theirs(tp, meta.offset) for tp, meta in offsets.items()],
                asynchronous=False,
            )

    def commit_async(
        self,
        offsets: dict[TopicPartition, OffsetAndMetadata],
        callback: Callable[[dict, object], None] | None = None,
    ) -> None:
        """Commit and wait: a rebalance callback runs on the polling thread here, where the
        commit must be done before the partitions are handed out."""
        try:
            self.commit(offsets)
        except kafka_errors.KafkaError as e:
            if callback is not None:
                callback(offsets, e)
            return
        if callback is not None:
            callback(offsets, None)

    def close(self, autocommit: bool = False) -> None:
        """Leave the group (auto-commit is never on here, so ``autocommit`` changes nothing)."""
        self._consumer.close()


class DeliveryFuture:
    """What became of one sent record, with the attributes of kafka-python's future."""

    __slots__ = ("_message", "exception", "is_done")

    def __init__(self) -> None:
        self.is_done = False
        self.exception: kafka_errors.KafkaError | None = None
        self._message: confluent_kafka.Message | None = None

    def failed(self) -> bool:
        return self.exception is not None

    @property
    def value(self) -> _Written | None:
        # Read only where it is asked for: most records' places are never looked at.
        message = self._message
        if message is None:
            return None
        return _Written(message.topic(), message.partition(), message.offset())

    def __call__(self, error: confluent_kafka.KafkaError | None, message) -> None:
        if error is not None:
            self.exception = kafka_error(error)
        else:
            self._message = message
        self.is_done = True


class _Written:
    """Where a record was written (kafka-python's ``RecordMetadata``, the part the daemon reads)."""

    __slots__ = ("offset", "partition", "topic")

    def __init__(self, topic: str, partition: int, offset: int) -> None:
        self.topic, self.partition, self.offset = topic, partition, offset


class Sending:
    """Records sent together, told of by one delivery callback, and what became of them.

    A future per record (kafka-python's way) cost an object to make and a call
    to read for every record; this counts the records down instead, and keeps
    only where the records of the ``tracked`` topics went and which failed.
    """

    __slots__ = ("_outgoing", "_roles", "_written", "failed", "left", "tracked")

    def __init__(self, outgoing: Sequence[Outgoing], tracked: Container[str]) -> None:
        self._outgoing = outgoing
        self._roles: dict[str, str] | None = None
        self._written: dict[str, dict[int, int]] = {}
        self.tracked = tracked
        self.failed: list[tuple[Outgoing, kafka_errors.KafkaError]] = []
        #: records sent and not yet told of
        self.left = 0

    def done(self) -> bool:
        return self.left == 0

    def __call__(self, error: confluent_kafka.KafkaError | None, message) -> None:
        self.left -= 1
        topic = message.topic()
        if error is not None:
            if self._roles is None:
                self._roles = {record.topic: record.role for record in self._outgoing}
            headers = tuple(message.headers() or ())
            record = Outgoing(topic, message.key(), message.value(), self._roles[topic], headers)
            self.failed.append((record, kafka_error(error)))
        elif topic in self.tracked:
            partitions = self._written.setdefault(topic, {})
            partition = message.partition()
            partitions[partition] = max(partitions.get(partition, 0), message.offset() + 1)

    def outcome(
        self, written: dict[str, dict[int, int]]
    ) -> list[tuple[Outgoing, kafka_errors.KafkaError]]:
        """The records that failed; where those of tracked topics went is added to ``written``."""
        for topic, partitions in self._written.items():
            ends = written.setdefault(topic, {})
            for partition, end in partitions.items():
                ends[partition] = max(ends.get(partition, 0), end)
        return self.failed


class ConfluentProducer:
    """A librdkafka producer with kafka-python's ``send``/``flush``/``close``."""

    def __init__(self, **settings: Any) -> None:
        self.max_block = int(settings.pop("max_block_ms", _MAX_BLOCK_MS)) / 1000.0
        settings.pop("max_poll_records", None)
        with _kafka_errors():
            self._producer = confluent_kafka.Producer(_configuration(settings))

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> DeliveryFuture:
        future = DeliveryFuture()
        self._produce(topic, value, key, headers, future)
        return future

    def send_all(self, outgoing: Sequence[Outgoing], tracked: Container[str]) -> Sending:
        """Send records with one delivery callback for them all (see :class:`Sending`).

        A record refused at once (larger than ``max_request_size``) is among its
        :meth:`Sending.outcome`'s failures, as if Kafka had refused it.
        """
        sending = Sending(outgoing, tracked)
        for record in outgoing:
            headers = list(record.headers) if record.headers else None
            try:
                self._produce(record.topic, record.value, record.key, headers, sending)
            except kafka_errors.KafkaError as e:
                sending.failed.append((record, e))
            else:
                sending.left += 1
        return sending

    def _produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None,
        headers: list[tuple[str, bytes]] | None,
        on_delivery: Callable[[confluent_kafka.KafkaError | None, Any], None],
    ) -> None:
        waited = 0.0
        while True:
            try:
                self._producer.produce(
                    topic, value, key, headers=headers or None, on_delivery=on_delivery
                )
                return
            except BufferError:
                # The local queue is full: serve the deliveries that make room.
                if waited >= self.max_block:
                    raise kafka_errors.KafkaTimeoutError(
                        f"the producer's queue stayed full for {self.max_block:g} s"
                    ) from None
                self._producer.poll(0.05)
                waited += 0.05
            except confluent_kafka.KafkaException as e:
                raise _raised(e) from None

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every record sent is delivered or failed; a timeout is an error."""
        left = self._producer.flush(-1 if timeout is None else timeout)
        if left:
            raise kafka_errors.KafkaTimeoutError(f"{left} records not delivered in {timeout} s")

    def close(self, timeout: float | None = None) -> None:
        self._producer.flush(5.0 if timeout is None else timeout)


def create_topics(settings: dict[str, Any], wanted: dict[str, int], replication: int) -> list[str]:
    """Create the topics of ``wanted`` (name → partitions) that are missing; returns those made."""
    admin = AdminClient(_configuration(settings))
    with _kafka_errors():
        existing = set(admin.list_topics(timeout=_REQUEST_SECONDS).topics)
        missing = [
            NewTopic(name, wanted[name], replication) for name in wanted if name not in existing
        ]
        created = []
        for name, future in (admin.create_topics(missing) if missing else {}).items():
            try:
                future.result(timeout=_REQUEST_SECONDS)
                created.append(name)
            except confluent_kafka.KafkaException as e:
                error = _raised(e)
                if not isinstance(error, kafka_errors.TopicAlreadyExistsError):
                    raise error from None
        return created
