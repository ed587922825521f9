"""Restart recovery: back to where the newest snapshot left off, then forward to now.

The resume point is the snapshot, not the group's committed offsets: after a
crash the daemon restores its newest good snapshot (:func:`restore`), seeks
every partition it is given to the offset that snapshot covers
(:class:`SeekToSnapshot`), re-reads the training log after it
(:func:`catch_up_training`; the fold skips an example it has already learned),
makes pending again the queries written after it (:func:`recover_queries`),
and redoes the events after it before it reads a label (:class:`LabelGate`),
so that a label never comes before the query it answers exists again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from streamal.config import ServeConfig
from streamal.connectors import kafka as kafka_clients
from streamal.connectors.snapshots import SnapshotStore
from streamal.engine import Engine
from streamal.messages import InvalidRecord, decode_query
from streamal.pending import PendingQuery
from streamal.settings import EngineSettings, build_engine, configure_engine
from streamal.snapshot import Snapshot
from streamal.training import TrainingFold

__all__ = [
    "LabelGate",
    "SeekToSnapshot",
    "catch_up_training",
    "recover_queries",
    "restore",
]

log = logging.getLogger("streamal.recovery")

#: kafka-python 3 loses a group join to Tansu when polls are much shorter than this.
POLL_MS = 500
#: How long a read that has reached the listed end waits for more.
DRY_POLL_MS = 100


def restore(store: SnapshotStore, settings: EngineSettings) -> Snapshot:
    """The newest good snapshot brought to ``settings``, or a fresh start."""
    snapshot, path = store.newest()
    if snapshot is None:
        log.info("no snapshot in %s: starting from the beginning of the topics", store.dir)
        return Snapshot(TrainingFold(build_engine(settings)))
    engine = snapshot.engine
    if engine.model.spec != settings.model:
        log.warning(
            "the snapshot's model is %r, not %r: keeping the snapshot's "
            "(remove %s to rebuild the model from the training topic)",
            engine.model.spec,
            settings.model,
            store.dir,
        )
    before = repr(engine.decider)
    configure_engine(engine, settings)
    if repr(engine.decider) != before:
        log.warning("decider changed from %s to %r: its state starts over", before, engine.decider)
    log.info(
        "restored %s: model version %d, %d pending queries, offsets %s",
        path,
        engine.model.version,
        len(engine.pending),
        snapshot.offsets,
    )
    return snapshot


class LabelGate:
    """Hold the labels partitions until the events given with them are redone to their end.

    Events after the snapshot are redone, and a label for one of their queries
    must not be read before the query exists again.
    """

    def __init__(self) -> None:
        #: ``{events partition: end offset}`` to reach; ``None`` until measured after an
        #: assignment, ``{}`` once the labels flow
        self.redo_until: dict[TopicPartition, int] | None = {}

    @property
    def closed(self) -> bool:
        return self.redo_until is None or bool(self.redo_until)

    def close(self) -> None:
        """Called on an assignment: measure the events' ends again before labels flow."""
        self.redo_until = None

    def try_open(self, group: KafkaConsumer, events_topic: str) -> None:
        """Resume the labels partitions once the events before the (re)start are redone."""
        if self.redo_until is None:
            events = [tp for tp in group.assignment() if tp.topic == events_topic]
            # Tansu may list the end as the first offset of the last batch; the high
            # watermark of a first fetch is the true one, so wait for it.
            if any(group.highwater(tp) is None for tp in events):
                return
            try:
                ends = group.end_offsets(events) if events else {}
            except KafkaError as e:
                log.warning("cannot read the events' end offsets (%s); will retry", e)
                return
            self.redo_until = {tp: max(end, group.highwater(tp)) for tp, end in ends.items()}
        try:
            done = all(group.position(tp) >= end for tp, end in self.redo_until.items())
        except KafkaError as e:
            log.warning("cannot read the events' positions (%s); will retry", e)
            return
        if done:
            group.resume(*group.paused())
            self.redo_until = {}


class SeekToSnapshot(ConsumerRebalanceListener):
    """Resume every partition we are given at the offset our own state covers."""

    def __init__(
        self,
        group: KafkaConsumer,
        offsets: dict[str, dict[int, int]],
        labels_topic: str,
        gate: LabelGate,
    ) -> None:
        self.group = group
        self.offsets = offsets
        self.labels_topic = labels_topic
        self.gate = gate

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        log.info("partitions revoked: %s", _names(revoked))

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("partitions assigned: %s", _names(assigned))
        for tp in assigned:
            offset = self.offsets.get(tp.topic, {}).get(tp.partition)
            if offset is not None:
                self.group.seek(tp, offset)
        labels = [tp for tp in assigned if tp.topic == self.labels_topic]
        if labels:
            self.group.pause(*labels)
            self.gate.close()


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(partitions)) or "none"


def catch_up_training(
    training: KafkaConsumer,
    topic: str,
    learn: Callable[[dict], None],
    stopping: threading.Event,
) -> int:
    """Learn the whole training log before answering labels, so none is joined twice.

    ``learn`` takes each poll's records; returns the offset read up to.
    """
    tp = TopicPartition(topic, 0)
    end = training.end_offsets([tp])[tp]
    while not stopping.is_set():
        behind = training.position(tp) < end
        polled = training.poll(timeout_ms=POLL_MS if behind else DRY_POLL_MS)
        learn(polled)
        # Tansu may list the end as the first offset of the last batch; a fetch
        # tells the true high watermark.
        end = max(end, training.highwater(tp) or 0)
        if training.position(tp) >= end and not polled:
            break
    return end


def recover_queries(
    config: ServeConfig,
    fold: TrainingFold,
    queries_written: dict[int, int],
    stopping: threading.Event,
) -> int:
    """Make pending again the queries written after the snapshot and not yet learned.

    Their events are redone, but with the model caught up on the training log,
    so they may not be asked again; their labels must still find them. Returns
    how many were recovered; ``queries_written`` moves to the end read.
    """
    topic = config.queries_topic
    reader = kafka_clients.consumer(config, group_id=None)
    recovered = 0
    try:
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()]
        reader.assign(partitions)
        for tp in partitions:
            if tp.partition in queries_written:
                reader.seek(tp, queries_written[tp.partition])
            else:
                reader.seek_to_beginning(tp)
        ends = reader.end_offsets(partitions) if partitions else {}
        while not stopping.is_set():
            behind = any(reader.position(tp) < end for tp, end in ends.items())
            polled = reader.poll(timeout_ms=POLL_MS if behind else DRY_POLL_MS)
            caught_up = all(
                reader.position(tp) >= max(end, reader.highwater(tp) or 0)
                for tp, end in ends.items()
            )
            if not polled and caught_up:
                break
            for records in polled.values():
                for record in records:
                    recovered += _recover_query(fold, record.value)
                    queries_written[record.partition] = record.offset + 1
    finally:
        reader.close(autocommit=False)
    log.info("%d queries written after the snapshot are pending again", recovered)
    return recovered


def _recover_query(fold: TrainingFold, raw: bytes) -> int:
    engine: Engine = fold.engine
    try:
        query = decode_query(raw)
    except InvalidRecord as e:
        # Only daemons write this topic; a stray record must not keep one from starting.
        log.warning("skipping a record on the queries topic that is not a query (%s)", e)
        return 0
    if query.id in fold:
        return 0
    proba = query.proba
    guess = max(proba, key=proba.get) if proba else None
    # JSON keys are strings; the model's classes may be integers or booleans.
    y_pred = next((c for c in engine.model.classes if str(c) == guess), guess)
    engine.restore_pending(PendingQuery(query.id, query.x, query.ts, y_pred, query.score))
    return 1
