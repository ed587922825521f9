"""Event-to-query latency of ``streamal serve`` at a fixed offered rate, and time to first decision.

A producer writes events at ``--rate`` per second, each stamped with the
wall-clock time it was sent; a consumer of the queries topic notes when
each query arrives. Latency = arrival - send time, so it includes both
Kafka hops. The daemon runs as a subprocess, as in production; its start
is timed from launch to its first query (the numba cache is warmed by a
first run), with the daemon's own Kafka settings unless ``--kafka-option``
says otherwise, as when started by hand.

    .venv/bin/python benchmarks/daemon_latency.py --rate 5000 --seconds 20
    .venv/bin/python benchmarks/daemon_latency.py --start-only
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from streamal.config import load_config
from streamal.connectors.broker import EmbeddedBroker
from streamal.connectors.kafka import create_topics

STREAMAL = str(Path(sys.executable).with_name("streamal"))


def _event(i: int, rng: np.random.Generator) -> bytes:
    x = {f"f{j}": float(v) for j, v in enumerate(rng.normal(size=10))}
    return orjson.dumps({"v": 1, "id": f"e{i}", "ts": time.time(), "x": x})


def _create_topics(bootstrap: str, prefix: str) -> None:
    names = ("events", "queries", "labels", "training", "dead_letter")
    flags = {f"{name}_topic": f"{prefix}.{name}" for name in names}
    create_topics(load_config({"bootstrap_servers": bootstrap, **flags}, {}))


def _start(
    bootstrap: str, prefix: str, state: str, flags: list[str]
) -> tuple[subprocess.Popen, dict[str, float]]:
    """The daemon, and when it logged the end of each phase of its start (filled as it runs)."""
    command = [
        STREAMAL, "serve",
        "--bootstrap-servers", bootstrap,
        "--group-id", f"{prefix}-group",
        "--events-topic", f"{prefix}.events",
        "--queries-topic", f"{prefix}.queries",
        "--labels-topic", f"{prefix}.labels",
        "--training-topic", f"{prefix}.training",
        "--dead-letter-topic", f"{prefix}.dead_letter",
        "--state-dir", state,
        "--metrics-port", "0",
        *flags,
    ]  # fmt: skip
    daemon = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    logged: dict[str, float] = {}

    def read_log() -> None:  # also keeps the pipe from filling up
        for line in daemon.stderr:
            for phase, marker in _PHASES.items():
                if marker in line and phase not in logged:
                    logged[phase] = time.perf_counter()

    threading.Thread(target=read_log, daemon=True).start()
    return daemon, logged


#: the daemon's log lines that end each phase of its start, in order
_PHASES = {
    "imports": "starting with",
    "restore and connect": "connected to",
    "group join": "partitions assigned",
}


def _first_query_seconds(bootstrap: str, prefix: str, flags: list[str]) -> dict[str, float]:
    """Launch a daemon on a topic already holding an event; seconds to its first query, by phase.

    Each phase ends when the daemon logs its line (:data:`_PHASES`), the last
    one when its first query is on the queries topic.
    """
    _create_topics(bootstrap, prefix)
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    producer.send(f"{prefix}.events", _event(0, np.random.default_rng(0)))
    producer.flush()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=10)
    consumer.assign([TopicPartition(f"{prefix}.queries", 0)])
    with tempfile.TemporaryDirectory() as state:
        launched = time.perf_counter()
        daemon, logged = _start(bootstrap, prefix, state, flags)
        while not consumer.poll(timeout_ms=20):
            pass
        answered = time.perf_counter()
        daemon.terminate()
        daemon.wait()
    consumer.close()
    producer.close()
    ends = [launched, *(logged.get(phase, float("nan")) for phase in _PHASES), answered]
    phases = [*_PHASES, "first decision"]
    return {"total": answered - launched} | {
        phase: end - start for phase, start, end in zip(phases, ends[:-1], ends[1:], strict=True)
    }


def _show_start(runs: list[dict[str, float]]) -> str:
    return "; ".join(
        f"{phase} {', '.join(f'{run[phase]:.2f}' for run in runs)} s" for phase in runs[0]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--kafka-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--start-only", action="store_true", help="time the start, 3 times")
    parser.add_argument("--kafka-client", default="kafka-python", help="the daemon's client")
    parser.add_argument("--model", help="river model spec (default: the daemon's)")
    args = parser.parse_args()
    flags = ["--kafka-client", args.kafka_client]
    flags += ["--model", args.model] if args.model else []
    for option in args.kafka_option:
        flags += ["--kafka-option", option]
    with EmbeddedBroker() as broker:
        bootstrap = broker.bootstrap_servers
        _first_query_seconds(bootstrap, "warm", flags)  # fills numba's cache
        start = _first_query_seconds(bootstrap, "start", flags)
        if args.start_only:
            more = [_first_query_seconds(bootstrap, f"start{i}", flags) for i in (1, 2)]
            print(f"serve flags               {' '.join(flags)}")
            print(f"start to first decision   {_show_start([start, *more])} (warm numba cache)")
            return

        arrivals: list[tuple[float, float]] = []
        stop = threading.Event()

        def watch() -> None:
            consumer = KafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=5)
            consumer.assign([TopicPartition("lat.queries", 0)])
            consumer.seek_to_beginning()
            while not stop.is_set():
                for records in consumer.poll(timeout_ms=50).values():
                    now = time.time()
                    arrivals.extend((now, orjson.loads(r.value)["ts"]) for r in records)
            consumer.close()

        _create_topics(bootstrap, "lat")
        with tempfile.TemporaryDirectory() as state:
            daemon, _ = _start(bootstrap, "lat", state, flags)
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
            rng = np.random.default_rng(1)
            time.sleep(8)  # the daemon joins its group
            n = int(args.rate * args.seconds)
            began = time.perf_counter()
            for i in range(n):
                producer.send("lat.events", _event(i, rng))
                ahead = (i + 1) / args.rate - (time.perf_counter() - began)
                if ahead > 0.001:
                    time.sleep(ahead)
            producer.flush()
            offered = n / (time.perf_counter() - began)
            time.sleep(3)
            stop.set()
            watcher.join()
            daemon.terminate()
            daemon.wait()
    # The first second is the model's and the JIT's warm-up; keep the steady state.
    latencies = np.array([a - ts for a, ts in arrivals[len(arrivals) // 10 :]]) * 1000
    sent = np.array([ts for _, ts in arrivals[len(arrivals) // 10 :]])
    print(f"serve flags               {' '.join(flags)}")
    print(f"start to first decision   {_show_start([start])} (warm numba cache)")
    print(f"offered rate              {offered:,.0f} events/s for {args.seconds:g} s")
    print(f"queries measured          {len(latencies)}")
    print(f"event-to-query latency    p50 {np.percentile(latencies, 50):.1f} ms, "
          f"p99 {np.percentile(latencies, 99):.1f} ms, max {latencies.max():.1f} ms")  # fmt: skip
    # The embedded broker's fetches cost more as its in-memory topics grow: the same
    # percentiles by when the event was sent show how much of the latency is that.
    edges = np.linspace(sent.min(), sent.max(), 5)
    for low, high in itertools.pairwise(edges):
        part = latencies[(sent >= low) & (sent <= high)]
        p50, p99 = np.percentile(part, [50, 99])
        print(f"  sent {low - sent.min():4.1f}-{high - sent.min():4.1f} s       "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
