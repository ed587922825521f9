"""A daemon run, read back from its topics and re-run, gives the same queries exactly."""

from __future__ import annotations

import random
import re
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from streamal.connectors.kafka_recording import (
    KafkaRange,
    read_daemon_run,
    read_labeled_rows,
    read_range,
)
from streamal.decider import Decider
from streamal.engine import Engine
from streamal.model import DEFAULT_MODEL
from streamal.rerun import rerun
from tests.conftest import FAST_GROUP, STREAMAL, Annotator, wait_for


def test_rerunning_a_daemon_run_reproduces_its_queries(topics, serve, tmp_path: Path):
    args = [
        *topics.flags(),
        *FAST_GROUP,
        "--state-dir", str(tmp_path / "state"),
        "--strategy", "split",
        "--budget", "0.2",
        "--seed", "11",
    ]  # fmt: skip
    daemon = serve(args)
    annotator = Annotator(topics)
    annotator.start()
    daemon.wait_logged("partitions assigned")
    rng = random.Random(3)
    n = 0
    for _ in range(8):  # batches with pauses, so that learning interleaves with scoring
        batch = []
        for _ in range(rng.randint(40, 120)):
            x = {"a": rng.gauss(0, 1), "b": rng.gauss(0, 1), "colour": rng.choice("rgb")}
            batch.append({"v": 1, "id": f"e{n}", "x": x})  # no ts: Kafka's time is used
            n += 1
        topics.send_many(topics.events, batch)
        time.sleep(0.4)
    topics.read(topics.predictions, at_least=n)
    queries = topics.read_json(topics.queries)
    wait_for(lambda: len(topics.read(topics.training)) == len(queries), 30, "all labels learned")
    annotator.stopping.set()
    assert daemon.stop() == 0

    run = read_daemon_run(
        topics.bootstrap_servers, topics.events, topics.predictions, topics.training
    )
    assert len(run.events) == n
    assert len(set(run.versions)) > 3  # the model really learned between batches
    engine = Engine(DEFAULT_MODEL, Decider("split", 0.2, seed=11))
    again = rerun(engine, run.events, run.versions, run.training)
    assert [(q.id, q.score, q.model_version) for q in again] == [
        (q["id"], q["score"], q["model_version"]) for q in queries
    ]
    assert [q.proba for q in again] == [q["proba"] for q in queries]

    # The same, as a command run with the daemon's own settings.
    command = [STREAMAL, "rerun", *args, "--queries", str(tmp_path / "rerun.jsonl")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{len(queries)} queries, {len(queries)} recorded" in done.stdout
    assert "identical" in done.stdout
    written = [orjson.loads(line) for line in (tmp_path / "rerun.jsonl").read_text().split()]
    assert [(q["id"], q["score"]) for q in written] == [(q["id"], q["score"]) for q in queries]
    # Settings other than the daemon's do not reproduce it, and say so.
    other = [*args[: args.index("--seed")], "--seed", "12"]
    done = subprocess.run([STREAMAL, "rerun", *other], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "queries not recorded" in done.stdout or "with another score" in done.stdout


def test_a_topic_range_reads_only_its_offsets(topics):
    for i in range(10):
        topics.send(topics.events, {"v": 1, "id": f"r{i}", "x": {}})
    url = f"kafka://{topics.bootstrap_servers}/{topics.events}?start=3&end=7"
    assert [r.offset for r in read_range(KafkaRange.parse(url))] == [3, 4, 5, 6]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("kafka://host:9092", "is not kafka://HOST:PORT/TOPIC"),
        ("http://host:9092/t", "is not kafka://HOST:PORT/TOPIC"),
        ("kafka://h:1/t?start=x", "start and end must be offsets"),
        ("kafka://h:1/t?from=3", "unknown parameter 'from'"),
    ],
)
def test_a_bad_kafka_url_says_what_is_expected(url, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        KafkaRange.parse(url)


def test_events_and_labels_topics_become_a_recorded_stream(topics):
    for i in range(6):
        topics.send(topics.events, {"v": 1, "id": f"r{i}", "ts": float(i), "x": {"a": i}})
    topics.send(topics.events, b"{broken")
    for i in (4, 0, 2):
        topics.send(topics.labels, {"v": 1, "id": f"r{i}", "label": i % 4 == 0})
    topics.send(topics.labels, {"v": 1, "id": "r2", "label": "corrected"})
    rows, unlabeled = read_labeled_rows(
        KafkaRange.parse(f"kafka://{topics.bootstrap_servers}/{topics.events}"),
        KafkaRange.parse(f"kafka://{topics.bootstrap_servers}/{topics.labels}"),
    )
    assert [(r.id, r.y, r.ts, r.x) for r in rows] == [
        ("r0", True, 0.0, {"a": 0}),
        ("r2", "corrected", 2.0, {"a": 2}),
        ("r4", True, 4.0, {"a": 4}),
    ]
    assert unlabeled == 3
