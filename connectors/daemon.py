"""`Daemon`: the Kafka driver of the engine, behind ``streamal serve``.

One loop, one thread. Each turn it polls events and labels (one consumer,
a member of the group, so replicas split the partitions and a labels
partition goes to the replica holding the same events partition), scores
the events, joins the labels, writes queries, predictions, training
examples and dead letters, waits until Kafka has them, and only then counts
the input as consumed. The model learns only from the training topic, read
by a second consumer from the snapshot's offset, so it is a fold over that
log. Every ``snapshot_interval`` seconds, and at stop, the state is written
durably and then the group's offsets are committed.

The resume point is the snapshot, not the committed offsets: after a crash
the daemon restarts from its newest good snapshot, redoes the events and
labels after it (queries may repeat, with the same id) and re-reads the
training log after it (the fold skips an example it has already learned).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from prometheus_client import start_http_server

from streamal.annotators import Annotators
from streamal.config import ServeConfig
from streamal.connectors import kafka as kafka_clients
from streamal.connectors.snapshots import SnapshotStore, snapshot_key
from streamal.cost_budget import CostBudget
from streamal.decider import Decider
from streamal.engine import Decisions, Engine, Event, Label, TrainingExample
from streamal.messages import (
    InvalidRecord,
    Reason,
    decode_event,
    decode_label,
    decode_training_example,
    encode_dead_letter,
    encode_prediction,
    encode_query,
    encode_training_example,
)
from streamal.metrics import BoundedNames, Metrics, RollingAccuracy
from streamal.pending import PendingQuery
from streamal.snapshot import Snapshot
from streamal.training import TrainingFold

__all__ = ["Daemon", "Stopped"]

log = logging.getLogger("streamal.daemon")

#: kafka-python 3 loses a group join to Tansu when polls are much shorter than this.
_POLL_MS = 500
#: How long a read that has reached the listed end waits for more (see _catch_up_training).
_DRY_POLL_MS = 100
_MAX_BACKOFF = 10.0


class Stopped(Exception):
    """A stop was asked while the broker was unreachable; the last snapshot stands."""


@dataclass(frozen=True, slots=True)
class _Outgoing:
    topic: str
    key: bytes | None
    value: bytes


def _new_decider(config: ServeConfig) -> Decider:
    budget = _cost_budget(config).label_fraction if config.cost_budget else config.budget
    return Decider(config.strategy, budget, seed=config.seed)


def _cost_budget(config: ServeConfig) -> CostBudget:
    return CostBudget(config.cost_budget, config.expected_cost)


def _configure_annotators(engine: Engine, config: ServeConfig) -> None:
    """Annotator-aware mode and the cost budget as configured, keeping learned estimates."""
    if not config.label_wait:
        engine.annotators = None
    elif engine.annotators is None:
        engine.annotators = Annotators(
            config.second_label_confidence, config.labels_per_query, config.label_wait
        )
    else:
        engine.annotators.confident = config.second_label_confidence
        engine.annotators.labels_per_query = config.labels_per_query
        engine.annotators.wait = config.label_wait
    if not config.cost_budget:
        engine.cost_budget = None
    elif engine.cost_budget is None:
        engine.cost_budget = _cost_budget(config)
    else:
        engine.cost_budget.per_event = config.cost_budget


class _SeekToSnapshot(ConsumerRebalanceListener):
    """Resume every partition we are given at the offset our own state covers.

    The labels partitions wait until the events given with them have been
    read up to their end: events after the snapshot are redone, and a label
    for one of their queries must not be read before the query exists again.
    """

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        log.info("partitions revoked: %s", _names(revoked))

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("partitions assigned: %s", _names(assigned))
        assert self.daemon.group is not None
        for tp in assigned:
            offset = self.daemon.offsets.get(tp.topic, {}).get(tp.partition)
            if offset is not None:
                self.daemon.group.seek(tp, offset)
        labels = [tp for tp in assigned if tp.topic == self.daemon.config.labels_topic]
        if labels:
            self.daemon.group.pause(*labels)
            self.daemon.redo_until = None


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(partitions)) or "none"


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
        state_dir = Path(config.state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        self.store = SnapshotStore(state_dir, snapshot_key(state_dir, environ))
        self.queries_written: dict[int, int] = {}
        self.fold, self.offsets, self.counters = self._restore()
        self.accuracy = RollingAccuracy()
        estimates = self.engine.annotators.counts if self.engine.annotators else {}
        self.annotator_names = BoundedNames(config.annotator_metrics, estimates)
        self.last_snapshot = time.monotonic()
        self.group: KafkaConsumer | None = None
        self.training: KafkaConsumer | None = None
        self.producer: KafkaProducer | None = None
        self._http = None
        self._latest_ts = -math.inf
        #: ``{events partition: end offset}`` to reach before labels are read; ``None`` until
        #: measured after an assignment, ``{}`` once the labels flow
        self.redo_until: dict[TopicPartition, int] | None = {}

    @property
    def engine(self) -> Engine:
        return self.fold.engine

    def _restore(self) -> tuple[TrainingFold, dict[str, dict[int, int]], dict[str, int]]:
        config = self.config
        snapshot, path = self.store.newest()
        if snapshot is None:
            engine = Engine(
                config.model,
                _new_decider(config),
                max_pending=config.max_pending,
                pending_ttl=config.pending_ttl,
            )
            _configure_annotators(engine, config)
            log.info(
                "no snapshot in %s: starting from the beginning of the topics", config.state_dir
            )
            return TrainingFold(engine), {}, {}
        engine = snapshot.engine
        if engine.model.spec != config.model:
            log.warning(
                "the snapshot's model is %r, not %r: keeping the snapshot's "
                "(remove %s to rebuild the model from the training topic)",
                engine.model.spec,
                config.model,
                config.state_dir,
            )
        fresh = _new_decider(config)
        if repr(fresh) != repr(engine.decider):
            log.warning(
                "decider changed from %r to %r: its state starts over", engine.decider, fresh
            )
            engine.decider = fresh
        engine.pending.max_size = config.max_pending
        engine.pending.ttl = config.pending_ttl
        _configure_annotators(engine, config)
        log.info(
            "restored %s: model version %d, %d pending queries, offsets %s",
            path,
            engine.model.version,
            len(engine.pending),
            snapshot.offsets,
        )
        self.queries_written = snapshot.queries_written
        return snapshot.fold, snapshot.offsets, snapshot.counters

    def stop(self) -> None:
        """Ask the loop to finish its batch, snapshot, commit and return (signal-safe)."""
        self.stopping.set()

    # -- connection -----------------------------------------------------------------

    def _backoff(self, attempt: int, what: str, error: Exception) -> None:
        delay = min(_MAX_BACKOFF, 0.25 * 2**attempt)
        log.warning("%s failed (%s); retrying in %.1f s", what, error, delay)
        if self.stopping.wait(delay):
            raise Stopped(what)

    def _connect(self) -> None:
        config = self.config
        attempt = 0
        while True:
            try:
                kafka_clients.create_topics(config)
                self.producer = kafka_clients.producer(config, max_block_ms=10_000)
                self.group = kafka_clients.consumer(
                    config,
                    group_id=config.group_id,
                    partition_assignment_strategy=config.kafka_options.get(
                        "partition_assignment_strategy", (RangePartitionAssignor,)
                    ),
                )
                self.training = kafka_clients.consumer(config, group_id=None)
                break
            except (KafkaError, OSError) as e:
                self._close_clients()
                self._backoff(attempt, f"connecting to {config.bootstrap_servers}", e)
                attempt += 1
        self.group.subscribe(
            [config.events_topic, config.labels_topic], listener=_SeekToSnapshot(self)
        )
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
        for client in (self.group, self.training):
            if client is not None:
                client.close(autocommit=False)
        if self.producer is not None:
            self.producer.close(timeout=5)
        self.group = self.training = self.producer = None

    # -- the loop -------------------------------------------------------------------

    def run(self) -> None:
        """Serve until stopped; returns after the final snapshot and commit."""
        config = self.config
        if config.metrics_port:
            self._http, _ = start_http_server(
                config.metrics_port, config.metrics_host, registry=self.metrics.registry
            )
            log.info("metrics on http://%s:%d/metrics", config.metrics_host, config.metrics_port)
        self.metrics.budget_target.set(self.engine.decider.budget)
        try:
            self._connect()
            self._until_done("reading the training log", self._catch_up_training)
            self._until_done("reading the queries topic", self._recover_queries)
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
                if time.monotonic() - self.last_snapshot >= config.snapshot_interval:
                    self.checkpoint()
            self.checkpoint()
            log.info("stopped after a final snapshot")
        except Stopped as e:
            log.warning(
                "stopped while the broker was unreachable (%s): the work since the last "
                "snapshot will be redone at the next start",
                e,
            )
        finally:
            self._close_clients()
            if self._http is not None:
                self._http.shutdown()

    def _until_done(self, what: str, step) -> None:
        """Run ``step`` until it gets through without a Kafka error (it must be repeatable)."""
        attempt = 0
        while True:
            try:
                return step()
            except KafkaError as e:
                self._backoff(attempt, what, e)
                attempt += 1

    def _catch_up_training(self) -> None:
        """Learn the whole training log before answering labels, so none is joined twice."""
        assert self.training is not None
        tp = TopicPartition(self.config.training_topic, 0)
        end = self.training.end_offsets([tp])[tp]
        while not self.stopping.is_set():
            behind = self.training.position(tp) < end
            polled = self.training.poll(timeout_ms=_POLL_MS if behind else _DRY_POLL_MS)
            self._learn(polled)
            # Tansu may list the end as the first offset of the last batch; a fetch
            # tells the true high watermark.
            end = max(end, self.training.highwater(tp) or 0)
            if self.training.position(tp) >= end and not polled:
                break
        log.info(
            "training log read up to offset %d; model version %d", end, self.engine.model.version
        )

    def _recover_queries(self) -> None:
        """Make pending again the queries written after the snapshot and not yet learned.

        Their events are redone, but with the model caught up on the training log, so
        they may not be asked again; their labels must still find them.
        """
        topic = self.config.queries_topic
        reader = kafka_clients.consumer(self.config, group_id=None)
        recovered = 0
        try:
            partitions = [
                TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()
            ]
            reader.assign(partitions)
            for tp in partitions:
                if tp.partition in self.queries_written:
                    reader.seek(tp, self.queries_written[tp.partition])
                else:
                    reader.seek_to_beginning(tp)
            ends = reader.end_offsets(partitions) if partitions else {}
            while not self.stopping.is_set():
                behind = any(reader.position(tp) < end for tp, end in ends.items())
                polled = reader.poll(timeout_ms=_POLL_MS if behind else _DRY_POLL_MS)
                caught_up = all(
                    reader.position(tp) >= max(end, reader.highwater(tp) or 0)
                    for tp, end in ends.items()
                )
                if not polled and caught_up:
                    break
                for records in polled.values():
                    for record in records:
                        recovered += self._recover_query(record.value)
                        self.queries_written[record.partition] = record.offset + 1
        finally:
            reader.close(autocommit=False)
        log.info("%d queries written after the snapshot are pending again", recovered)

    def _recover_query(self, raw: bytes) -> int:
        try:
            query = orjson.loads(raw)
            query_id, x, ts, score = query["id"], query["x"], query["ts"], query["score"]
            proba = query.get("proba") or {}
            y_pred = max(proba, key=proba.get) if proba else None
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            # Only daemons write this topic; a stray record must not keep one from starting.
            log.warning("skipping a record on the queries topic that is not a query: %.80r", raw)
            return 0
        if query_id in self.fold:
            return 0
        # JSON keys are strings; the model's classes may be integers or booleans.
        y_pred = next((c for c in self.engine.model.classes if str(c) == y_pred), y_pred)
        pending = PendingQuery(query_id, x, ts, y_pred, score)
        self.engine.expired += len(self.engine.pending.add(pending))
        return 1

    def _release_labels(self) -> None:
        """Resume the labels partitions once the events before the (re)start are redone."""
        assert self.group is not None
        if self.redo_until is None:
            events = [tp for tp in self.group.assignment() if tp.topic == self.config.events_topic]
            # Tansu may list the end as the first offset of the last batch; the high
            # watermark of a first fetch is the true one, so wait for it.
            if any(self.group.highwater(tp) is None for tp in events):
                return
            try:
                ends = self.group.end_offsets(events) if events else {}
            except KafkaError as e:
                log.warning("cannot read the events' end offsets (%s); will retry", e)
                return
            self.redo_until = {tp: max(end, self.group.highwater(tp)) for tp, end in ends.items()}
        try:
            done = all(self.group.position(tp) >= end for tp, end in self.redo_until.items())
        except KafkaError as e:
            log.warning("cannot read the events' positions (%s); will retry", e)
            return
        if done:
            self.group.resume(*self.group.paused())
            self.redo_until = {}

    def step(self) -> None:
        """One turn: poll, score, join, deliver, learn."""
        assert self.group is not None and self.training is not None
        if self.redo_until is None or self.redo_until:
            self._release_labels()
        polled = self.group.poll(timeout_ms=_POLL_MS if self.group.assignment() else 2 * _POLL_MS)
        outgoing: list[_Outgoing] = []
        consumed: dict[str, dict[int, int]] = {}
        events, labels = [], []
        for tp, records in polled.items():
            (events if tp.topic == self.config.events_topic else labels).extend(records)
            consumed.setdefault(tp.topic, {})[tp.partition] = records[-1].offset + 1
        if events:
            self._score(events, outgoing)
        if labels:
            self._join(labels, outgoing)
        if self._latest_ts > -math.inf:
            self.engine.expire(self._latest_ts)
            self._append_training(self.engine.settle(self._latest_ts), outgoing)
        self._deliver(outgoing)
        # Only now is the input consumed: a snapshot must never cover output Kafka lacks.
        for topic, partitions in consumed.items():
            self.offsets.setdefault(topic, {}).update(partitions)
        self._learn(self.training.poll(timeout_ms=0 if polled else 50))
        self._update_gauges()

    def _dead_letter(self, record, reason: str, detail: str, outgoing: list[_Outgoing]) -> None:
        value = encode_dead_letter(
            record.value,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
            detail=detail,
        )
        outgoing.append(_Outgoing(self.config.dead_letter_topic, record.key, value))
        self.metrics.dead_letters.labels(reason=reason).inc()

    def _decode(self, records: list, decode, outgoing: list[_Outgoing]) -> list[tuple]:
        """``(message, record)`` for the records ``decode`` reads; the others are dead-lettered."""
        decoded = []
        for record in records:
            try:
                message = decode(
                    record.value or b"",
                    default_ts=record.timestamp / 1000.0,
                    max_bytes=self.config.max_record_bytes,
                )
            except InvalidRecord as e:
                self.metrics.invalid_records.labels(reason=e.reason.value).inc()
                self._dead_letter(record, e.reason.value, e.detail, outgoing)
                continue
            decoded.append((message, record))
        return decoded

    def _score(self, records: list, outgoing: list[_Outgoing]) -> None:
        config = self.config
        decoded = self._decode(records, decode_event, outgoing)
        good: list[Event] = [event for event, _ in decoded]
        sources = [record for _, record in decoded]
        for event in good:
            self._latest_ts = max(self._latest_ts, event.ts)
        if not good:
            return
        started = time.perf_counter()
        version = self.engine.model.version
        try:
            decisions = self.engine.process(good)
        except Exception:  # the model is the user's choice; find the events it cannot take
            decisions = self._score_one_by_one(good, sources, outgoing)
        self.metrics.decision_latency.observe(time.perf_counter() - started)
        for query in decisions.queries:
            outgoing.append(_Outgoing(config.queries_topic, query.id.encode(), encode_query(query)))
        if config.predictions_topic:
            for prediction in decisions.predictions:
                outgoing.append(
                    _Outgoing(
                        config.predictions_topic,
                        prediction.id.encode(),
                        encode_prediction(prediction, version),
                    )
                )
        self.metrics.events.inc(len(decisions.predictions))
        self.metrics.queries.inc(len(decisions.queries))
        self._count("events", len(decisions.predictions))
        self._count("queries", len(decisions.queries))

    def _score_one_by_one(self, events: list[Event], sources: list, outgoing: list[_Outgoing]):
        """Score events singly and dead-letter those the model fails on.

        The decider gives the same answers for any batching, so this only
        costs time, and only on batches holding such an event.
        """
        decisions = None
        for event, record in zip(events, sources, strict=True):
            try:
                one = self.engine.process([event])
            except Exception as e:
                reason = Reason.BAD_FEATURES.value
                self.metrics.invalid_records.labels(reason=reason).inc()
                self._dead_letter(record, reason, f"the model cannot score it: {e}", outgoing)
                continue
            if decisions is None:
                decisions = one
            else:
                decisions.predictions += one.predictions
                decisions.queries += one.queries
        return decisions or Decisions([], [], np.zeros((0, 0)))

    def _join(self, records: list, outgoing: list[_Outgoing]) -> None:
        config = self.config
        decoded = self._decode(records, decode_label, outgoing)
        self.metrics.labels.labels(outcome="invalid").inc(len(records) - len(decoded))
        labels: list[Label] = [label for label, _ in decoded]
        sources = {id(label): record for label, record in decoded}
        joined = self.engine.join(labels)
        for rejected in joined.rejected:
            outcome = rejected.outcome.value
            self.metrics.labels.labels(outcome=outcome).inc()
            detail = f"no pending query for id {rejected.label.id!r} ({outcome})"
            self._dead_letter(sources[id(rejected.label)], outcome, detail, outgoing)
        for query in joined.queries:
            outgoing.append(_Outgoing(config.queries_topic, query.id.encode(), encode_query(query)))
        self.metrics.queries.inc(len(joined.queries))
        self._count("queries", len(joined.queries))
        self._append_training(joined.examples, outgoing)
        self._count("labels_rejected", len(joined.rejected))
        refused = {id(r.label) for r in joined.rejected}
        for label in labels:
            if id(label) not in refused:
                self.metrics.label_cost.inc(1.0 if label.cost is None else label.cost)

    def _append_training(self, examples: list[TrainingExample], outgoing: list[_Outgoing]) -> None:
        """Write labeled examples to the training log, and count their answers."""
        config = self.config
        for example in examples:
            outgoing.append(
                _Outgoing(
                    config.training_topic, example.id.encode(), encode_training_example(example)
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
        self._count("labels_applied", len(examples))
        if examples:
            self.metrics.labeled_accuracy.set(self.accuracy.value)

    def _learn(self, polled: dict) -> None:
        for tp, records in polled.items():
            examples = []
            for record in records:
                try:
                    examples.append(decode_training_example(record.value))
                except (InvalidRecord, KeyError, TypeError, ValueError) as e:
                    # Only daemons write this topic; a bad record there is a bug, not input.
                    log.error(
                        "skipping unreadable training record at offset %d: %s", record.offset, e
                    )
            started = time.perf_counter()
            self.fold.apply(examples)
            self.metrics.model_update_latency.observe(time.perf_counter() - started)
            self.offsets.setdefault(tp.topic, {})[tp.partition] = records[-1].offset + 1

    def _deliver(self, outgoing: list[_Outgoing]) -> None:
        """Send and wait until Kafka has every record; retry through broker outages."""
        assert self.producer is not None
        attempt = 0
        while outgoing:
            sent = []
            failed = []
            for record in outgoing:
                try:
                    sent.append(
                        (record, self.producer.send(record.topic, record.value, record.key))
                    )
                except KafkaError as e:
                    failed.append((record, e))
            while any(not future.is_done for _, future in sent):
                try:
                    self.producer.flush(timeout=5)
                except KafkaError as e:
                    self._backoff(attempt, "delivering to Kafka", e)
                    attempt += 1
            failed += [(r, f.exception) for r, f in sent if f.failed()]
            for record, future in sent:
                if record.topic == self.config.queries_topic and future.succeeded():
                    written = future.value
                    self.queries_written[written.partition] = max(
                        self.queries_written.get(written.partition, 0), written.offset + 1
                    )
            if failed:
                self._backoff(attempt, f"delivering {len(failed)} records", failed[0][1])
                attempt += 1
            outgoing = [r for r, _ in failed]

    def _count(self, name: str, n: int) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def _update_gauges(self) -> None:
        metrics = self.metrics
        decider = self.engine.decider
        metrics.budget_spent.set(decider.spent_fraction)
        for arm, weight in zip(decider.arms, decider.arm_weights().tolist(), strict=True):
            metrics.strategy_weight.labels(rule=arm.strategy).set(weight)
        metrics.pending_queries.set(len(self.engine.pending))
        annotators = self.engine.annotators
        if annotators is not None:
            for name in self.annotator_names.tracked:
                metrics.annotator_reliability.labels(annotator=name).set(annotators.accuracy(name))
        metrics.snapshot_age.set(time.monotonic() - self.last_snapshot)
        lag: dict[str, int] = {}
        for consumer in (self.group, self.training):
            assert consumer is not None
            for tp in consumer.assignment():
                end = consumer.highwater(tp)
                position = self.offsets.get(tp.topic, {}).get(tp.partition)
                if end is not None and position is not None:
                    lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - position)
        for topic, records in lag.items():
            metrics.consumer_lag.labels(topic=topic).set(records)

    def checkpoint(self) -> None:
        """Write a durable snapshot, then commit the offsets it covers."""
        assert self.group is not None
        started = time.perf_counter()
        path = self.store.save(
            Snapshot(
                self.fold,
                self.offsets,
                self.counters,
                queries_written=self.queries_written,
                written_at=time.time(),
            )
        )
        self.last_snapshot = time.monotonic()
        self.metrics.snapshot_duration.observe(time.perf_counter() - started)
        self.metrics.snapshot_age.set(0.0)
        log.debug("snapshot %s written", path)
        commit = {
            tp: OffsetAndMetadata(self.offsets[tp.topic][tp.partition], "", -1)
            for tp in self.group.assignment()
            if tp.partition in self.offsets.get(tp.topic, {})
        }
        if not commit:
            return
        try:
            self.group.commit(commit)
        except KafkaError as e:
            # The snapshot is the resume point; the group's offsets catch up next time.
            log.warning("committing offsets failed (%s); will retry at the next snapshot", e)
