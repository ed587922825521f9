"""Partitions changing hands between replicas, without losing or redoing work.

The group's rebalances are eager (every member gives up its partitions,
then the new assignment is handed out; kafka-python 3 calls the listener's
``on_partitions_revoked`` on every member before any member's
``on_partitions_assigned``):

- **Giving up** (:meth:`Handover.on_partitions_revoked`): everything the
  daemon consumed is delivered between two turns, and the rebalance happens
  inside a poll, so it writes a snapshot and commits the offsets of what it
  gives up before it lets go. The commit is asynchronous: kafka-python 3
  runs the listener on its I/O thread, where a blocking ``commit()`` is
  refused, but the request is queued before the member's next JoinGroup on
  the same connection, so the coordinator has it before any member is given
  the partition. A member that was evicted (its session expired) gets
  ``on_partitions_lost`` instead and commits nothing: the partition may
  already be someone else's.
- **Taking over** (:meth:`Handover.on_partitions_assigned` pauses what it is
  given; :func:`resume_offsets` then runs outside the listener): a partition
  resumes at the latest of the group's committed offset (where the last
  owner's snapshot, or its hand-over, left it), this replica's own offset
  (what it consumed itself, if it held the partition since) and, for events,
  the offset before which the queries log shows them delivered (which a
  replica killed, or evicted, before its commit still wrote): each is work
  done, so nothing delivered is redone needlessly and nothing is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition

__all__ = ["Handover", "resume_offsets"]

log = logging.getLogger("streamal.handover")


def _names(partitions: Iterable[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(partitions)) or "none"


class Handover(ConsumerRebalanceListener):
    """The group's rebalance listener.

    Parameters
    ----------
    group
        The daemon's group consumer.
    give_up
        ``give_up(partitions)`` snapshots and commits what is being given up;
        called on the consumer's I/O thread while the daemon's loop waits in a poll.
    """

    def __init__(
        self, group: KafkaConsumer, give_up: Callable[[list[TopicPartition]], None]
    ) -> None:
        self.group = group
        self.give_up = give_up
        #: partitions given to us and paused until :func:`resume_offsets` has placed them
        self.taken: set[TopicPartition] = set()

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        revoked = set(revoked)
        log.info("partitions revoked: %s", _names(revoked))
        # A partition taken but not placed yet has nothing of ours to hand over.
        self.taken -= revoked
        if revoked:
            self.give_up(sorted(revoked))

    def on_partitions_lost(self, lost: Iterable[TopicPartition]) -> None:
        lost = set(lost)
        log.warning("partitions lost (this replica was evicted from the group): %s", _names(lost))
        self.taken -= lost

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        assigned = set(assigned)
        log.info("partitions assigned: %s", _names(assigned))
        if assigned:
            self.group.pause(*assigned)
            self.taken |= assigned


def resume_offsets(
    group: KafkaConsumer,
    partitions: Iterable[TopicPartition],
    own: dict[str, dict[int, int]],
    delivered: dict[str, dict[int, int]],
) -> dict[TopicPartition, int]:
    """Seek each partition to the latest of the group's committed offset, ours and ``delivered``.

    ``own`` is what this replica consumed, ``delivered`` what the queries log
    shows handled, both ``{topic: {partition: offset}}``. Returns where each
    partition resumes; one with no offset at all starts where the consumer's
    ``auto_offset_reset`` says and is left out.
    """
    resumed = {}
    for tp in sorted(partitions):
        offsets = {
            "committed": group.committed(tp),
            "own": own.get(tp.topic, {}).get(tp.partition),
            "delivered": delivered.get(tp.topic, {}).get(tp.partition),
        }
        known = [offset for offset in offsets.values() if offset is not None]
        if not known:
            log.info("resuming %s[%d] from the start (no offset yet)", tp.topic, tp.partition)
            continue
        resumed[tp] = max(known)
        group.seek(tp, resumed[tp])
        log.info(
            "resuming %s[%d] at offset %d (%s)",
            tp.topic,
            tp.partition,
            resumed[tp],
            ", ".join(f"{name} {offset}" for name, offset in offsets.items()),
        )
    return resumed
