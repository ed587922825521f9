"""Shared fixtures: a real embedded Kafka broker, and a ``streamal serve`` run as a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from streamal.config import load_config
from streamal.connectors.broker import GROUP_FLAGS, EmbeddedBroker
from streamal.connectors.kafka import create_topics

STREAMAL = str(Path(sys.executable).with_name("streamal"))

#: Short group joins on the embedded broker (see its GROUP_OPTIONS).
FAST_GROUP = list(GROUP_FLAGS)

#: The daemon's Kafka clients: every test of the daemon on the broker runs with each.
KAFKA_CLIENTS = ["kafka-python", "confluent"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


def wait_for(condition, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def partitions_of(consumer: KafkaConsumer, topic: str) -> list[int]:
    return sorted(wait_for(lambda: consumer.partitions_for_topic(topic), 10, f"topic {topic}"))


class Topics:
    """Uniquely named topics for one test, with helpers to write and read them."""

    def __init__(self, bootstrap_servers: str, partitions: int = 1) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.partitions = partitions
        prefix = f"t{uuid.uuid4().hex[:8]}"
        self.group = f"{prefix}-group"
        self.events = f"{prefix}.events"
        self.queries = f"{prefix}.queries"
        self.labels = f"{prefix}.labels"
        self.predictions = f"{prefix}.predictions"
        self.training = f"{prefix}.training"
        self.dead_letter = f"{prefix}.dead-letter"
        self._producer: KafkaProducer | None = None

    def flags(self) -> list[str]:
        return [
            "--bootstrap-servers", self.bootstrap_servers,
            "--group-id", self.group,
            "--events-topic", self.events,
            "--queries-topic", self.queries,
            "--labels-topic", self.labels,
            "--predictions-topic", self.predictions,
            "--training-topic", self.training,
            "--dead-letter-topic", self.dead_letter,
        ]  # fmt: skip

    def create(self) -> None:
        """Create the topics with one partition, as the daemon would.

        Otherwise a test client reading a topic first would have the broker make it
        with its own default of several partitions.
        """
        names = {
            "events_topic": self.events,
            "queries_topic": self.queries,
            "labels_topic": self.labels,
            "predictions_topic": self.predictions,
            "training_topic": self.training,
            "dead_letter_topic": self.dead_letter,
        }
        settings = {"bootstrap_servers": self.bootstrap_servers, "partitions": self.partitions}
        create_topics(load_config({**settings, **names}, {}))

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(bootstrap_servers=self.bootstrap_servers, linger_ms=2)
        return self._producer

    def send(self, topic: str, value: bytes | dict, key: str | None = None) -> int:
        """Write one record and return its offset."""
        raw = value if isinstance(value, bytes) else orjson.dumps(value)
        future = self.producer.send(topic, raw, key.encode() if key else None)
        return future.get(timeout=10).offset

    def send_many(self, topic: str, values: list[dict]) -> None:
        for value in values:
            self.producer.send(topic, orjson.dumps(value), value["id"].encode())
        self.producer.flush(timeout=10)

    def read(self, topic: str, at_least: int = 0, timeout: float = 20.0) -> list:
        """Every record of ``topic`` (partition by partition), once there are ``at_least``."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        try:
            partitions = [TopicPartition(topic, p) for p in partitions_of(consumer, topic)]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            records: dict[int, list] = {tp.partition: [] for tp in partitions}
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                polled = consumer.poll(timeout_ms=300)
                for tp, batch in polled.items():
                    records[tp.partition].extend(batch)
                # Tansu's end offset can be the start of the last batch: also wait for a dry poll.
                ends = consumer.end_offsets(partitions)
                caught_up = all(consumer.position(tp) >= end for tp, end in ends.items())
                everything = [r for p in sorted(records) for r in records[p]]
                if not polled and len(everything) >= at_least and caught_up:
                    return everything
            found = sum(map(len, records.values()))
            raise AssertionError(f"{topic}: {found} records, expected {at_least}")
        finally:
            consumer.close()

    def read_json(self, topic: str, at_least: int = 0, timeout: float = 20.0) -> list[dict]:
        return [orjson.loads(r.value) for r in self.read(topic, at_least, timeout)]

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()


@pytest.fixture
def topics(broker: EmbeddedBroker) -> Iterator[Topics]:
    created = Topics(broker.bootstrap_servers)
    created.create()
    yield created
    created.close()


def _sign_of_a(query: dict) -> object:
    return "pos" if query["x"]["a"] > 0 else "neg"


class Annotator(threading.Thread):
    """Answers every query once, as it appears on the queries topic, with ``answer(query)``
    (by default the true label of the tests' streams); an answer :attr:`HOLD` sends
    nothing, and the query stays open."""

    #: what ``answer`` returns to leave a query unanswered
    HOLD = object()

    def __init__(self, topics: Topics, answer: Callable[[dict], object] = _sign_of_a) -> None:
        super().__init__(daemon=True)
        self.topics = topics
        self.answer = answer
        self.answered: set[str] = set()
        self.stopping = threading.Event()

    def run(self) -> None:
        consumer = KafkaConsumer(
            bootstrap_servers=self.topics.bootstrap_servers, auto_offset_reset="earliest"
        )
        producer = KafkaProducer(bootstrap_servers=self.topics.bootstrap_servers)
        queries = partitions_of(consumer, self.topics.queries)
        consumer.assign([TopicPartition(self.topics.queries, p) for p in queries])
        while not self.stopping.is_set():
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    query = orjson.loads(record.value)
                    if query["id"] in self.answered:
                        continue  # a query repeated after a crash: already answered
                    self.answered.add(query["id"])
                    y = self.answer(query)
                    if y is self.HOLD:
                        continue
                    label = {"v": 1, "id": query["id"], "label": y, "ts": query["ts"] + 1}
                    producer.send(self.topics.labels, orjson.dumps(label), record.key)
            producer.flush()
        consumer.close()
        producer.close()


class StreamalProcess:
    """A ``streamal`` subcommand run as a subprocess, with its log (stderr) read as it comes."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [STREAMAL, *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)

    def logged(self, text: str) -> bool:
        return any(text in line for line in self.log)

    def wait_logged(self, text: str, timeout: float = 30.0) -> None:
        wait_for(lambda: self.logged(text) or self.process.poll() is not None, timeout, repr(text))
        assert self.logged(text), "".join(self.log)

    def stop(self, timeout: float = 15.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)
        self._reader.join(timeout=5)


class Serve(StreamalProcess):
    """A ``streamal serve`` subprocess, its log, and its metrics."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.metrics_port = free_port()
        super().__init__(["serve", "--metrics-port", str(self.metrics_port), *args], env)

    def metrics(self) -> dict[tuple, float]:
        """``{(name, (label, value)…): value}`` from a scrape of ``/metrics``."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        return {
            (s.name, *sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }


@pytest.fixture(params=KAFKA_CLIENTS)
def kafka_client(request) -> str:
    """The Kafka client of the daemon under test."""
    return request.param


@pytest.fixture
def serve(kafka_client: str) -> Iterator[type[Serve]]:
    """Start ``streamal serve`` subprocesses, with the test's Kafka client; killed at the end."""
    started: list[Serve] = []

    def start(args: list[str], env: dict[str, str] | None = None) -> Serve:
        daemon = Serve(args, {"STREAMAL_KAFKA_CLIENT": kafka_client, **(env or {})})
        started.append(daemon)
        return daemon

    yield start  # type: ignore[misc]
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.kill()
