"""The embedded broker's CPU while a topic grows: written to alone, then also read at its tail.

The daemon's latency benchmark runs the broker, the daemon and its own
producer and consumer on the same cores; this shows how much of a core the
broker itself takes as its in-memory topic grows, with no daemon at all. A
producer writes ``--rate`` events a second for ``--seconds``; with
``--followers N``, N consumers read the topic's tail as the daemon does.
The broker process's CPU (user + system, from ``/proc``) is printed every
three seconds.

    .venv/bin/python benchmarks/broker_cpu.py --followers 0
    .venv/bin/python benchmarks/broker_cpu.py --followers 1
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

import confluent_kafka
import numpy as np
import orjson

from streamal.config import load_config
from streamal.connectors.broker import EmbeddedBroker
from streamal.connectors.kafka import create_topics

TOPIC = "cpu.events"


def _broker_pid() -> int:
    """The Tansu process (the embedded broker runs it as a child of this one)."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if text.startswith("Name:\ttansu") and f"PPid:\t{os.getpid()}\n" in text:
            return int(status.parent.name)
    raise SystemExit("no tansu process under this one")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _follow(bootstrap: str, fetch_wait_ms: int, stop: threading.Event) -> None:
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"follower-{threading.get_ident()}",
            "fetch.wait.max.ms": fetch_wait_ms,
        }
    )
    consumer.assign([confluent_kafka.TopicPartition(TOPIC, 0, 0)])
    while not stop.is_set():
        consumer.consume(500, 0.1)
    consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--followers", type=int, default=1)
    parser.add_argument("--fetch-wait-ms", type=int, default=10, help="the followers' fetch wait")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = {f"f{j}": float(v) for j, v in enumerate(rng.normal(size=10))}
    with EmbeddedBroker() as broker:
        bootstrap = broker.bootstrap_servers
        create_topics(load_config({"bootstrap_servers": bootstrap, "events_topic": TOPIC}, {}))
        pid = _broker_pid()
        stop = threading.Event()
        followers = [
            threading.Thread(target=_follow, args=(bootstrap, args.fetch_wait_ms, stop))
            for _ in range(args.followers)
        ]
        for follower in followers:
            follower.start()
        producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})
        began = last = time.perf_counter()
        cpu = _cpu_seconds(pid)
        print(f"{args.rate:,.0f} events/s, {args.followers} follower(s) at the tail")
        for i in range(int(args.rate * args.seconds)):
            producer.produce(TOPIC, orjson.dumps({"v": 1, "id": f"e{i}", "x": x}))
            producer.poll(0)
            now = time.perf_counter()
            if now - last >= 3.0:
                spent = _cpu_seconds(pid)
                print(f"{now - began:5.1f} s, {i + 1:>8,} records: broker CPU "
                      f"{(spent - cpu) / (now - last):.0%} of a core")  # fmt: skip
                cpu, last = spent, now
            ahead = (i + 1) / args.rate - (now - began)
            if ahead > 0.001:
                time.sleep(ahead)
        producer.flush()
        stop.set()
        for follower in followers:
            follower.join()


if __name__ == "__main__":
    main()
