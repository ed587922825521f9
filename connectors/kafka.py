"""The daemon's Kafka clients built from a :class:`~streamal.config.ServeConfig` (kafka-python's,
or librdkafka's through :mod:`.confluent` with ``kafka_client = "confluent"``), topic
creation, and the check of the topic layout the daemon relies on."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from kafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError

from streamal.config import ServeConfig

__all__ = ["TopicLayoutError", "check_layout", "consumer", "create_topics", "producer"]

log = logging.getLogger("streamal.kafka")

_ADMIN_KEYS = frozenset(KafkaAdminClient.DEFAULT_CONFIG)

#: Give up on an unreachable broker after this long and let the daemon say so and retry,
#: rather than kafka-python's silent 30 s.
_BOOTSTRAP = {"bootstrap_timeout_ms": 5000}


def _only(settings: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The settings of one kind of client: kafka-python's ``keys``, and librdkafka's own names."""
    keys = frozenset(keys)
    return {k: v for k, v in settings.items() if k in keys or "." in k}


def consumer(config: ServeConfig, **overrides: Any) -> KafkaConsumer:
    """A consumer with manual commits; ``overrides`` win over the user's options.

    Fetches wait at most 10 ms for data (kafka-python: 500 ms): some brokers (the
    embedded one) hold a fetch that long even with records ready, which set the
    event-to-query latency (benchmarks/daemon_latency.py). A replica that dies is
    noticed after 10 s, the session timeout (kafka-python 3: 45 s; Kafka's own
    clients before 3.0: 10 s): its partitions wait that long for another, and some
    brokers (the embedded one) hold every group join for half of it, so a daemon
    started by hand there consumed nothing for 23 s. Heartbeats come from
    kafka-python's own thread, so a long batch does not end a session
    (``max_poll_interval_ms`` bounds that). A poll returns up to 2,000 records (the
    clients' default: 500): a daemon behind its stream then pays each turn's fixed
    costs (the wait for delivery, the queries topic, the gauges) once per 2,000
    events, and a mini-batch model predicts them through a frame; a daemon that
    keeps up with its stream polls what has come since its last turn, far fewer.
    """
    settings = {
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": 10,
        "max_poll_records": 2000,
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 3_000,
        **_BOOTSTRAP,
    }
    if config.kafka_client == "confluent":
        from streamal.connectors.confluent import ConfluentConsumer

        settings |= _only(config.kafka_settings(), KafkaConsumer.DEFAULT_CONFIG)
        return ConfluentConsumer(**(settings | overrides))
    # Sticky first: a rebalance leaves each partition where it was when it can, so the
    # replicas that keep theirs resume at their own offset even if the broker refused the
    # commit they made while giving them up (the embedded broker closes a generation
    # before every member has rejoined). Range and round robin remain for a fleet whose
    # other members offer only those.
    settings["partition_assignment_strategy"] = (
        StickyPartitionAssignor,
        RangePartitionAssignor,
        RoundRobinPartitionAssignor,
    )
    settings |= _only(config.kafka_settings(), KafkaConsumer.DEFAULT_CONFIG)
    return KafkaConsumer(**(settings | overrides))


def producer(config: ServeConfig, **overrides: Any) -> KafkaProducer:
    """A producer that waits for every replica (the training log must not lose a record)."""
    settings = {"acks": "all", "linger_ms": 5, **_BOOTSTRAP}
    settings |= _only(config.kafka_settings(), KafkaProducer.DEFAULT_CONFIG)
    if config.kafka_client == "confluent":
        from streamal.connectors.confluent import ConfluentProducer

        return ConfluentProducer(**(settings | overrides))
    return KafkaProducer(**(settings | overrides))


def create_topics(config: ServeConfig) -> list[str]:
    """Create the daemon's topics that do not exist yet; returns the names created.

    The training topic has one partition: it is a single ordered log that
    every replica folds in the same order.
    """
    wanted = {
        config.events_topic: config.partitions,
        config.labels_topic: config.partitions,
        config.queries_topic: config.partitions,
        config.dead_letter_topic: config.partitions,
        config.training_topic: 1,
    }
    if config.predictions_topic:
        wanted[config.predictions_topic] = config.partitions
    settings = _only(config.kafka_settings(), _ADMIN_KEYS)
    if config.kafka_client == "confluent":
        from streamal.connectors import confluent

        created = confluent.create_topics(settings, wanted, config.replication_factor)
    else:
        created = _create_topics(settings, wanted, config.replication_factor)
    if created:
        log.info("created topics %s", ", ".join(created))
    return created


def _create_topics(settings: dict[str, Any], wanted: dict[str, int], replication: int) -> list[str]:
    admin = KafkaAdminClient(**(_BOOTSTRAP | settings))
    try:
        missing = [name for name in wanted if name not in set(admin.list_topics())]
        created = []
        for name in missing:
            try:
                admin.create_topics([NewTopic(name, wanted[name], replication)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another replica created it first
        return created
    finally:
        admin.close()


class TopicLayoutError(ValueError):
    """The topics are not laid out as the daemon needs; the message is one line saying why."""


def check_layout(config: ServeConfig, partitions_of: Callable[[str], set[int]]) -> None:
    """Refuse a layout the daemon cannot keep its promises on (docs/design.md, "Scale-out").

    The daemon relies on two things only: its topics are distinct, and the
    training topic has one partition, since it is the one ordered log that
    every replica folds into the same model. Events, labels and queries may
    have any number of partitions: every replica reads the whole queries
    topic, so any replica joins any label.

    >>> from streamal.config import ServeConfig
    >>> try:
    ...     check_layout(ServeConfig(), lambda topic: {0, 1} if "training" in topic else {0})
    ... except TopicLayoutError as e:
    ...     print(str(e)[:60])
    the training topic streamal.training has 2 partitions: it mu

    """
    roles = {
        "--events-topic": config.events_topic,
        "--labels-topic": config.labels_topic,
        "--queries-topic": config.queries_topic,
        "--training-topic": config.training_topic,
        "--dead-letter-topic": config.dead_letter_topic,
    }
    if config.predictions_topic:
        roles["--predictions-topic"] = config.predictions_topic
    seen: dict[str, str] = {}
    for flag, name in roles.items():
        if name in seen:
            raise TopicLayoutError(f"{seen[name]} and {flag} are both {name}: give each its own")
        seen[name] = flag
    training = partitions_of(config.training_topic)
    if not training:
        # Just created and not in the metadata yet: the caller retries.
        raise UnknownTopicOrPartitionError(config.training_topic)
    if len(training) != 1:
        raise TopicLayoutError(
            f"the training topic {config.training_topic} has {len(training)} partitions: it must "
            "have exactly 1 (the model is a fold of one ordered log); recreate it with one "
            "partition or name another with --training-topic"
        )
