"""End-to-end events/s of the daemon through the embedded broker, against raw kafka-python.

Both are measured in the same run on the same records: N events of 10
numeric features are written once; a bare consumer reads them all (the
ceiling), then a daemon (default model, budget 10 %) scores them all,
writing queries and predictions. The daemon also reports its resident
memory before and after, for the memory-growth goal.

    .venv/bin/python benchmarks/daemon_throughput.py --events 200000
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import threading
import time

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from streamal.config import load_config
from streamal.connectors.broker import EmbeddedBroker
from streamal.connectors.daemon import Daemon
from streamal.connectors.kafka import create_topics


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


def raw_consume(bootstrap: str, topic: str, n: int) -> float:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    seen = 0
    started = time.perf_counter()
    while seen < n:
        for records in consumer.poll(timeout_ms=500, max_records=500).values():
            seen += len(records)
    rate = n / (time.perf_counter() - started)
    consumer.close()
    return rate


def daemon_rate(
    bootstrap: str, n: int, predictions: bool, options: list[str]
) -> tuple[float, float, float, int]:
    with tempfile.TemporaryDirectory() as state:
        flags = {
            "bootstrap_servers": bootstrap,
            "state_dir": state,
            "metrics_port": 0,
            "snapshot_interval": 30.0,
            "events_topic": "bench.events",
            "predictions_topic": "bench.predictions" if predictions else None,
        }
        config = load_config(flags, {}, ["session_timeout_ms=6000", *options])
        daemon = Daemon(config, environ={})
        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()
        while not daemon.counters.get("events"):
            time.sleep(0.001)
        started = time.perf_counter()
        rss_start = _rss_mb()
        while daemon.counters.get("events", 0) < n:
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        rss_end = _rss_mb()
        queries = daemon.counters.get("queries", 0)
        daemon.stop()
        thread.join()
    return n / seconds, rss_start, rss_end, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--predictions", action="store_true", help="also write predictions")
    parser.add_argument("--kafka-option", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    with EmbeddedBroker() as broker:
        bootstrap = broker.bootstrap_servers
        create_topics(
            load_config({"bootstrap_servers": bootstrap, "events_topic": "bench.events"}, {})
        )
        produced = produce(bootstrap, "bench.events", args.events)
        raw = raw_consume(bootstrap, "bench.events", args.events)
        rate, rss_start, rss_end, queries = daemon_rate(
            bootstrap, args.events, args.predictions, args.kafka_option
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"events                 {args.events} (predictions {'on' if args.predictions else 'off'})"
    )
    print(f"kafka options          {args.kafka_option}")
    print(f"produce                {produced:,.0f} records/s")
    print(f"raw consume            {raw:,.0f} records/s")
    print(f"daemon end to end      {rate:,.0f} events/s ({rate / raw:.0%} of raw)")
    print(f"queries                {queries} ({queries / args.events:.1%})")
    print(f"RSS                    {rss_start:.0f} MB -> {rss_end:.0f} MB (peak {peak:.0f} MB)")


if __name__ == "__main__":
    main()
