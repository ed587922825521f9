"""`streamal label-studio` against a real Label Studio server and the embedded broker.

The server runs from its own virtualenv (``make tests/.venv-label-studio/.installed``,
which ``make test`` runs), with SQLite in a temporary directory, once for the module.
A person (bob) labels through Label Studio's REST API, as its web page does; the
bridge runs as a subprocess under its own account.
"""

from __future__ import annotations

import doctest
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

import streamal.connectors.label_studio
from tests.conftest import FAST_GROUP, STREAMAL, StreamalProcess, free_port, wait_for

LS_VENV = Path(__file__).parent / ".venv-label-studio"
LABEL_STUDIO = LS_VENV / "bin" / "label-studio"
#: An empty database the Makefile migrated: each run starts from a copy, not a minute of migrations.
MIGRATED = LS_VENV / "migrated.sqlite3"

BOB = ("bob@example.com", "bob-password-1", "bob-legacy-token-1")
BRIDGE = ("bridge@example.com", "bridge-password-1", "bridge-legacy-token-1")


class LabelStudioServer:
    """A running Label Studio: its address and a JSON client acting as any of its users."""

    def __init__(self, url: str, process: subprocess.Popen) -> None:
        self.url = url
        self.process = process

    def call(self, method: str, path: str, body=None, token: str = BRIDGE[2], **params):
        query = "?" + urllib.parse.urlencode(params) if params else ""
        request = urllib.request.Request(
            self.url + path + query,
            None if body is None else orjson.dumps(body),
            {"Authorization": f"Token {token}", "Content-Type": "application/json"},
            method=method,
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return orjson.loads(raw) if raw else None

    def project_titled(self, title: str) -> dict | None:
        found = self.call("GET", "/api/projects/", title=title)["results"]
        return next((p for p in found if p["title"] == title), None)

    def tasks(self, project: int) -> list[dict]:
        return self.call("GET", "/api/tasks/", project=project, fields="all", page_size=100)[
            "tasks"
        ]

    def next_task(self, project: int) -> dict:
        """The task Label Studio serves bob next."""
        return self.call("GET", f"/api/projects/{project}/next/", token=BOB[2])

    def answer(self, task: dict, choice: str | None, lead_time: float = 2.0) -> None:
        """As bob: choose ``choice`` for ``task`` (None: skip it)."""
        config = self.call("GET", f"/api/projects/{task['project']}/")["label_config"]
        control = streamal.connectors.label_studio.ChoiceControl.of(config)
        if choice is None:
            answer = {"result": [], "was_cancelled": True}
        else:
            value = {"choices": [choice]}
            answer = {
                "result": [
                    {"from_name": control.name, "to_name": control.to_name, "type": "choices",
                     "value": value}
                ],
                "lead_time": lead_time,
            }  # fmt: skip
        self.call("POST", f"/api/tasks/{task['id']}/annotations/", answer, token=BOB[2])

    def answer_number(self, task: dict, number: float | None, lead_time: float = 2.0) -> None:
        """As bob: give ``number`` for ``task`` (None: submit the pre-filled prediction as is)."""
        if number is None:
            [prediction] = task["predictions"]
            result = [{k: v for k, v in r.items() if k != "id"} for r in prediction["result"]]
        else:
            config = self.call("GET", f"/api/projects/{task['project']}/")["label_config"]
            control = streamal.connectors.label_studio.NumberControl.of(config)
            result = [{"from_name": control.name, "to_name": control.to_name, "type": "number",
                       "value": {"number": number}}]  # fmt: skip
        answer = {"result": result, "lead_time": lead_time}
        self.call("POST", f"/api/tasks/{task['id']}/annotations/", answer, token=BOB[2])

    def label_next(self, project: int, choice: str | None, lead_time: float = 2.0) -> dict:
        """As bob: take the task Label Studio serves next and answer it; returns the task."""
        task = self.next_task(project)
        self.answer(task, choice, lead_time)
        return task


def _label_studio(*args: str, data: Path, **kwargs) -> subprocess.Popen:
    # Label Studio reads LABEL_STUDIO_X, HEARTEX_X and plain X (USERNAME, PORT…) settings.
    ours = ("LABEL_STUDIO_", "HEARTEX_", "USERNAME", "PASSWORD", "USER_TOKEN", "PORT", "HOST")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(ours)},
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "COLLECT_ANALYTICS": "false",
    }
    common = ["--data-dir", str(data), "--database", str(data / "label_studio.sqlite3")]
    return subprocess.Popen(
        [str(LABEL_STUDIO), *args, *common, "--enable-legacy-api-token", "--no-browser"],
        cwd=data,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=kwargs.pop("stdout", subprocess.DEVNULL),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        **kwargs,
    )


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory) -> Iterator[LabelStudioServer]:
    if not (LABEL_STUDIO.exists() and MIGRATED.exists()):
        pytest.fail(
            f"Label Studio is not installed in {LS_VENV}: run "
            "`make tests/.venv-label-studio/.installed` (make test does)",
            pytrace=False,
        )
    data = tmp_path_factory.mktemp("label-studio")
    shutil.copyfile(MIGRATED, data / "label_studio.sqlite3")
    log = (data / "server.log").open("w")
    # `init` makes the database and bob; `start` adds the bridge's account and serves.
    email, password, token = BOB
    init = _label_studio(
        "init", "--username", email, "--password", password, "--user-token", token,
        data=data, stdout=log,
    )  # fmt: skip
    assert init.wait(300) == 0, (data / "server.log").read_text()
    port = free_port()
    email, password, token = BRIDGE
    process = _label_studio(
        "start", "--username", email, "--password", password, "--user-token", token,
        "--internal-host", "127.0.0.1", "--port", str(port),
        data=data, stdout=log,
    )  # fmt: skip
    server = LabelStudioServer(f"http://127.0.0.1:{port}", process)

    def up() -> bool:
        assert process.poll() is None, (data / "server.log").read_text()
        try:
            return server.call("GET", "/api/current-user/whoami")["email"] == BRIDGE[0]
        except (urllib.error.URLError, ConnectionError):
            return False

    try:
        wait_for(up, 180, "Label Studio to serve", every=0.5)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()


@pytest.fixture
def bridge() -> Iterator[Callable[[list[str]], StreamalProcess]]:
    started: list[StreamalProcess] = []

    def start(args: list[str]) -> StreamalProcess:
        started.append(StreamalProcess(["label-studio", *args]))
        return started[-1]

    yield start
    for running in started:
        if running.process.poll() is None:
            running.kill()
        print("".join(running.log))  # shown when the test fails


def _query(id: str, score: float, proba: dict, ts: float, **more) -> dict:
    return {
        "v": 1, "id": id, "ts": ts, "x": {"amount": score * 100, "country": "NL"},
        "proba": proba, "score": score, "strategy": "variable_uncertainty", "model_version": 7,
        **more,
    }  # fmt: skip


def _flags(label_studio: LabelStudioServer, topics, token: str) -> list[str]:
    return [
        "--label-studio-url", label_studio.url, "--label-studio-token", token,
        "--bootstrap-servers", topics.bootstrap_servers, "--group-id", f"{topics.group}-ls",
        "--queries-topic", topics.queries, "--labels-topic", topics.labels,
        "--poll-interval", "0.3", *FAST_GROUP,
    ]  # fmt: skip


def _personal_access_token(label_studio: LabelStudioServer) -> str:
    """A personal access token of the bridge's account (what Label Studio's UI hands out)."""
    return label_studio.call("POST", "/api/token/")["token"]


def test_queries_become_tasks_and_answers_labels_once_across_a_crash(label_studio, topics, bridge):
    title = f"fraud {uuid.uuid4().hex[:6]}"
    proba = {"fraud": 0.3, "ok": 0.7}
    queries = [
        _query("q-low", 0.2, proba, 100.0),
        _query("q-top", 0.9, {"fraud": 0.55, "ok": 0.45}, 101.0),
        _query("q-mid", 0.5, proba, 102.0),
    ]
    topics.send_many(topics.queries, queries)
    topics.send(topics.queries, b"not json")
    topics.send_many(topics.queries, [queries[0]])  # the daemon repeats a query after a crash
    flags = [*_flags(label_studio, topics, _personal_access_token(label_studio)),
             "--project-title", title]  # fmt: skip
    first = bridge(flags)
    first.wait_logged("made at the first query", timeout=60)

    project = wait_for(lambda: label_studio.project_titled(title), 60, "the project")
    tasks = wait_for(
        lambda: len(label_studio.tasks(project["id"])) == 3 and label_studio.tasks(project["id"]),
        60, "three tasks",
    )  # fmt: skip
    by_query = {t["data"]["query_id"]: t for t in tasks}
    assert sorted(by_query) == ["q-low", "q-mid", "q-top"]
    top = by_query["q-top"]
    assert top["data"]["x"] == {"amount": 90.0, "country": "NL"}
    assert top["data"]["priority"] == 0.9
    [guess] = top["predictions"]
    assert guess["result"][0]["value"] == {"choices": ["fraud"]}
    assert guess["model_version"] == "streamal"
    assert by_query["q-low"]["predictions"][0]["result"][0]["value"] == {"choices": ["ok"]}
    config = label_studio.call("GET", f"/api/projects/{project['id']}/")["label_config"]
    assert streamal.connectors.label_studio.ChoiceControl.of(config).choices == ["fraud", "ok"]

    # Label Studio serves the most useful query first; bob overrules the model on it.
    before = time.time()
    assert (
        label_studio.label_next(project["id"], "ok", lead_time=3.5)["data"]["query_id"] == "q-top"
    )
    assert label_studio.label_next(project["id"], "fraud")["data"]["query_id"] == "q-mid"
    assert label_studio.label_next(project["id"], None)["data"]["query_id"] == "q-low"  # skipped
    labels = topics.read_json(topics.labels, at_least=2)
    assert [(r["v"], r["id"], r["label"], r["annotator"]) for r in labels] == [
        (1, "q-top", "ok", BOB[0]),
        (1, "q-mid", "fraud", BOB[0]),
    ]
    assert all(before - 5 < r["ts"] < time.time() + 5 and "cost" not in r for r in labels)

    # A crash, new queries (one a repeat), and a restart: nothing made or sent twice.
    first.kill()
    topics.send_many(topics.queries, [_query("q-new", 0.95, proba, 103.0), queries[1]])
    second = bridge(flags)
    second.wait_logged(f"project {project['id']} at", timeout=60)
    wait_for(lambda: len(label_studio.tasks(project["id"])) == 4, 60, "the fourth task")
    assert label_studio.label_next(project["id"], "fraud")["data"]["query_id"] == "q-new"
    labels = topics.read_json(topics.labels, at_least=3)
    assert [(r["id"], r["label"]) for r in labels] == [
        ("q-top", "ok"),
        ("q-mid", "fraud"),
        ("q-new", "fraud"),
    ]
    assert sorted(t["data"]["query_id"] for t in label_studio.tasks(project["id"])) == [
        "q-low", "q-mid", "q-new", "q-top",
    ]  # fmt: skip
    assert second.stop(timeout=30) == 0


def test_existing_project_typed_classes_lead_time_and_expiry(label_studio, topics, bridge):
    config = (
        '<View><Text name="shown" value="$query_id"/>'
        '<Choices name="answer" toName="shown"><Choice value="true"/></Choices></View>'
    )
    project = label_studio.call(
        "POST", "/api/projects/", {"title": f"own {uuid.uuid4().hex[:6]}", "label_config": config}
    )
    topics.send_many(
        topics.queries,
        [
            _query("flag", 0.9, {"true": 0.8, "false": 0.2}, 1000.0),  # boolean classes
            _query("count", 0.8, {"1": 0.4, "2": 0.6}, 1010.0, classes=[1, 2]),
            _query("old", 0.1, {"true": 0.5, "false": 0.5}, 1020.0),
        ],
    )
    flags = [*_flags(label_studio, topics, BRIDGE[2]), "--project-id", str(project["id"]),
             "--task-ttl", "100", "--lead-time-cost"]  # fmt: skip
    running = bridge(flags)
    tasks = wait_for(
        lambda: len(label_studio.tasks(project["id"])) == 3 and label_studio.tasks(project["id"]),
        60, "three tasks",
    )  # fmt: skip
    config = label_studio.call("GET", f"/api/projects/{project['id']}/")["label_config"]
    control = streamal.connectors.label_studio.ChoiceControl.of(config)
    assert (control.name, control.choices) == ("answer", ["true", "false", "1", "2"])
    guesses = {t["data"]["query_id"]: t["predictions"][0]["result"][0] for t in tasks}
    assert guesses["count"]["from_name"] == "answer" and guesses["count"]["to_name"] == "shown"
    assert guesses["count"]["value"] == {"choices": ["2"]}

    assert label_studio.label_next(project["id"], "false", 4.25)["data"]["query_id"] == "flag"
    assert label_studio.label_next(project["id"], "1", 1.5)["data"]["query_id"] == "count"
    labels = topics.read_json(topics.labels, at_least=2)
    assert [(r["id"], r["label"], r["cost"]) for r in labels] == [
        ("flag", False, 4.25),
        ("count", 1, 1.5),
    ]
    # 200 s later on the queries' clock: the unanswered "old" (ts 1020) has expired, and so
    # has "stale" before it became a task; the answered ones stay.
    topics.send_many(
        topics.queries,
        [_query("late", 0.5, {"true": 1.0}, 1200.0), _query("stale", 0.99, {"true": 1.0}, 1050.0)],
    )

    def after_expiry():
        ids = sorted(t["data"]["query_id"] for t in label_studio.tasks(project["id"]))
        return ids if ids == ["count", "flag", "late"] else None

    wait_for(after_expiry, 60, "the expired task to go and the late one to come")
    running.wait_logged("deleted 1 tasks of expired queries", timeout=60)
    assert running.stop(timeout=30) == 0


def _numeric(id: str, score: float | None, prediction: float | None, ts: float, **more) -> dict:
    record = {
        "v": 1, "id": id, "ts": ts, "x": {"rooms": 3, "area": 71.5}, "proba": {}, "classes": [],
        "score": score, "strategy": "leverage", "model_version": 7,
    }  # fmt: skip
    return record if prediction is None else record | {"prediction": prediction, **more}


def test_a_numeric_target_is_answered_with_a_number(label_studio, topics, bridge):
    title = f"price {uuid.uuid4().hex[:6]}"
    topics.send_many(
        topics.queries,
        [
            _numeric("n-near", 0.5, 10.0, 100.0, std=None),
            _numeric("n-wide", 3.0, 2.5, 101.0, std=0.5),  # a leverage above 1: the most useful
            _numeric("n-cold", None, None, 102.0),  # no prediction yet, its utility unknown
        ],
    )
    # Not told the task: the queries show it (a prediction, a null score).
    flags = [*_flags(label_studio, topics, BRIDGE[2]), "--project-title", title,
             "--lead-time-cost"]  # fmt: skip
    running = bridge(flags)
    project = wait_for(lambda: label_studio.project_titled(title), 60, "the project")
    tasks = wait_for(
        lambda: len(label_studio.tasks(project["id"])) == 3 and label_studio.tasks(project["id"]),
        60, "three tasks",
    )  # fmt: skip
    config = label_studio.call("GET", f"/api/projects/{project['id']}/")["label_config"]
    assert "<Choices" not in config
    assert streamal.connectors.label_studio.NumberControl.of(config).name == "label"
    by_query = {t["data"]["query_id"]: t for t in tasks}
    wide = by_query["n-wide"]
    assert (wide["data"]["priority"], wide["data"]["prediction"], wide["data"]["std"]) == (
        3.0, 2.5, 0.5,
    )  # fmt: skip
    assert wide["predictions"][0]["result"][0]["value"] == {"number": 2.5}
    assert by_query["n-cold"]["data"]["priority"] is None
    assert by_query["n-cold"]["predictions"][0]["result"] == []

    # The most useful first, the unknown utility last: bob corrects one, accepts one, gives one.
    served = []
    for number, lead_time in [(4.25, 3.0), (None, 1.5), (7, 2.0)]:
        task = label_studio.next_task(project["id"])
        task = by_query[task["data"]["query_id"]]  # with its predictions
        label_studio.answer_number(task, number, lead_time)
        served.append(task["data"]["query_id"])
    assert served == ["n-wide", "n-near", "n-cold"]
    labels = topics.read_json(topics.labels, at_least=3)
    # Annotations found in one poll go out in task order: which comes first is no promise.
    assert sorted((r["id"], r["label"], r["annotator"], r["cost"]) for r in labels) == [
        ("n-cold", 7.0, BOB[0], 2.0),
        ("n-near", 10.0, BOB[0], 1.5),
        ("n-wide", 4.25, BOB[0], 3.0),
    ]
    assert all(type(r["label"]) is float for r in labels)
    assert running.stop(timeout=30) == 0


def test_a_person_teaches_the_daemon_through_label_studio(
    label_studio, topics, bridge, serve, tmp_path
):
    daemon = serve(
        [*topics.flags(), *FAST_GROUP, "--state-dir", str(tmp_path / "state"),
         "--strategy", "random", "--budget", "1"]
    )  # fmt: skip
    title = f"loop {uuid.uuid4().hex[:6]}"
    flags = [*_flags(label_studio, topics, BRIDGE[2]), "--project-title", title,
             "--classes", "pos,neg"]  # fmt: skip
    running = bridge(flags)
    daemon.wait_logged("partitions assigned")
    events = [{"v": 1, "id": f"e{i}", "ts": float(i), "x": {"a": a}} for i, a in enumerate([2, -1])]
    topics.send_many(topics.events, events)
    project = wait_for(lambda: label_studio.project_titled(title), 60, "the project")
    wait_for(lambda: len(label_studio.tasks(project["id"])) == 2, 60, "a task per event")
    answered = []
    for _ in events:
        task = label_studio.next_task(project["id"])
        answer = "pos" if task["data"]["x"]["a"] > 0 else "neg"
        label_studio.answer(task, answer)
        answered.append((task["data"]["query_id"], answer))
    examples = topics.read_json(topics.training, at_least=2)
    assert sorted((e["id"], e["y"], e["annotator"]) for e in examples) == [
        ("e0", "pos", BOB[0]),
        ("e1", "neg", BOB[0]),
    ]
    assert sorted(answered) == [("e0", "pos"), ("e1", "neg")]
    assert running.stop(timeout=30) == 0 and daemon.stop() == 0


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--label-studio-token", ""], "error: give Label Studio's API token"),
        (["--label-studio-token", "t", "--classes", ","], "error: streamal label-studio: argument"),
        (["--label-studio-token", "t", "--task-ttl", "0"], "error: --task-ttl must be positive"),
        (
            ["--label-studio-token", "t", "--task", "regression", "--classes", "a,b"],
            "error: classes are for classification: a numeric target has none",
        ),
        (
            ["--label-studio-token", "t", "--label-studio-url", "http://127.0.0.1:1"],
            "error: cannot reach Label Studio at http://127.0.0.1:1",
        ),
    ],
)
def test_bad_input_is_one_line(args, error):
    done = subprocess.run(
        [STREAMAL, "label-studio", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("STREAMAL_")},
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(error), done.stderr


def test_a_refused_token_is_one_line(label_studio):
    done = subprocess.run(
        [STREAMAL, "label-studio", "--label-studio-url", label_studio.url,
         "--label-studio-token", "not-a-token"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and " 401 " in done.stderr, done.stderr


def test_a_numeric_target_needs_a_number_control(label_studio):
    config = (
        '<View><Text name="t" value="$query_id"/>'
        '<Choices name="c" toName="t"><Choice value="a"/></Choices></View>'
    )
    title = f"classes {uuid.uuid4().hex[:6]}"
    project = label_studio.call("POST", "/api/projects/", {"title": title, "label_config": config})
    done = subprocess.run(
        [STREAMAL, "label-studio", "--label-studio-url", label_studio.url,
         "--label-studio-token", BRIDGE[2], "--project-id", str(project["id"]),
         "--task", "regression"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "has no <Number> control" in done.stderr, done.stderr


def test_docstring_examples_run():
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(streamal.connectors.label_studio, optionflags=flags)
    assert result.attempted > 0 and result.failed == 0
