"""`streamal annotate` as a person uses it: a subprocess typing at its prompt, on a real broker."""

from __future__ import annotations

import signal
import subprocess

import orjson

from tests.conftest import STREAMAL

QUERIES = [
    {"v": 1, "id": "q1", "ts": 1.0, "x": {"a": 1.5, "colour": "red"}, "score": 0.4,
     "proba": {"spam": 0.6, "ham": 0.4}, "strategy": "variable_uncertainty", "model_version": 3},
    {"v": 1, "id": "q2", "ts": 2.0, "x": {"a": 0.1}, "score": 0.9, "proba": {},
     "strategy": "variable_uncertainty", "model_version": 3},
    {"v": 1, "id": "q3", "ts": 3.0, "x": {"a": 9.0}, "score": 0.2,
     "proba": {"spam": 0.2, "ham": 0.8}, "strategy": "variable_uncertainty", "model_version": 4},
    {"v": 1, "id": "q4", "ts": 4.0, "x": {"a": 4.0}, "score": 0.5,
     "proba": {"spam": 0.5, "ham": 0.5}, "strategy": "variable_uncertainty", "model_version": 4},
]  # fmt: skip


def command(topics) -> list[str]:
    return [
            STREAMAL, "annotate", "--bootstrap-servers", topics.bootstrap_servers,
            "--queries-topic", topics.queries, "--labels-topic", topics.labels,
            "--group-id", topics.group, "--annotator", "alice",
            "--kafka-option", "session_timeout_ms=6000",
    ]  # fmt: skip


def annotate(topics, typed: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(topics), input=typed, capture_output=True, text=True, timeout=120)


def test_typed_labels_reach_the_labels_topic(topics):
    topics.send_many(topics.queries, QUERIES)
    topics.send(topics.queries, b"not json")  # skipped, not shown
    # q1: Enter accepts the guess (spam); q2: no guess, typed "ham"; q3: skipped; then quit.
    done = annotate(topics, "\nham\ns\nq\n")
    assert done.returncode == 0, done.stderr
    assert "model's guess: spam  (spam 60%, ham 40%)" in done.stdout
    assert "colour = red" in done.stdout
    assert "model's guess: none yet" in done.stdout
    assert done.stdout.rstrip().endswith("2 labels sent")
    labels = [orjson.loads(r.value) for r in topics.read(topics.labels, at_least=2)]
    assert [(a["id"], a["label"], a["annotator"], a["v"]) for a in labels] == [
        ("q1", "spam", "alice", 1),
        ("q2", "ham", "alice", 1),
    ]
    # q4 was shown when the labeler quit: unanswered, so the next session starts there.
    # Then it waits for more queries until Ctrl-C.
    again = subprocess.Popen(
        command(topics), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    again.stdin.write("spam\n")
    again.stdin.flush()
    labels = [orjson.loads(r.value) for r in topics.read(topics.labels, at_least=3)]
    assert labels[-1]["id"] == "q4" and labels[-1]["label"] == "spam"
    again.send_signal(signal.SIGINT)
    out, _ = again.communicate(timeout=30)
    assert again.returncode == 0
    assert "query q4" in out and "query q3" not in out
    assert out.rstrip().endswith("1 label sent")


def test_bad_configuration_is_one_line():
    done = subprocess.run(
        [STREAMAL, "annotate", "--kafka-option", "nonsense"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error:")
