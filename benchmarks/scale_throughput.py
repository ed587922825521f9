"""Events/s of 1, 2, 3… daemons in one consumer group on this machine, and what that projects to.

For each fleet size the same run: an embedded broker, ``--events`` events of
10 numeric features written beforehand to an events topic of ``--partitions``
partitions (keyed by id), then that many ``streamal serve`` subprocesses in
one group (default model and strategy, budget 10 %) and a labeler answering
every query, so each replica also learns every labeled example of the fleet
and holds every query (docs/design.md, "Scale-out"). The fleet's rate is the
slope of the sum of the replicas' ``streamal_events_total`` between 10 % and
90 % of the events, sampled every half second.

It also times, in this process, what every replica does for each query and
labeled example of the *whole fleet* — fold the query into its pending
queries, learn the example — the cost that grows with the fleet rather than
with a replica's share, and so bounds how far adding replicas helps.

    .venv/bin/python benchmarks/scale_throughput.py --events 150000 --replicas 1 2 3
"""

from __future__ import annotations

import argparse
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from types import SimpleNamespace

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent))  # results_md, run from anywhere
from results_md import environment, markdown_table, write_section

from streamal.config import load_config
from streamal.connectors.broker import GROUP_FLAGS, EmbeddedBroker
from streamal.connectors.kafka import create_topics
from streamal.connectors.queries_log import QueriesLog
from streamal.engine import Event, Label
from streamal.messages import encode_query
from streamal.settings import EngineSettings, build_engine
from streamal.snapshot import Snapshot
from streamal.training import TrainingFold

STREAMAL = str(Path(sys.executable).with_name("streamal"))
RESULTS = Path(__file__).with_name("RESULTS_daemon.md")
TITLE = "Scaling out: events/s of 1, 2 and 3 replicas"
_EVENTS_TOTAL = re.compile(r"^streamal_events_total (\S+)$", re.M)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _event(i: int, rng: random.Random) -> dict:
    return {"v": 1, "id": f"e{i}", "x": {f"f{j}": rng.gauss(0, 1) for j in range(10)}}


def _answer(query: dict) -> str:
    return "pos" if query["x"]["f0"] > 0 else "neg"


def _labeler(bootstrap: str, topics: dict[str, str], stopping: threading.Event) -> None:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    partitions = consumer.partitions_for_topic(topics["queries"])
    consumer.assign([TopicPartition(topics["queries"], p) for p in partitions])
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    while not stopping.is_set():
        for records in consumer.poll(timeout_ms=200).values():
            for record in records:
                query = orjson.loads(record.value)
                label = {"v": 1, "id": query["id"], "label": _answer(query)}
                producer.send(topics["labels"], orjson.dumps(label), record.key)
    producer.close()
    consumer.close()


def _events_scored(ports: list[int]) -> float:
    total = 0.0
    for port in ports:
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
        except OSError:
            continue  # not serving yet
        if match := _EVENTS_TOTAL.search(text.decode()):
            total += float(match[1])
    return total


def fleet_rate(replicas: int, events: int, partitions: int, workdir: Path) -> float:
    """Events/s of ``replicas`` daemons over ``events`` events written beforehand."""
    with EmbeddedBroker() as broker:
        bootstrap = broker.bootstrap_servers
        prefix = f"scale{uuid.uuid4().hex[:6]}"
        roles = ("events", "labels", "queries", "training", "dead-letter")
        topics = {role: f"{prefix}.{role}" for role in roles}
        names = {f"{role.replace('-', '_')}_topic": name for role, name in topics.items()}
        settings = {"bootstrap_servers": bootstrap, "partitions": partitions, **names}
        create_topics(load_config(settings, {}))
        producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
        rng = random.Random(0)
        for i in range(events):
            producer.send(topics["events"], orjson.dumps(_event(i, rng)), f"e{i}".encode())
        producer.flush()
        producer.close()
        stopping = threading.Event()
        labeler = threading.Thread(target=_labeler, args=(bootstrap, topics, stopping))
        labeler.start()
        flags = ["--bootstrap-servers", bootstrap, "--group-id", f"{prefix}-group", *GROUP_FLAGS]
        for role, name in topics.items():
            flags += [f"--{role}-topic", name]
        ports = [_free_port() for _ in range(replicas)]
        daemons = [
            subprocess.Popen(
                [
                    STREAMAL,
                    "serve",
                    *flags,
                    "--state-dir",
                    str(workdir / f"{prefix}-{k}"),
                    "--metrics-port",
                    str(port),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for k, port in enumerate(ports)
        ]
        samples: list[tuple[float, float]] = []
        try:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                samples.append((time.monotonic(), _events_scored(ports)))
                if samples[-1][1] >= events:
                    break
                time.sleep(0.5)
        finally:
            for daemon in daemons:
                daemon.terminate()
            for daemon in daemons:
                daemon.wait(60)
            stopping.set()
            labeler.join()
    low = next(s for s in samples if s[1] >= 0.1 * events)
    high = next(s for s in samples if s[1] >= 0.9 * events)
    return (high[1] - low[1]) / (high[0] - low[0])


def fleet_costs(n: int = 3000) -> tuple[float, float]:
    """Seconds a replica spends per fleet query it folds, and per labeled example it learns."""
    rng = random.Random(1)
    writer = build_engine(EngineSettings(strategy="random", budget=1.0))
    events = [
        Event(e["id"], e["x"], float(i)) for i, e in enumerate(_event(i, rng) for i in range(n))
    ]
    queries = writer.process(events).queries
    raw = [encode_query(q) for q in queries]
    examples = writer.join([Label(q.id, _answer({"x": q.x}), 1.0) for q in queries]).examples
    reader = Snapshot(TrainingFold(build_engine(EngineSettings())))
    fold = QueriesLog(None, "queries", "events", reader)  # type: ignore[arg-type]
    records = [
        SimpleNamespace(value=v, headers=[], partition=0, offset=i) for i, v in enumerate(raw)
    ]
    started = time.perf_counter()
    for record in records:
        fold.apply({None: [record]})
    per_query = (time.perf_counter() - started) / len(records)
    started = time.perf_counter()
    for example in examples:
        reader.fold.apply([example])
    per_example = (time.perf_counter() - started) / len(examples)
    return per_query, per_example


def project(replicas: int, own_per_event: float, fleet_per_event: float) -> float:
    """Fleet events/s of ``replicas`` one-core replicas: each core does its share and the fleet's.

    >>> round(project(1, 50e-6, 10e-6)), round(project(4, 50e-6, 10e-6))
    (16667, 44444)

    """
    return 1 / (own_per_event / replicas + fleet_per_event)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=150_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--results", default=str(RESULTS), help="file to update ('' for none)")
    args = parser.parse_args()
    env = environment()
    rates = {}
    with tempfile.TemporaryDirectory(prefix="streamal-scale-") as workdir:
        for replicas in args.replicas:
            rates[replicas] = fleet_rate(replicas, args.events, args.partitions, Path(workdir))
            print(f"{replicas} replica(s): {rates[replicas]:,.0f} events/s", flush=True)
    per_query, per_example = fleet_costs()
    one = rates[min(rates)]
    rows = [
        [str(k), f"{rate:,.0f}", f"{rate / k:,.0f}", f"{rate / one:.2f}"]
        for k, rate in sorted(rates.items())
    ]
    table = markdown_table(["replicas", "fleet events/s", "per replica", "× one replica"], rows)
    fleet_per_event = 0.1 * (per_query + per_example)
    # One replica's own work per event, less what it did for the fleet (itself, alone).
    own_per_event = 1 / one - fleet_per_event
    projected = [
        [str(n), f"{project(n, own_per_event, fleet_per_event):,.0f}"]
        for n in (1, 2, 4, 8, 16, 32, 64)
    ]
    body = (
        f"{args.events:,} events written beforehand to {args.partitions} partitions; default model "
        "and strategy, budget 10 %, every query answered at once; the broker, the labeler and the "
        "replicas share the machine's cores.\n\n"
        f"{table}\n\n"
        f"Every replica also folds each query of the fleet ({per_query * 1e6:.0f} µs) and learns "
        f"each labeled example ({per_example * 1e6:.0f} µs): at budget 10 % that is "
        f"{fleet_per_event * 1e6:.1f} µs of each replica's core per event of the *fleet*, "
        f"so a core saturates on that alone at {1 / fleet_per_event:,.0f} fleet events/s. "
        f"The rest of one replica's work is {own_per_event * 1e6:.1f} µs per event of its own "
        "share. With one core per replica and the broker elsewhere, n replicas then take "
        "1 / (own / n + fleet) events/s:\n\n"
        f"{markdown_table(['replicas (one core each)', 'projected fleet events/s'], projected)}\n"
    )
    print(body)
    write_section(Path(args.results) if args.results else None, TITLE, body, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
