"""The demo's actors around the daemon: a producer of events, an annotator, a scorekeeper.

Each is a thread with its own Kafka client, talking to the daemon only
through the topics, as real ones would.
"""

from __future__ import annotations

import heapq
import math
import random
import threading
import time
from collections.abc import Hashable

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from streamal.engine import Event, Label
from streamal.messages import (
    InvalidRecord,
    decode_prediction,
    decode_query,
    encode_event,
    encode_label,
)
from streamal.synthetic import DriftingRegression, DriftingStream

__all__ = ["Annotator", "EventProducer", "Scorekeeper"]


#: The demo's answers to a numeric target that come as text ("12.5"), as many labeling tools
#: send them: the daemon reads them as numbers.
TEXT_ANSWERS = 0.25
#: A wrong answer to a numeric target is off by a normal error of this deviation (the
#: stream's own spread is about 5).
SLIP = 5.0


class EventProducer(threading.Thread):
    """Writes ``events`` events of a drifting stream at about ``rate`` per second.

    ``task`` ``classification`` draws them from :class:`DriftingStream` (classes
    ``"pos"``/``"neg"``), ``regression`` from :class:`DriftingRegression` (numbers).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        events: int,
        rate: float,
        seed: int = 0,
        task: str = "classification",
    ) -> None:
        super().__init__(name="demo-producer", daemon=True)
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.events = events
        self.rate = rate
        self.seed = seed
        self.task = task
        self.truth: dict[str, Hashable] = {}
        self.sent = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        producer = KafkaProducer(bootstrap_servers=self.bootstrap_servers, linger_ms=5)
        started = time.monotonic()
        drifting = DriftingRegression if self.task == "regression" else DriftingStream
        stream = iter(drifting(seed=self.seed))
        for i in range(self.events):
            if self.stopping.is_set():
                break
            x, y = next(stream)
            event_id = f"demo-{i}"
            self.truth[event_id] = y
            producer.send(
                self.topic, encode_event(Event(event_id, x, time.time())), event_id.encode()
            )
            self.sent = i + 1
            ahead = self.sent / self.rate - (time.monotonic() - started)
            if ahead > 0.01:
                time.sleep(ahead)
        producer.flush()
        producer.close()


class Annotator(threading.Thread):
    """Answers each query after a random delay, wrong with probability ``noise``.

    A wrong class is the other one; a wrong number is off by a normal error of
    deviation :data:`SLIP`. A share :data:`TEXT_ANSWERS` of the numbers is sent
    as text (``"12.5"``), as many labeling tools write them.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        queries_topic: str,
        labels_topic: str,
        truth: dict[str, Hashable],
        *,
        delay: tuple[float, float] = (0.2, 2.0),
        noise: float = 0.05,
        seed: int = 0,
    ) -> None:
        super().__init__(name="demo-annotator", daemon=True)
        self.bootstrap_servers = bootstrap_servers
        self.queries_topic = queries_topic
        self.labels_topic = labels_topic
        self.truth = truth
        self.delay = delay
        self.noise = noise
        self.rng = random.Random(seed)
        self.answered = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap_servers, auto_offset_reset="earliest"
        )
        consumer.assign(
            [
                TopicPartition(self.queries_topic, p)
                for p in _partitions(consumer, self.queries_topic)
            ]
        )
        producer = KafkaProducer(bootstrap_servers=self.bootstrap_servers, linger_ms=5)
        due: list[tuple[float, str, str]] = []
        while not self.stopping.is_set():
            for records in consumer.poll(timeout_ms=100).values():
                for record in records:
                    try:
                        query_id = decode_query(record.value).id
                    except InvalidRecord:
                        continue  # nothing a label could answer
                    y = self.truth.get(query_id)
                    if y is None:
                        continue
                    heapq.heappush(
                        due,
                        (time.monotonic() + self.rng.uniform(*self.delay), query_id, self._say(y)),
                    )
            now = time.monotonic()
            while due and due[0][0] <= now:
                _, query_id, y = heapq.heappop(due)
                label = Label(query_id, y, time.time(), "demo")
                producer.send(self.labels_topic, encode_label(label), query_id.encode())
                self.answered += 1
        producer.flush()
        producer.close()
        consumer.close()

    def _say(self, y: Hashable) -> Hashable:
        """The answer to a query whose truth is ``y``: a slip now and then, a number as text."""
        wrong = self.rng.random() < self.noise
        if not isinstance(y, float):
            return ("neg" if y == "pos" else "pos") if wrong else y
        if wrong:
            y += self.rng.gauss(0.0, SLIP)
        return f"{y:.3f}" if self.rng.random() < TEXT_ANSWERS else y


class Scorekeeper(threading.Thread):
    """Reads the predictions and scores them against the truth the producer knows.

    Classes are scored by the prequential accuracy (every prediction), numbers
    by the prequential mean absolute error (every prediction with a value:
    none is made before the model has learned anything).
    """

    def __init__(self, bootstrap_servers: str, predictions_topic: str, truth: dict[str, Hashable]):
        super().__init__(name="demo-scorekeeper", daemon=True)
        self.bootstrap_servers = bootstrap_servers
        self.predictions_topic = predictions_topic
        self.truth = truth
        self.seen: set[str] = set()
        self.correct = 0
        self.absolute_error = 0.0
        self.valued = 0
        self.stopping = threading.Event()

    @property
    def accuracy(self) -> float:
        return self.correct / len(self.seen) if self.seen else math.nan

    @property
    def mae(self) -> float:
        return self.absolute_error / self.valued if self.valued else math.nan

    def run(self) -> None:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap_servers, auto_offset_reset="earliest"
        )
        consumer.assign(
            [
                TopicPartition(self.predictions_topic, p)
                for p in _partitions(consumer, self.predictions_topic)
            ]
        )
        while not self.stopping.is_set():
            for records in consumer.poll(timeout_ms=100).values():
                for record in records:
                    try:
                        prediction, _ = decode_prediction(record.value)
                    except InvalidRecord:
                        continue
                    if prediction.id in self.seen:
                        continue  # a prediction repeated after a restart counts once
                    self.seen.add(prediction.id)
                    truth = self.truth.get(prediction.id)
                    if isinstance(truth, float):
                        if prediction.y is not None:
                            self.absolute_error += abs(prediction.y - truth)
                            self.valued += 1
                    else:
                        self.correct += prediction.y == truth
        consumer.close()


def _partitions(consumer: KafkaConsumer, topic: str) -> list[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return sorted(partitions)
        time.sleep(0.1)
    raise RuntimeError(f"topic {topic} did not appear")
