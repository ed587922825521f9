"""Restart recovery: back to where the newest snapshot left off, then forward to now.

After a crash the daemon restores its newest good snapshot (:func:`restore`),
re-reads the training log after it (:func:`catch_up_training`; the fold skips
an example it has already learned) and the queries log after it
(:class:`~streamal.connectors.queries_log.QueriesLog`), before it reads an
event or a label. Where each partition it is given resumes is
:mod:`~streamal.connectors.handover`'s business.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kafka import KafkaConsumer, TopicPartition

from streamal.connectors.snapshots import SnapshotStore
from streamal.settings import EngineSettings, build_engine, configure_engine
from streamal.snapshot import Snapshot, SnapshotError
from streamal.training import TrainingFold

__all__ = ["catch_up_training", "read_to_end", "restore"]

log = logging.getLogger("streamal.recovery")

#: kafka-python 3 loses a group join to Tansu when polls are much shorter than this.
POLL_MS = 500


def restore(store: SnapshotStore, settings: EngineSettings) -> Snapshot:
    """The newest good snapshot brought to ``settings``, or a fresh start."""
    snapshot, path = store.newest()
    if snapshot is None:
        log.info("no snapshot in %s: starting from the beginning of the topics", store.dir)
        return Snapshot(TrainingFold(build_engine(settings)))
    engine = snapshot.engine
    if engine.model.task != settings.task:
        # Its model and training log hold the other kind of label: nothing of it carries over.
        raise SnapshotError(
            f"the snapshot in {store.dir} is of a {engine.model.task} model, not {settings.task}: "
            "use another --state-dir (and topics) for this stream"
        )
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


def read_to_end(
    consumer: KafkaConsumer,
    partitions: list[TopicPartition],
    handle: Callable[[dict], None],
    stopping: threading.Event,
) -> None:
    """Poll ``consumer`` until it has read ``partitions`` up to their end at the call.

    ``handle`` takes each poll's records. Tansu lists a partition's end as one
    past the first offset of its last batch, not past the batch: once the read
    is there, the high watermark of the fetch that brought that batch is an end
    at least as late as the true one, so the read goes on to it, and no
    further (a busy topic is not chased).
    """
    targets = consumer.end_offsets(partitions) if partitions else {}
    refined: set[TopicPartition] = set()
    while not stopping.is_set():
        for tp, target in targets.items():
            if tp not in refined and consumer.position(tp) >= target:
                targets[tp] = max(target, consumer.highwater(tp) or 0)
                refined.add(tp)
        if len(refined) == len(targets) and all(
            consumer.position(tp) >= target for tp, target in targets.items()
        ):
            return
        handle(consumer.poll(timeout_ms=POLL_MS))


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
    read_to_end(training, [tp], learn, stopping)
    return training.position(tp)
