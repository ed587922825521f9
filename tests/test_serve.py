"""``streamal serve`` end to end against the embedded broker, run as a subprocess."""

from __future__ import annotations

import math
import os
import subprocess
from pathlib import Path

import numpy as np
import orjson
import pytest

from streamal.connectors.snapshots import SnapshotStore, snapshot_key
from streamal.decider import DEFAULT_STRATEGY, STRATEGIES
from tests.conftest import FAST_GROUP, STREAMAL, wait_for


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--budget", "2"], {}, "error: budget must be in (0, 1], got 2"),
        (["--strategy", "psychic"], {}, "error: unknown strategy 'psychic'"),
        (["--kafka-option", "colour=blue"], {}, "error: unknown Kafka option 'colour'"),
        (
            ["--kafka-option", "max_in_flight_requests_per_connection=1"],
            {"STREAMAL_KAFKA_CLIENT": "confluent"},
            "error: Kafka option 'max_in_flight_requests_per_connection' has no librdkafka",
        ),
        (["--config", "/no/such.toml"], {}, "error: config file /no/such.toml: no such file"),
        ([], {"STREAMAL_METRICS_PORT": "lots"}, "error: STREAMAL_METRICS_PORT: metrics_port"),
        (["--budget", "half"], {}, "error: streamal serve: argument --budget: invalid float"),
        (
            ["--model", "linear_model.LogisticRegression()", "--classes", "a,b,c"],
            {},
            "error: model 'linear_model.LogisticRegression()' tells two classes apart, not 3",
        ),
    ],
)
def test_config_errors_are_one_line_and_exit_2(args, env, message):
    done = subprocess.run(
        [STREAMAL, "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert done.returncode == 2
    assert done.stderr.startswith(message), done.stderr
    assert done.stderr.count("\n") == 1


def _events(start: int, n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "v": 1,
            "id": f"e{i}",
            "ts": float(i),
            "x": {"a": float(rng.normal()), "b": float(rng.normal()), "colour": "red"},
        }
        for i in range(start, start + n)
    ]


def _truth(x: dict) -> str:
    return "pos" if x["a"] + 0.5 * x["b"] > 0 else "neg"


BAD_EVENTS = {
    "malformed_json": b'{"v":1,"id":"m1",',
    "not_an_object": b"[1,2,3]",
    "missing_id": b'{"v":1,"x":{"a":1}}',
    "bad_id": b'{"v":1,"id":42,"x":{"a":1}}',
    "bad_version": b'{"v":7,"id":"m2","x":{"a":1}}',
    "bad_features": b'{"v":1,"id":"m3","x":{"a":[1,2]}}',
    "non_finite": b'{"v":1,"id":"m4","x":{"a":NaN}}',
    "oversized": orjson.dumps({"v": 1, "id": "m5", "x": {"a": 1, "pad": "z" * 5000}}),
    "bad_timestamp": b'{"v":1,"id":"m6","ts":"yesterday","x":{"a":1}}',
}


RULES = STRATEGIES[DEFAULT_STRATEGY].arms


def _value(metrics: dict, name: str, **labels: str) -> float:
    return metrics[(name, *sorted(labels.items()))]


def test_serve_end_to_end(topics, serve, tmp_path: Path):
    state = tmp_path / "state"
    args = [
        *topics.flags(),
        *FAST_GROUP,
        "--state-dir", str(state),
        "--budget", "0.2",
        "--pending-ttl", "1000",
        "--max-record-bytes", "4096",
        "--snapshot-interval", "60",
    ]  # fmt: skip
    daemon = serve(args)
    daemon.wait_logged("partitions assigned")

    # Events, with one bad record of every kind in the middle of the good ones.
    events = _events(0, 300, seed=1)
    topics.send_many(topics.events, events[:150])
    bad_offsets = {reason: topics.send(topics.events, raw) for reason, raw in BAD_EVENTS.items()}
    topics.send_many(topics.events, events[150:])

    predictions = topics.read_json(topics.predictions, at_least=300)
    assert [p["id"] for p in predictions] == [e["id"] for e in events]
    queries = topics.read_json(topics.queries)
    assert [q["id"] for q in queries] == [p["id"] for p in predictions if p["queried"]]
    assert 10 <= len(queries) <= 0.3 * len(events)
    first = queries[0]
    assert first["v"] == 1 and first["strategy"] == DEFAULT_STRATEGY
    assert first["x"] == events[int(first["id"][1:])]["x"]

    letters = topics.read_json(topics.dead_letter, at_least=len(BAD_EVENTS))
    assert {d["reason"]: d["offset"] for d in letters} == bad_offsets
    assert all(d["topic"] == topics.events and d["partition"] == 0 for d in letters)
    assert letters[0]["value"] == BAD_EVENTS[letters[0]["reason"]].decode()

    # Labels: all but the last query answered (after a delay); a duplicate, an unknown id,
    # a label that is not a class, and, once its query has expired, a late one.
    by_id = {e["id"]: e for e in events}
    answered, late = queries[:-1], queries[-1]
    for q in answered:
        label = {"v": 1, "id": q["id"], "label": _truth(q["x"]), "ts": q["ts"] + 5.0}
        topics.send(topics.labels, label, q["id"])
    duplicate = topics.send(topics.labels, {"v": 1, "id": answered[0]["id"], "label": "pos"})
    unknown = topics.send(topics.labels, {"v": 1, "id": "never-asked", "label": "pos"})
    invalid = topics.send(topics.labels, {"v": 1, "id": answered[1]["id"], "label": [1]})
    # An event far in the future ages the unanswered query past --pending-ttl.
    topics.send(topics.events, {"v": 1, "id": "later", "ts": 5000.0, "x": {"a": 0.0, "b": 0.0}})
    topics.read(topics.predictions, at_least=301)
    expired = topics.send(topics.labels, {"v": 1, "id": late["id"], "label": "neg"})

    training = topics.read_json(topics.training, at_least=len(answered))
    assert [t["id"] for t in training] == [q["id"] for q in answered]
    assert all(t["y"] == _truth(by_id[t["id"]]["x"]) for t in training)
    letters = topics.read_json(topics.dead_letter, at_least=len(BAD_EVENTS) + 4)
    label_letters = {d["reason"]: d["offset"] for d in letters if d["topic"] == topics.labels}
    assert label_letters == {
        "duplicate": duplicate,
        "unknown": unknown,
        "bad_label": invalid,
        "expired": expired,
    }

    # The metrics, scraped over HTTP.
    def settled():
        metrics = daemon.metrics()
        return metrics if _value(metrics, "streamal_labels_total", outcome="expired") else None

    metrics = wait_for(settled, 20, "the late label to be counted")
    assert _value(metrics, "streamal_events_total") == 301
    queried = predictions_queried(topics)  # the "later" event may have been queried too
    assert _value(metrics, "streamal_queries_total") == queried
    assert _value(metrics, "streamal_labels_total", outcome="applied") == len(answered)
    for outcome in ("duplicate", "unknown", "invalid", "expired"):
        assert _value(metrics, "streamal_labels_total", outcome=outcome) == 1, outcome
    for reason in BAD_EVENTS:
        assert _value(metrics, "streamal_invalid_records_total", reason=reason) == 1, reason
        assert _value(metrics, "streamal_dead_letters_total", reason=reason) == 1, reason
    assert _value(metrics, "streamal_invalid_records_total", reason="bad_label") == 1
    assert _value(metrics, "streamal_budget_target_ratio") == 0.2
    spent = _value(metrics, "streamal_budget_spent_ratio")
    assert spent == pytest.approx(queried / 301)
    assert _value(metrics, "streamal_label_delay_seconds_count") == len(answered)
    assert _value(metrics, "streamal_label_delay_seconds_sum") == pytest.approx(5.0 * len(answered))
    # Every query was asked before the model knew a class: none has a prediction to score.
    assert math.isnan(_value(metrics, "streamal_labeled_accuracy_ratio"))
    assert 0.0 <= _value(metrics, "streamal_deployed_accuracy_ratio", bound="estimate") <= 1.0
    assert _value(metrics, "streamal_decision_latency_seconds_count") >= 1
    assert _value(metrics, "streamal_model_update_latency_seconds_count") >= 1
    assert _value(metrics, "streamal_consumer_lag_records", topic=topics.events) == 0
    assert _value(metrics, "streamal_build_info", version="0.1.0") == 1
    # The default bandit's choice between its rules: a distribution over the three.
    weights = [_value(metrics, "streamal_strategy_weight_ratio", rule=rule) for rule in RULES]
    assert sum(weights) == pytest.approx(1.0) and min(weights) >= 0.1 / 3
    later_queried = queried - len(queries)
    assert _value(metrics, "streamal_pending_queries") == later_queried
    assert 0 < _value(metrics, "streamal_snapshot_age_seconds") < 60

    # SIGTERM: a final snapshot, then exit 0.
    assert daemon.stop() == 0
    assert daemon.logged("stopped after a final snapshot")
    store = SnapshotStore(state, snapshot_key(state, {}))
    snapshot, _ = store.newest()
    assert snapshot is not None
    assert snapshot.engine.model.version == len(answered)
    assert snapshot.offsets[topics.events] == {0: 301 + len(BAD_EVENTS)}
    assert snapshot.offsets[topics.training] == {0: len(answered)}

    # A restart resumes from the snapshot: nothing is redone, new events flow.
    again = serve([*args, "--log-format", "json"])
    again.wait_logged("partitions assigned")
    again.wait_logged("restored")
    topics.send(topics.events, {"v": 1, "id": "after", "ts": 5001.0, "x": {"a": 1.0, "b": 1.0}})
    predictions = topics.read_json(topics.predictions, at_least=302)
    assert [p["id"] for p in predictions[-2:]] == ["later", "after"]
    wait_for(lambda: _value(again.metrics(), "streamal_events_total") == 1, 10, "one event")
    assert len(topics.read(topics.training)) == len(answered)
    # The deployed-accuracy estimate came back with the snapshot, before any new label.
    before = snapshot.deployed.estimate()
    resumed = _value(again.metrics(), "streamal_deployed_accuracy_ratio", bound="estimate")
    assert resumed == pytest.approx(before.value, abs=0.02)
    assert again.stop() == 0
    lines = [orjson.loads(line) for line in again.log]
    assert {"ts", "level", "logger", "message"} <= set(lines[0])
    assert any(line["message"].startswith("restored ") for line in lines)


def predictions_queried(topics) -> int:
    return sum(p["queried"] for p in topics.read_json(topics.predictions))


def test_a_stray_record_on_the_queries_topic_does_not_stop_a_start(topics, serve, tmp_path):
    # At start the daemon re-reads the queries topic to make unanswered queries pending again.
    topics.send(topics.queries, b"not a query")
    topics.send(topics.queries, {"v": 1, "id": "half a query"})
    daemon = serve([*topics.flags(), *FAST_GROUP, "--state-dir", str(tmp_path / "state")])
    daemon.wait_logged("partitions assigned")
    assert daemon.logged("skipping a record on the queries topic that is not a query")
    topics.send_many(topics.events, _events(0, 20, seed=2))
    assert len(topics.read_json(topics.predictions, at_least=20)) == 20
    assert daemon.stop() == 0
