"""Where a partition taken over resumes: the latest of the group's committed offset, ours and
what the queries log shows delivered."""

from __future__ import annotations

import time
from types import SimpleNamespace

from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata

from streamal.config import load_config
from streamal.connectors import kafka as kafka_clients
from streamal.connectors.daemon import Daemon
from streamal.connectors.handover import resume_offsets
from streamal.connectors.recovery import POLL_MS
from tests.conftest import Topics


def test_a_partition_resumes_at_the_later_of_the_committed_offset_and_our_own(broker, kafka_client):
    topics = Topics(broker.bootstrap_servers, partitions=4)
    topics.create()
    topics.send_many(topics.events, [{"v": 1, "id": f"e{i}", "x": {}} for i in range(90)])
    config = load_config(
        {"bootstrap_servers": broker.bootstrap_servers, "kafka_client": kafka_client}, {}
    )
    group = kafka_clients.consumer(config, group_id=topics.group)
    try:
        partitions = [TopicPartition(topics.events, p) for p in range(4)]
        group.assign(partitions)
        first, second, third, fourth = partitions
        group.commit({first: OffsetAndMetadata(10, "", -1), second: OffsetAndMetadata(5, "", -1)})
        # Ours is older on the first (held long ago), newer on the second (held since); the
        # third's last owner died before it committed, but its queries say what it delivered.
        own = {topics.events: {0: 4, 1: 8}}
        delivered = {topics.events: {0: 7, 2: 12}}
        resumed = resume_offsets(group, partitions, own, delivered)
        assert resumed == {first: 10, second: 8, third: 12}
        assert [group.position(tp) for tp in (first, second, third)] == [10, 8, 12]
        # None at all: the consumer's auto_offset_reset decides.
        assert group.position(fourth) == 0
    finally:
        group.close(autocommit=False)
        topics.close()


class _Group:
    """A group with nothing to read whose poll hands partitions over at the ``hand_at``-th call."""

    def __init__(self, handover: SimpleNamespace, hand_at: int | None) -> None:
        self.handover, self.hand_at, self.waits = handover, hand_at, []

    def assignment(self) -> set:
        return set()

    def poll(self, timeout_ms: int) -> dict:
        self.waits.append(timeout_ms)
        time.sleep(timeout_ms / 1000)
        if len(self.waits) == self.hand_at:
            self.handover.taken.add(TopicPartition("events", 0))
        return {}


def test_a_poll_ends_as_soon_as_partitions_are_handed_over():
    # A poll that is given partitions pauses them, and would wait out its timeout with
    # nothing to read while they wait to be placed: the turn's poll stops after that slice.
    handover = SimpleNamespace(taken=set())
    group = _Group(handover, hand_at=3)
    assert Daemon._poll_group(SimpleNamespace(group=group, handover=handover)) == {}
    assert len(group.waits) == 3
    # With nothing handed over it waits out the whole turn, one slice at a time.
    handover = SimpleNamespace(taken=set())
    group = _Group(handover, hand_at=None)
    Daemon._poll_group(SimpleNamespace(group=group, handover=handover))
    assert max(group.waits) <= 50
    # (what a slice's sleep overshoots on a loaded machine comes off the slices' sum)
    assert POLL_MS <= sum(group.waits) <= 2 * POLL_MS


class _Message:
    """A record as librdkafka's consume hands it over."""

    def __init__(self, topic: str, partition: int, offset: int) -> None:
        self._where = (topic, partition, offset)

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._where[0]

    def partition(self) -> int:
        return self._where[1]

    def offset(self) -> int:
        return self._where[2]

    def timestamp(self) -> tuple[int, int]:
        return (1, 0)

    def key(self) -> None:
        return None

    def value(self) -> bytes:
        return b"{}"

    def headers(self) -> None:
        return None


class _Revoking:
    """librdkafka's consumer as a poll meets a rebalance: nothing ready, then the consume with
    a timeout hands over a record of partition 0, and the next serves the revocation of
    partition 0 (when ``revoke``) before a record of partition 1."""

    def __init__(self, owner, revoke: bool) -> None:
        self.owner, self.revoke, self.calls = owner, revoke, 0

    def consume(self, most: int, timeout: float) -> list[_Message]:
        self.calls += 1
        if self.calls == 2:
            return [_Message("ev", 0, 5)]
        if self.calls == 3:
            if self.revoke:
                import confluent_kafka

                self.owner._on_revoke(self, [confluent_kafka.TopicPartition("ev", 0)])
            return [_Message("ev", 1, 9)]
        return []


def test_records_of_a_partition_revoked_inside_the_poll_are_left_to_its_next_owner():
    """Given up during the poll that had taken its record, partition 0's record is not scored:
    the hand-over committed the offset before it, and the next owner reads it."""
    from streamal.connectors.confluent import ConfluentConsumer

    for revoke, expected in ((False, {0: [5], 1: [9]}), (True, {1: [9]})):
        consumer = ConfluentConsumer(bootstrap_servers="127.0.0.1:9", group_id="g")
        given_up = []
        consumer._listener = SimpleNamespace(on_partitions_revoked=given_up.append)
        consumer._assigned = {TopicPartition("ev", 0), TopicPartition("ev", 1)}
        real, consumer._consumer = consumer._consumer, _Revoking(consumer, revoke)
        try:
            polled = consumer.poll(timeout_ms=100)
        finally:
            real.close()
        assert {tp.partition: [r.offset for r in rs] for tp, rs in polled.items()} == expected
        assert given_up == ([{TopicPartition("ev", 0)}] if revoke else [])
