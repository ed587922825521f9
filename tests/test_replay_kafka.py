"""`streamal replay kafka://…`: a recorded events topic and its labels, on the real broker."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import STREAMAL


def test_replay_reads_a_topic_range_and_its_labels(topics, tmp_path):
    events = [
        {"v": 1, "id": f"e{i}", "ts": float(i), "x": {"a": float(i % 10), "k": "ab"[i % 2]}}
        for i in range(600)
    ]
    topics.send_many(topics.events, events)
    # Every event but the last 100 has a label; one bad label record is skipped.
    topics.send_many(
        topics.labels,
        [{"v": 1, "id": e["id"], "label": e["x"]["a"] > 4} for e in events[:500]],
    )
    topics.send(topics.labels, b"{not json")
    report = tmp_path / "r.json"
    url = f"kafka://{topics.bootstrap_servers}/{topics.events}"
    done = subprocess.run(
        [
            STREAMAL, "replay", f"{url}?start=100", "--labels-topic", topics.labels,
            "--strategy", "variable_uncertainty,random", "--budget", "0.2",
            "--report", str(report),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "100 events without a label" in done.stderr
    runs = json.loads(report.read_text())["runs"]
    assert [r["events"] for r in runs] == [400, 400]  # offsets 100–499 have labels
    assert all(60 <= r["labels"] <= 100 for r in runs)  # 20 % of 400, give or take the burst
    assert all(r["accuracy"] > 0.5 for r in runs), runs


def test_bad_kafka_inputs_are_one_line(topics):
    for url, message in [
        ("kafka://nohost", "is not kafka://HOST:PORT/TOPIC"),
        (f"kafka://{topics.bootstrap_servers}/{topics.events}?from=3", "from"),
        (f"kafka://{topics.bootstrap_servers}/{topics.events}", "no events with a label"),
    ]:
        done = subprocess.run(
            [STREAMAL, "replay", url, "--labels-topic", topics.labels],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
