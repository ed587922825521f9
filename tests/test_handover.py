"""Where a partition taken over resumes: the latest of the group's committed offset, ours and
what the queries log shows delivered."""

from __future__ import annotations

from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata

from streamal.config import load_config
from streamal.connectors import kafka as kafka_clients
from streamal.connectors.handover import resume_offsets
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
