"""End-to-end events/s of the daemon through the embedded broker, against a raw consume.

For each Kafka client, in the same run on the same records: N events of 10
numeric features are written once; a bare consumer of that client reads them
all (the ceiling); then a daemon on that client (budget 10 %) scores them all,
with predictions off and then on. Inside the daemon's process the model's own
time (``Model.predict_proba`` and ``Model.learn``) is summed, so that
streamal's own cost per event is the daemon's time per event minus the
model's and minus the raw consume's. The daemon also reports its resident
memory before and after, for the memory-growth goal.

    .venv/bin/python benchmarks/daemon_throughput.py --events 200000
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import confluent_kafka
import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from streamal.config import load_config
from streamal.connectors.broker import EmbeddedBroker
from streamal.connectors.daemon import Daemon
from streamal.connectors.kafka import create_topics
from streamal.engine import TrainingExample
from streamal.messages import encode_training_example
from streamal.model import Model

sys.path.insert(0, str(Path(__file__).resolve().parent))  # results_md, run from anywhere
from results_md import environment, markdown_table, write_section

RESULTS = Path(__file__).with_name("RESULTS_daemon.md")
TITLE = "Throughput by Kafka client: the daemon against a raw consume, and its own cost"
MODEL = "preprocessing.StandardScaler() | linear_model.LogisticRegression()"
CLIENTS = ("kafka-python", "confluent")


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def produce(bootstrap: str, topic: str, n: int) -> float:
    rng = random.Random(0)
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=512 * 1024)
    started = time.perf_counter()
    for i in range(n):
        x = {f"f{j}": rng.gauss(0, 1) for j in range(10)}
        producer.send(topic, orjson.dumps({"v": 1, "id": f"e{i}", "ts": float(i), "x": x}))
    producer.flush()
    producer.close()
    return n / (time.perf_counter() - started)


def raw_consume(client: str, bootstrap: str, topic: str, n: int) -> float:
    """Records/s of a bare consumer of ``client``, reading the values and nothing more."""
    seen = 0
    if client == "confluent":
        consumer = confluent_kafka.Consumer(
            {"bootstrap.servers": bootstrap, "group.id": "raw", "enable.auto.commit": False}
        )
        consumer.assign([confluent_kafka.TopicPartition(topic, 0, 0)])
        started = time.perf_counter()
        while seen < n:
            for message in consumer.consume(500, 0.5):
                seen += message.value() is not None
    else:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        started = time.perf_counter()
        while seen < n:
            for records in consumer.poll(timeout_ms=500, max_records=500).values():
                seen += sum(record.value is not None for record in records)
    rate = n / (time.perf_counter() - started)
    consumer.close()
    return rate


class ModelClock:
    """The time spent in the model's own predict and learn, summed while installed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._originals = {name: getattr(Model, name) for name in ("predict_proba", "learn")}

    def __enter__(self) -> ModelClock:
        for name, original in self._originals.items():
            setattr(Model, name, self._timed(original))
        return self

    def __exit__(self, *exc: object) -> None:
        for name, original in self._originals.items():
            setattr(Model, name, original)

    def _timed(self, method):
        def timed(model, *args, **kwargs):
            started = time.perf_counter()
            try:
                return method(model, *args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


def seed_training(bootstrap: str, topic: str, n: int = 20) -> None:
    """A few labeled examples on the training log, which the daemon folds at start.

    A model that has learned nothing names no class, so a daemon without them
    would score every event without a class to predict or to be unsure of.
    """
    rng = random.Random(1)
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for i in range(n):
        x = {f"f{j}": rng.gauss(0, 1) for j in range(10)}
        example = TrainingExample(f"t{i}", x, x["f0"] > 0, 0.0, 0.0, None)
        producer.send(topic, encode_training_example(example), example.id.encode())
    producer.flush()
    producer.close()


@dataclass
class DaemonRun:
    rate: float
    model_seconds_per_event: float
    rss_start: float
    rss_end: float
    queries: int


def daemon_run(
    client: str, bootstrap: str, n: int, predictions: bool, options: list[str], model: str
) -> DaemonRun:
    with tempfile.TemporaryDirectory() as state, ModelClock() as clock:
        flags = {
            "bootstrap_servers": bootstrap,
            "state_dir": state,
            "metrics_port": 0,
            "snapshot_interval": 30.0,
            "events_topic": "bench.events",
            "predictions_topic": f"bench-{client}.predictions" if predictions else None,
            "model": model,
            "strategy": "variable_uncertainty",
            "kafka_client": client,
        }
        # A group and topics of its own: another run's committed offsets, or its queries
        # (which say how far the events were handled), would leave it nothing to do.
        run = f"bench-{client}-{predictions}"
        flags["group_id"] = run
        for role in ("queries", "labels", "training", "dead_letter"):
            flags[f"{role}_topic"] = f"{run}.{role}"
        config = load_config(flags, {}, ["session_timeout_ms=6000", *options])
        create_topics(config)
        seed_training(bootstrap, config.training_topic)
        daemon = Daemon(config, environ={})
        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()
        while not daemon.counters.get("events"):
            time.sleep(0.001)
        started, first = time.perf_counter(), daemon.counters["events"]
        clock.seconds = 0.0
        rss_start = _rss_mb()
        while daemon.counters.get("events", 0) < n:
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        done = daemon.counters["events"] - first
        model_seconds = clock.seconds
        rss_end = _rss_mb()
        queries = daemon.counters.get("queries", 0)
        daemon.stop()
        thread.join()
    return DaemonRun(done / seconds, model_seconds / done, rss_start, rss_end, queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated")
    parser.add_argument("--model", default=MODEL, help=f"river model spec (default {MODEL})")
    parser.add_argument("--kafka-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--results", default=str(RESULTS), help="file to update ('' for none)")
    args = parser.parse_args()
    env = environment()
    rows = []
    with EmbeddedBroker() as broker:
        bootstrap = broker.bootstrap_servers
        create_topics(
            load_config({"bootstrap_servers": bootstrap, "events_topic": "bench.events"}, {})
        )
        produced = produce(bootstrap, "bench.events", args.events)
        print(f"produced {args.events} events at {produced:,.0f}/s", file=sys.stderr)
        for client in args.clients.split(","):
            raw = raw_consume(client, bootstrap, "bench.events", args.events)
            print(f"{client}: raw consume {raw:,.0f} records/s", file=sys.stderr, flush=True)
            off, on = (
                daemon_run(client, bootstrap, args.events, p, args.kafka_option, args.model)
                for p in (False, True)
            )
            raw_us = 1e6 / raw
            own_us = 1e6 / off.rate - 1e6 * off.model_seconds_per_event - raw_us
            rows.append(
                [
                    client,
                    f"{raw:,.0f} ({raw_us:.1f} µs)",
                    f"{off.rate:,.0f} ({1e6 / off.rate:.1f} µs)",
                    f"{off.rate / raw:.0%}",
                    f"{1e6 * off.model_seconds_per_event:.1f} µs",
                    f"{own_us:.1f} µs ({own_us / raw_us:.0%})",
                    f"{on.rate:,.0f} ({on.rate / off.rate:.0%})",
                    f"{off.queries / args.events:.1%}",
                    f"{off.rss_start:.0f} → {off.rss_end:.0f} MB",
                ]
            )
            print(rows[-1], file=sys.stderr, flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    header = [
        "client",
        "raw consume, records/s (per record)",
        "daemon, events/s (per event)",
        "daemon / raw",
        "model per event",
        "streamal's own per event (of raw)",
        "predictions on, events/s (of off)",
        "queries",
        "RSS",
    ]
    body = (
        f"{args.events:,} events of 10 features, one partition, model `{args.model}`, "
        f"`variable_uncertainty` at 10 %; peak RSS {peak:.0f} MB. streamal's own time per "
        "event = the daemon's − the model's own predict and learn (summed in the process) − "
        "the raw consume's.\n\n" + markdown_table(header, rows)
    )
    print(body)
    write_section(Path(args.results) if args.results else None, TITLE, body, env)


if __name__ == "__main__":
    main()
