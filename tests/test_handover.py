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
