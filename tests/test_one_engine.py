"""What replay evaluates is what serve runs: the same settings give the same queries.

The events are recorded on a topic; ``streamal serve`` decides them while no
label has come yet, and ``streamal replay kafka://…`` replays the topic with a
label delay longer than the stream, so neither model learns during the run
and every difference would come from how the two read the settings.
"""

from __future__ import annotations

import subprocess

import numpy as np
import orjson

from tests.conftest import FAST_GROUP, STREAMAL, wait_for

N_EVENTS = 400

#: every engine setting that is not the default, each changing which events are asked
SETTINGS = [
    "--strategy", "variable_uncertainty", "--budget", "0.2", "--budget-manager", "biqf",
    "--hard-cap", "--drift-aware", "--delay-aware", "20", "--seed", "7",
]  # fmt: skip


def _replayed_queries(topics, tmp_path, settings: list[str]) -> list[str]:
    queries = tmp_path / "queries.jsonl"
    done = subprocess.run(
        [
            STREAMAL, "replay", f"kafka://{topics.bootstrap_servers}/{topics.events}",
            "--labels-topic", topics.labels, "--label-delay", str(10 * N_EVENTS),
            "--no-progress", "--queries", str(queries), *settings,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [orjson.loads(line)["id"] for line in queries.read_text().splitlines()]


def test_serve_and_replay_ask_for_the_same_events(topics, serve, tmp_path):
    rng = np.random.default_rng(3)
    events = [
        {"v": 1, "id": f"e{i}", "ts": float(i), "x": {"a": float(a), "b": float(b)}}
        for i, (a, b) in enumerate(rng.normal(size=(N_EVENTS, 2)))
    ]
    topics.send_many(topics.events, events)
    daemon = serve(
        [*topics.flags(), *FAST_GROUP, "--state-dir", str(tmp_path / "state"), *SETTINGS]
    )
    predictions = topics.read_json(topics.predictions, at_least=N_EVENTS, timeout=60)
    assert daemon.stop() == 0
    served = [q["id"] for q in topics.read_json(topics.queries)]
    assert sorted(p["id"] for p in predictions) == sorted(e["id"] for e in events)

    # Replay takes its truth from the labels topic, written only now that serve is done.
    topics.send_many(topics.labels, [{"v": 1, "id": e["id"], "label": "x"} for e in events])
    wait_for(lambda: topics.read(topics.labels, at_least=N_EVENTS), 30, "the labels")
    replayed = _replayed_queries(topics, tmp_path, SETTINGS)

    assert 20 <= len(served) <= 0.2 * N_EVENTS + 1
    assert served == replayed
    # The settings matter: with the defaults, other events are asked.
    assert _replayed_queries(topics, tmp_path, []) != served


def test_serve_help_lists_every_engine_setting_of_replay():
    def flags(command: str) -> set[str]:
        done = subprocess.run(
            [STREAMAL, command, "--help"], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return {word.strip(",[]") for word in done.stdout.split() if word.startswith("--")}

    engine_settings = {
        "--model", "--strategy", "--budget", "--budget-manager", "--hard-cap",
        "--drift-aware", "--delay-aware", "--cost-budget", "--labels-per-query", "--seed",
        "--classes",
    }  # fmt: skip
    assert engine_settings <= flags("replay")
    assert engine_settings <= flags("serve")
