"""`Daemon`: the Kafka driver of the engine, behind ``streamal serve``.

One loop, one thread. Each turn it polls events and labels (one consumer,
a member of the group, so replicas split the partitions), scores the
events, joins the labels, writes queries, predictions, training examples
and dead letters, waits until Kafka has them (:mod:`.delivery`), and only
then counts the input as consumed. The model learns only from the training
topic, read by a second consumer, so it is a fold over that log; the
pending queries of the whole fleet, and how far each events partition is
decided, come from the queries topic, read by a third (:mod:`.queries_log`),
so any replica joins any label and no event is decided twice. Every
``snapshot_interval`` seconds, at stop, and before a partition is given up
in a rebalance (:mod:`.handover`), the state is written durably and then
the group's offsets are committed; a restart resumes from that snapshot
(:mod:`.recovery`).

A record's failure is that record's dead letter, never the process's: one
that cannot be read, an event the model cannot score, an example it cannot
learn, a record Kafka refuses for good.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from kafka import KafkaConsumer, TopicPartition
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from streamal.config import ServeConfig
from streamal.connectors import kafka as kafka_clients
from streamal.connectors.delivery import Delivery, Outgoing
from streamal.connectors.endpoint import Heartbeat, MetricsEndpoint
from streamal.connectors.gauges import update_gauges
from streamal.connectors.handover import Handover, resume_offsets
from streamal.connectors.queries_log import QueriesLog, decided_header
from streamal.connectors.recovery import POLL_MS, catch_up_training, restore
from streamal.connectors.snapshots import SnapshotStore, snapshot_key
from streamal.engine import Engine, Event, Label, TrainingExample
from streamal.messages import (
    InvalidRecord,
    Reason,
    decode_events,
    decode_labels,
    decode_training_example,
    encode_dead_letter,
    encode_predictions,
    encode_query,
    encode_training_example,
)
from streamal.metrics import BoundedNames, Metrics, RollingAccuracy, RollingError
from streamal.model import ModelRefused

__all__ = ["Daemon", "Stopped"]

log = logging.getLogger("streamal.daemon")

_MAX_BACKOFF = 10.0
_MAX_KEY_BYTES = 1024
#: the longest one call of the group's poll waits, so that a turn sees a hand-over soon
_POLL_SLICE_MS = 50


class Stopped(Exception):
    """A stop was asked while the broker was unreachable; the last snapshot stands."""


class Daemon:
    """Run the engine on Kafka until :meth:`stop` is called.

    Parameters
    ----------
    config
        The checked settings.
    environ
        Where the snapshot key is looked up (``STREAMAL_SNAPSHOT_KEY``).
    metrics
        The metric families to update (a fresh set by default).
    """

    def __init__(
        self,
        config: ServeConfig,
        environ: Mapping[str, str] = os.environ,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self.stopping = threading.Event()
        #: set once partitions are placed and read: from then on an event is scored as it comes
        self.reading = threading.Event()
        state_dir = Path(config.state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        self.store = SnapshotStore(state_dir, snapshot_key(state_dir, environ))
        #: the live state, exactly what a snapshot writes
        self.state = restore(self.store, config.engine)
        self.numeric = self.engine.model.is_regressor
        self._show_deployed()  # a restart resumes the estimate the snapshot kept
        # A numeric target is scored by its error, and its deployed estimate is of the error.
        self.accuracy = RollingError() if self.numeric else RollingAccuracy()
        self.labeled_score = (
            self.metrics.labeled_error if self.numeric else self.metrics.labeled_accuracy
        )
        estimates = self.engine.annotators.counts if self.engine.annotators else {}
        self.annotator_names = BoundedNames(config.annotator_metrics, estimates)
        self.last_snapshot = time.monotonic()
        self.heartbeat = Heartbeat(config.health_timeout)
        self.group: KafkaConsumer | None = None
        self.training: KafkaConsumer | None = None
        self.queries: QueriesLog | None = None
        self.handover: Handover | None = None
        self.delivery: Delivery | None = None
        #: the group's offsets the newest snapshot covers: the only ones ever committed
        self._covered = _copy(self.offsets)
        #: what was last committed (or asked to be), per partition
        self._committed: dict[TopicPartition, int] = {}
        self._commit_due = False
        #: whether the state is whole (no batch half done): only then may it be handed over
        self._settled = False
        self._endpoint: MetricsEndpoint | None = None
        self._latest_ts = -math.inf

    @property
    def engine(self) -> Engine:
        return self.state.engine

    @property
    def counters(self) -> dict[str, int]:
        return self.state.counters

    @property
    def offsets(self) -> dict[str, dict[int, int]]:
        return self.state.offsets

    def stop(self) -> None:
        """Ask the loop to finish its batch, snapshot, commit and return (signal-safe)."""
        self.stopping.set()

    # -- connection -----------------------------------------------------------------

    def _backoff(self, attempt: int, what: str, error: Exception) -> None:
        delay = min(_MAX_BACKOFF, 0.25 * 2**attempt)
        log.warning("%s failed (%s); retrying in %.1f s", what, error, delay)
        # Waiting out the broker is the loop working as meant, not a hung loop.
        self.heartbeat.beat()
        if self.stopping.wait(delay):
            raise Stopped(what)
        self.heartbeat.beat()

    def _connect(self) -> None:
        config = self.config
        attempt = 0
        while True:
            try:
                kafka_clients.create_topics(config)
                producer = kafka_clients.producer(config, max_block_ms=10_000)
                self.delivery = Delivery(
                    producer, config.dead_letter_topic, self.metrics, self._backoff
                )
                self.group = kafka_clients.consumer(
                    config,
                    group_id=config.group_id,
                    partition_assignment_strategy=config.kafka_options.get(
                        "partition_assignment_strategy", (RangePartitionAssignor,)
                    ),
                )
                self.training = kafka_clients.consumer(config, group_id=None)
                self.queries = QueriesLog(
                    kafka_clients.consumer(config, group_id=None),
                    config.queries_topic,
                    config.events_topic,
                    self.state,
                )
                kafka_clients.check_layout(config, self.training.partitions_for_topic)
                break
            except (KafkaError, OSError) as e:
                self._close_clients()
                self._backoff(attempt, f"connecting to {config.bootstrap_servers}", e)
                attempt += 1
        self.handover = Handover(self.group, self._give_up)
        self.group.subscribe([config.events_topic, config.labels_topic], listener=self.handover)
        training = TopicPartition(config.training_topic, 0)
        self.training.assign([training])
        offset = self.offsets.get(config.training_topic, {}).get(0)
        if offset is None:
            self.training.seek_to_beginning(training)
        else:
            self.training.seek(training, offset)
        log.info(
            "connected to %s; consuming %s and %s as group %r",
            config.bootstrap_servers,
            config.events_topic,
            config.labels_topic,
            config.group_id,
        )

    def _close_clients(self) -> None:
        readers = (self.group, self.training, self.queries and self.queries.reader)
        for client in readers:
            if client is not None:
                client.close(autocommit=False)
        if self.delivery is not None:
            self.delivery.producer.close(timeout=5)
        self.group = self.training = self.queries = self.delivery = None

    # -- the loop -------------------------------------------------------------------

    def run(self) -> None:
        """Serve until stopped; returns after the final snapshot and commit."""
        config = self.config
        if config.metrics_port:
            self._endpoint = MetricsEndpoint(
                self.metrics.registry, self.heartbeat, config.metrics_host, config.metrics_port
            ).start()
            log.info(
                "metrics on http://%s:%d/metrics, health on /healthz",
                config.metrics_host,
                config.metrics_port,
            )
        self.metrics.budget_target.set(self.engine.decider.budget)
        try:
            self._connect()
            self._until_done("reading the training log", self._catch_up)
            self._until_done("reading the queries topic", self._catch_up_queries)
            # What is alive now (modules, compiled kernels, the restored state) lives as long as
            # the process: the collector need not walk it again at every full collection, which
            # the hot path's short-lived records set off (about 8 % of the events/s in
            # benchmarks/daemon_throughput.py).
            gc.freeze()
            failures = 0
            while not self.stopping.is_set():
                try:
                    self.step()
                    failures = 0
                except KafkaError as e:
                    # Only the polls raise here: the input they return is counted once delivered.
                    self._backoff(failures, "polling Kafka", e)
                    failures += 1
                    continue
                self.heartbeat.beat()
                if time.monotonic() - self.last_snapshot >= config.snapshot_interval:
                    self.checkpoint()
            self.checkpoint()
            # Closing the group hands the partitions over: nothing is left to write.
            self._settled = True
            log.info("stopped after a final snapshot")
        except Stopped as e:
            log.warning(
                "stopped while the broker was unreachable (%s): the work since the last "
                "snapshot will be redone at the next start",
                e,
            )
        finally:
            self._close_clients()
            if self._endpoint is not None:
                self._endpoint.stop()

    def _until_done(self, what: str, step: Callable[[], object]) -> None:
        """Run ``step`` until it gets through without a Kafka error (it must be repeatable)."""
        attempt = 0
        while True:
            try:
                step()
                return
            except KafkaError as e:
                self._backoff(attempt, what, e)
                attempt += 1

    def _catch_up(self) -> None:
        assert self.training is not None

        def learn(polled: dict) -> None:
            self._learn(polled)
            self.heartbeat.beat()

        end = catch_up_training(self.training, self.config.training_topic, learn, self.stopping)
        log.info(
            "training log read up to offset %d; model version %d", end, self.engine.model.version
        )

    def _catch_up_queries(self) -> None:
        assert self.queries is not None
        self.queries.start()
        pending = self.queries.catch_up(self.stopping)
        log.info(
            "queries log read: %d queries of other replicas or runs pending again, %d in all",
            pending,
            len(self.engine.pending),
        )

    def step(self) -> None:
        """One turn: poll, score, join, deliver, learn."""
        assert self.group is not None and self.training is not None
        assert self.delivery is not None and self.queries is not None
        assert self.handover is not None
        if self.handover.taken:
            self._take_over()
        if self._commit_due:
            self._commit()
        # The group hands partitions over only inside a poll, with every batch delivered.
        self._settled = True
        try:
            polled = self._poll_group()
        finally:
            self._settled = False
        outgoing: list[Outgoing] = []
        consumed: dict[str, dict[int, int]] = {}
        events, labels = [], []
        # Per partition, the events before the batch were delivered (by the previous turns, or
        # before where the partition resumed), and the batch decides them up to its end.
        spans: dict[int, tuple[int, int]] = {}
        for tp, records in polled.items():
            if tp.topic == self.config.events_topic:
                events.extend(records)
                spans[tp.partition] = (records[0].offset, records[-1].offset + 1)
            else:
                labels.extend(records)
            consumed.setdefault(tp.topic, {})[tp.partition] = records[-1].offset + 1
        answers = self._decode(labels, decode_labels, outgoing)
        try:
            self._read_queries(answers)
        except KafkaError:
            # Nothing is decided yet: the records polled are read again at the next turn.
            for tp, records in polled.items():
                self.group.seek(tp, records[0].offset)
            raise
        # From here on only delivery talks to Kafka, and it waits out an outage.
        decided = consumed.get(self.config.events_topic, {})
        if events:
            self._score(events, spans, outgoing)
        if labels:
            self._join(labels, answers, outgoing)
        if self._latest_ts > -math.inf:
            self.engine.expire(self._latest_ts)
            self._append_training(self.engine.settle(self._latest_ts), outgoing)
        self._deliver(outgoing)
        # Only now is the input consumed: a snapshot must never cover output Kafka lacks.
        for topic, partitions in consumed.items():
            self.offsets.setdefault(topic, {}).update(partitions)
        for partition, end in decided.items():
            self.state.decided[partition] = max(self.state.decided.get(partition, 0), end)
        self._learn(self.training.poll(timeout_ms=0 if polled else 50))
        update_gauges(
            self.metrics,
            self.engine,
            self.annotator_names,
            (self.group, self.training),
            self.offsets,
            time.monotonic() - self.last_snapshot,
        )

    def _poll_group(self) -> dict:
        """The group's next records, or none once partitions are handed to us.

        A poll that is given partitions pauses them and then waits out its
        timeout with nothing to read; polling in slices lets the turn place
        them at once (the first decision came half a second later without).
        """
        assert self.group is not None and self.handover is not None
        deadline = time.monotonic() + (POLL_MS if self.group.assignment() else 2 * POLL_MS) / 1000
        while True:
            left = deadline - time.monotonic()
            polled = self.group.poll(timeout_ms=max(0, min(int(left * 1000), _POLL_SLICE_MS)))
            if polled or self.handover.taken or left * 1000 <= _POLL_SLICE_MS:
                return polled

    def _read_queries(self, answers: list[tuple[Label, object]]) -> None:
        """Fold the queries written since the last turn, all of them if a label needs it."""
        assert self.queries is not None
        self.queries.poll()
        fold = self.state.fold
        if any(not self.engine.was_queried(a.id) and a.id not in fold for a, _ in answers):
            # Another replica's query may be on the queries topic and not read here yet: the
            # labeler read it there before it answered, so reading to the end finds it.
            self.queries.catch_up(self.stopping)

    def _take_over(self) -> None:
        """Place the partitions just given to us, know how far they are decided, read them."""
        assert self.group is not None and self.queries is not None and self.handover is not None
        taken = set(self.handover.taken)
        # Their last owners' queries tell how far their events are delivered and decided.
        self.queries.catch_up(self.stopping)
        if self.stopping.is_set():
            return
        delivered = {self.config.events_topic: self.state.delivered}
        for tp, offset in resume_offsets(self.group, taken, self.offsets, delivered).items():
            self.offsets.setdefault(tp.topic, {})[tp.partition] = offset
        for tp in taken:
            # What our last snapshot says of them is older than where they resume: committing
            # it would move the group back.
            self._covered.get(tp.topic, {}).pop(tp.partition, None)
        self.group.resume(*taken)
        self.handover.taken -= taken
        self.reading.set()

    def _deliver(self, outgoing: list[Outgoing]) -> None:
        assert self.delivery is not None
        topic = self.config.queries_topic
        written = self.delivery.deliver(outgoing, tracked=(topic,))
        queries = self.state.queries_written
        for partition, end in written.get(topic, {}).items():
            queries[partition] = max(queries.get(partition, 0), end)

    def _dead_letter(
        self,
        value: bytes | None,
        source: tuple[str, int, int],
        reason: str,
        detail: str,
        key: bytes | None,
        outgoing: list[Outgoing],
    ) -> None:
        topic, partition, offset = source
        letter = encode_dead_letter(
            value, topic=topic, partition=partition, offset=offset, reason=reason, detail=detail
        )
        # The key is the producer's too, and may be as large as the value: a long one is
        # replaced by its hash, so the letter stays small enough to deliver.
        if key is not None and len(key) > _MAX_KEY_BYTES:
            key = hashlib.sha256(key).hexdigest().encode()
        outgoing.append(Outgoing(self.config.dead_letter_topic, key, letter, "dead_letter"))
        self.metrics.dead_letters.labels(reason=reason).inc()

    def _refuse(self, record, reason: str, detail: str, outgoing: list[Outgoing]) -> None:
        """Dead-letter a consumed record, pointing at where it is."""
        source = (record.topic, record.partition, record.offset)
        self._dead_letter(record.value, source, reason, detail, record.key, outgoing)

    def _decode(self, records: list, decode, outgoing: list[Outgoing]) -> list[tuple]:
        """``(message, record)`` for the records ``decode`` reads; the others are dead-lettered.

        ``decode`` reads a batch (:func:`decode_events`, :func:`decode_labels`).
        """
        raws = [record.value or b"" for record in records]
        stamps = [record.timestamp / 1000.0 for record in records]
        max_bytes = self.config.max_record_bytes
        try:
            messages = decode(raws, stamps, max_bytes=max_bytes)
        except Exception:  # a reader's bug must stop neither the stream nor the other records
            log.exception("could not decode a batch of %d records, reading them alone", len(raws))
            messages = [
                self._decode_alone(decode, raw, ts, max_bytes, record)
                for raw, ts, record in zip(raws, stamps, records, strict=True)
            ]
        decoded = []
        for message, record in zip(messages, records, strict=True):
            if isinstance(message, InvalidRecord):
                reason = message.reason.value
                self.metrics.invalid_records.labels(reason=reason).inc()
                self._refuse(record, reason, message.detail, outgoing)
            else:
                decoded.append((message, record))
        return decoded

    @staticmethod
    def _decode_alone(decode, raw: bytes, ts: float, max_bytes: int, record) -> object:
        try:
            return decode([raw], [ts], max_bytes=max_bytes)[0]
        except Exception as e:
            log.exception("could not decode %s[%d]@%d", *_where(record))
            return InvalidRecord(Reason.MALFORMED_JSON, f"{type(e).__name__}: {e}")

    def _score(
        self, records: list, spans: dict[int, tuple[int, int]], outgoing: list[Outgoing]
    ) -> None:
        """Predict and decide a batch of events (records of each partition in order).

        ``spans`` gives each partition's first offset in the batch and the next after it.
        """
        config = self.config
        decoded = self._decode(records, decode_events, outgoing)
        good: list[Event] = [event for event, _ in decoded]
        if not good:
            return
        self._latest_ts = max(self._latest_ts, max([event.ts for event in good]))
        before = self.state.decided
        redone: list[bool] = []
        if any(before.get(partition, 0) > first for partition, (first, _) in spans.items()):
            redone = [record.offset < before.get(record.partition, 0) for _, record in decoded]
        started = time.perf_counter()
        version = self.engine.model.version
        decisions = self.engine.process(good, redone)
        self.metrics.decision_latency.observe(time.perf_counter() - started)
        proba = decisions.proba
        if self.numeric:
            self.state.deployed_error.see(len(good))
        else:
            self.state.deployed.see(proba.max(axis=1) if proba.shape[1] else np.zeros(len(proba)))
        if decisions.unscored:
            sources = {id(event): record for event, record in decoded}
            for unscored in decisions.unscored:
                detail = f"the model cannot score it: {unscored.error}"
                self._refuse(
                    sources[id(unscored.event)], Reason.MODEL_ERROR.value, detail, outgoing
                )
            self.metrics.model_errors.labels(stage="predict").inc(len(decisions.unscored))
            log.error(
                "the model could not score %d of %d events (first: %s)",
                len(decisions.unscored),
                len(good),
                decisions.unscored[0].error,
            )
        # With one partition in the batch (one replica's usual lot), no event needs looking up.
        only = next(iter(spans)) if len(spans) == 1 else None
        partition_of = {} if only is not None else {e.id: r.partition for e, r in decoded}
        for query in decisions.queries:
            partition = partition_of.get(query.id, only)
            header = decided_header(config.events_topic, partition, *spans[partition])
            outgoing.append(
                Outgoing(
                    config.queries_topic,
                    query.id.encode(),
                    encode_query(query),
                    "queries",
                    (header,),
                )
            )
        if config.predictions_topic:
            topic = config.predictions_topic
            outgoing += [
                Outgoing(topic, event_id.encode(), record, "predictions")
                for event_id, record in zip(
                    decisions.ids, encode_predictions(decisions, version), strict=True
                )
            ]
        scored = len(decisions.ids)
        self.metrics.events.inc(scored)
        self.metrics.queries.inc(len(decisions.queries))
        self._count("events", scored)
        self._count("events_redone", sum(redone))
        self._count("queries", len(decisions.queries))

    def _join(self, records: list, decoded: list[tuple], outgoing: list[Outgoing]) -> None:
        """Join the ``decoded`` labels of ``records`` (the others are dead-lettered already)."""
        config = self.config
        self.metrics.labels.labels(outcome="invalid").inc(len(records) - len(decoded))
        labels: list[Label] = [label for label, _ in decoded]
        sources = {id(label): record for label, record in decoded}
        joined = self.engine.join(labels)
        for rejected in joined.rejected:
            outcome = rejected.outcome.value
            self.metrics.labels.labels(outcome=outcome).inc()
            self._refuse(sources[id(rejected.label)], outcome, rejected.detail, outgoing)
        for query in joined.queries:
            outgoing.append(
                Outgoing(config.queries_topic, query.id.encode(), encode_query(query), "queries")
            )
        self.metrics.queries.inc(len(joined.queries))
        self._count("queries", len(joined.queries))
        answered_by = {label.id: sources[id(label)] for label in labels}
        self._append_training(joined.examples, outgoing, answered_by)
        self._count("labels_rejected", len(joined.rejected))
        refused = {id(r.label) for r in joined.rejected}
        for label in labels:
            if id(label) not in refused:
                self.metrics.label_cost.inc(1.0 if label.cost is None else label.cost)

    def _append_training(
        self,
        examples: list[TrainingExample],
        outgoing: list[Outgoing],
        answered_by: Mapping[str, Any] | None = None,
    ) -> None:
        """Write labeled examples to the training log, and count their answers.

        An example the model cannot learn is dead-lettered here, once, by the
        replica that joined its label, with all it holds (the answer is paid
        work: it can be taken up again), instead of reaching every replica's fold.
        The letter points at the label record that answered it (``answered_by``),
        or, for a vote of several answers, at no record of its own.
        """
        config = self.config
        for example in examples:
            try:
                self.engine.model.check_learnable(example.x, example.y)
            except ModelRefused as e:
                self.metrics.model_errors.labels(stage="learn").inc()
                log.error("the model cannot learn the labeled example %r: %s", example.id, e)
                label = (answered_by or {}).get(example.id)
                source = _where(label) if label else (config.training_topic, -1, -1)
                self._dead_letter(
                    encode_training_example(example),
                    source,
                    Reason.MODEL_ERROR.value,
                    f"the model cannot learn it: {e}",
                    example.id.encode(),
                    outgoing,
                )
                continue
            outgoing.append(
                Outgoing(
                    config.training_topic,
                    example.id.encode(),
                    encode_training_example(example),
                    "training",
                )
            )
            answerers = [a.annotator for a in example.answers] or [example.annotator]
            self.metrics.labels.labels(outcome="applied").inc(len(answerers))
            for annotator in answerers:
                self.metrics.annotator_labels.labels(
                    annotator=self.annotator_names(annotator)
                ).inc()
            delay = example.label_ts - example.query_ts
            if delay >= 0:
                self.metrics.label_delay.observe(delay)
            self.accuracy.update(example.y_pred, example.y)
            if self.numeric:
                self.state.deployed_error.label(example.absolute_error, example.probability)
            else:
                self.state.deployed.label(
                    example.confidence, example.y_pred == example.y, example.probability
                )
        self._count("labels_applied", len(examples))
        if examples:
            self.labeled_score.set(self.accuracy.value)
            self._show_deployed()

    def _show_deployed(self) -> None:
        """Set the gauge of the deployed estimate, of the error for a numeric target."""
        if self.numeric:
            estimate, gauge = self.state.deployed_error.estimate(), self.metrics.deployed_error
        else:
            estimate, gauge = self.state.deployed.estimate(), self.metrics.deployed_accuracy
        if estimate is not None:
            for bound in ("estimate", "low", "high"):
                value = estimate.value if bound == "estimate" else getattr(estimate, bound)
                gauge.labels(bound=bound).set(value)

    def _learn(self, polled: dict) -> None:
        """Fold the training log's new records into the model.

        Examples are checked before they are written (:meth:`_append_training`); one
        the model still refuses in the fold is counted and logged by every replica
        alike, and stays in the training log for the record.
        """
        fold = self.state.fold
        for tp, records in polled.items():
            examples = []
            for record in records:
                try:
                    examples.append(decode_training_example(record.value))
                except Exception as e:
                    # Only daemons write this topic; a bad record there is a bug, not input.
                    log.error(
                        "skipping unreadable training record at offset %d: %s", record.offset, e
                    )
            started = time.perf_counter()
            failed = fold.failed
            fold.apply(examples)
            self.metrics.model_update_latency.observe(time.perf_counter() - started)
            self.metrics.model_errors.labels(stage="learn").inc(fold.failed - failed)
            self.offsets.setdefault(tp.topic, {})[tp.partition] = records[-1].offset + 1

    def _count(self, name: str, n: int) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def checkpoint(self) -> None:
        """Write a durable snapshot, then commit the offsets it covers."""
        self._save()
        self._commit()

    def _save(self) -> None:
        started = time.perf_counter()
        self.state.written_at = time.time()
        path = self.store.save(self.state)
        self._covered = _copy(self.offsets)
        self.last_snapshot = time.monotonic()
        self.metrics.snapshot_duration.observe(time.perf_counter() - started)
        self.metrics.snapshot_age.set(0.0)
        log.debug("snapshot %s written", path)

    def _commit(self, partitions: list[TopicPartition] | None = None) -> None:
        """Commit what the newest snapshot covers, of ``partitions`` (by default all we hold).

        Given ``partitions`` (a hand-over, on the consumer's I/O thread), the
        commit is sent without waiting for it; otherwise it is waited for, and
        one refused during a rebalance is tried again at the next turn.
        """
        assert self.group is not None and self.handover is not None
        held = partitions if partitions is not None else self.group.assignment()
        offsets = {
            tp: self._covered[tp.topic][tp.partition]
            for tp in held
            if tp not in self.handover.taken
            and tp.partition in self._covered.get(tp.topic, {})
            and self._committed.get(tp) != self._covered[tp.topic][tp.partition]
        }
        retry, self._commit_due = self._commit_due, False
        if not offsets:
            return
        commit = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in offsets.items()}
        if partitions is not None:
            self.group.commit_async(commit, callback=_log_failed_commit)
            self._committed.update(offsets)
            return
        try:
            self.group.commit(commit)
        except KafkaError as e:
            # The snapshot is the resume point; the group's offsets catch up at the next turn.
            (log.debug if retry else log.warning)("committing offsets failed (%s); will retry", e)
            self._commit_due = True
            return
        self._committed.update(offsets)

    def _give_up(self, partitions: list[TopicPartition]) -> None:
        """Snapshot and commit before partitions go to another replica (:mod:`.handover`)."""
        if not self._settled:
            # Stopped with a batch half done: the last snapshot stands, and is committed.
            return
        groups = (self.config.events_topic, self.config.labels_topic)
        if any(self.offsets.get(t) != self._covered.get(t) for t in groups):
            self._save()
        self._commit(partitions)


def _where(record) -> tuple[str, int, int]:
    return record.topic, record.partition, record.offset


def _copy(offsets: dict[str, dict[int, int]]) -> dict[str, dict[int, int]]:
    return {topic: dict(partitions) for topic, partitions in offsets.items()}


def _log_failed_commit(offsets: dict, result: object) -> None:
    if isinstance(result, Exception):
        log.warning("committing the offsets handed over failed (%s): the taker redoes them", result)
