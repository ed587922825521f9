"""`streamal annotate` as a person uses it: a subprocess typing at its prompt, on a real broker."""

from __future__ import annotations

import codecs
import os
import pty
import signal
import subprocess
import threading
import time

import orjson

from streamal.connectors.broker import EmbeddedBroker
from tests.conftest import STREAMAL, Topics, free_port

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


def command(topics, annotator: str = "alice", *options: str) -> list[str]:
    return [
            STREAMAL, "annotate", "--bootstrap-servers", topics.bootstrap_servers,
            "--queries-topic", topics.queries, "--labels-topic", topics.labels,
            "--training-topic", topics.training,
            "--group-id", topics.group, "--annotator", annotator,
            "--kafka-option", "session_timeout_ms=6000", *options,
    ]  # fmt: skip


def query(id: str, proba: dict, classes: list | None = None, **x) -> dict:
    record = {"v": 1, "id": id, "ts": 1.0, "x": x or {"a": 1.0}, "score": 0.5, "proba": proba,
              "strategy": "variable_uncertainty", "model_version": 1}  # fmt: skip
    return record if classes is None else record | {"classes": classes}


class Labeler:
    """``streamal annotate`` driven as a person would: wait for text, then type.

    Through pipes, or with ``tty`` through a pseudo-terminal, where readline edits the line.
    """

    def __init__(self, args: list[str], tty: bool = False) -> None:
        self.started = time.monotonic()
        self.tty = tty
        if tty:
            self._out, terminal = pty.openpty()
            self._in = self._out
            self.process = subprocess.Popen(
                args, stdin=terminal, stdout=terminal, stderr=subprocess.PIPE,
                env={**os.environ, "TERM": "dumb"},
            )  # fmt: skip
            os.close(terminal)
        else:
            self.process = subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            self._out, self._in = self.process.stdout.fileno(), self.process.stdin.fileno()
        #: (when it arrived, how long the output then was)
        self.seen: list[tuple[float, int]] = []
        self.output = ""
        self.cursor = 0
        self._lock = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")()
        while True:
            try:
                chunk = os.read(self._out, 4096)
            except OSError:  # a pseudo-terminal whose other side closed
                chunk = b""
            with self._lock:
                self.output += decoder.decode(chunk)
                self.seen.append((time.monotonic(), len(self.output)))
                self._lock.notify_all()
            if not chunk:
                return

    def expect(self, text: str, timeout: float = 20.0) -> float:
        """Wait for ``text`` after what was already expected; when it was on screen."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while (at := self.output.find(text, self.cursor)) < 0:
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no {text!r} in:\n{self.output[self.cursor :]}")
                self._lock.wait(min(left, 0.2))
            self.cursor = at + len(text)
            return next(when for when, length in self.seen if length >= self.cursor)

    def type(self, line: str, end: str = "\n") -> None:
        os.write(self._in, (line + end).encode())

    def quit(self) -> str:
        """Type q; the rest of stdout (stderr must be empty: no traceback)."""
        self.type("q")
        assert self.process.wait(timeout=30) == 0
        self._reader.join(timeout=5)
        stderr = self.process.stderr.read().decode()
        assert stderr == "", stderr
        return self.output[self.cursor :]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.tty:
            self._reader.join(timeout=5)
            os.close(self._out)


def labeler(topics, annotator: str = "alice", *options: str) -> Labeler:
    return Labeler(command(topics, annotator, *options))


def labels_of(topics, at_least: int) -> list[tuple]:
    return [
        (r["id"], r["label"], r["annotator"]) for r in topics.read_json(topics.labels, at_least)
    ]


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


BOOLEAN = [
    query("b1", {"true": 0.3, "false": 0.7}, [True, False]),
    query("b2", {"true": 0.3, "false": 0.7}, [True, False]),
    query("b3", {"true": 0.6, "false": 0.4}, [True, False]),
    query("b4", {"true": 0.8, "false": 0.2}, [True, False]),
    query("b5", {"true": 0.9, "false": 0.1}),  # written before queries carried their classes
]


def test_boolean_answers_are_sent_as_json_booleans(topics):
    topics.send_many(topics.queries, BOOLEAN)
    alice = labeler(topics)
    try:
        alice.expect("query b1")
        alice.expect("1 true   2 false   (s skip, q quit)")
        alice.expect("label [false]> ")
        alice.type("false")
        alice.expect("sent: false")
        alice.expect("query b2")
        alice.type("False")
        alice.expect("query b3")
        alice.expect("label [true]> ")
        alice.type("2")  # the second choice
        alice.expect("sent: false")
        alice.expect("query b4")
        alice.type("")
        alice.expect("accepted the guess: true")
        alice.expect("query b5")
        alice.expect("1 true   2 false")
        alice.type("")
        alice.expect("accepted the guess: true")
        alice.expect("no unanswered query: waiting")
        assert alice.quit().rstrip().endswith("5 labels sent")
    finally:
        alice.kill()
    raw = [r.value for r in topics.read(topics.labels, at_least=5)]
    assert b'"label":false' in raw[0] and b'"label":true' in raw[3]
    assert labels_of(topics, 5) == [
        ("b1", False, "alice"),
        ("b2", False, "alice"),
        ("b3", False, "alice"),
        ("b4", True, "alice"),
        ("b5", True, "alice"),
    ]
    assert all(type(label) is bool for _, label, _ in labels_of(topics, 5))


def test_an_answer_that_is_no_class_is_asked_again(topics):
    topics.send_many(topics.queries, QUERIES[:3])
    alice = labeler(topics)
    try:
        alice.expect("query q1")
        alice.type("spma")
        alice.expect("'spma' is none of the classes: type one or its number, or +spma for a new")
        alice.expect("label [spam]> ")  # asked again, and nothing sent
        alice.type("7")
        alice.expect("no choice 7: choose 1-2, or type a class")
        alice.type(" Ham")
        alice.expect("sent: ham")
        alice.expect("query q2")  # no classes yet: what is typed is the first
        alice.type("")
        alice.expect("no guess: skipped")
        alice.expect("query q3")
        alice.type("+eggs")
        alice.expect("sent a new class: eggs")
        alice.quit()
    finally:
        alice.kill()
    assert labels_of(topics, 2) == [("q1", "ham", "alice"), ("q3", "eggs", "alice")]


def test_a_slow_answer_is_still_delivered(topics):
    """Stands for a person who pauses ten minutes: a group member is dropped once
    max_poll_interval_ms has passed and its commit fails (measured with the group member
    annotate was: a 5 s pause passed, 8 s ended in a CommitFailedError traceback)."""
    topics.send_many(topics.queries, QUERIES[:2])
    options = ("--kafka-option", "max_poll_interval_ms=3000")
    alice = labeler(topics, "alice", *options)
    try:
        alice.expect("query q1")
        time.sleep(8)
        alice.type("ham")
        alice.expect("sent: ham")
        alice.expect("query q2")
        assert alice.quit().rstrip().endswith("1 label sent")
    finally:
        alice.kill()
    assert labels_of(topics, 1) == [("q1", "ham", "alice")]
    # The place was kept after the pause: the next session starts at q2, on screen at the end.
    again = labeler(topics, "alice", *options)
    try:
        again.expect("query q2")
        again.quit()
    finally:
        again.kill()
    assert "query q1" not in again.output


def test_a_second_annotator_is_shown_only_unanswered_queries(topics):
    topics.send_many(
        topics.queries, [query(f"q{i}", {"spam": 0.7, "ham": 0.3}) for i in range(1, 7)]
    )
    alice = labeler(topics, "alice")
    try:
        for id in ("q1", "q2"):
            alice.expect(f"query {id}")
            alice.type("")
        alice.expect("query q3")
        alice.quit()
    finally:
        alice.kill()
    # The daemon learned q3 (from an answer given elsewhere); carol answered q4 with another tool.
    topics.send(topics.training, {"v": 1, "id": "q3", "x": {"a": 1.0}, "y": "ham",
                                  "query_ts": 1.0, "label_ts": 2.0})  # fmt: skip
    topics.send(topics.labels, {"v": 1, "id": "q4", "label": "ham", "annotator": "carol"})
    bob = labeler(topics, "bob")
    try:
        bob.expect("query q5")
        bob.type("ham")
        bob.expect("query q6")
        bob.quit()
    finally:
        bob.kill()
    assert all(f"query q{i}" not in bob.output for i in range(1, 5))
    assert labels_of(topics, 4)[-1] == ("q5", "ham", "bob")


def test_a_query_asked_again_goes_to_someone_else(topics):
    """A query asked again for a second label (annotator-aware mode, same id) is new work for
    everyone but who answered it."""
    topics.send_many(topics.queries, [query("q1", {"spam": 0.7, "ham": 0.3})])
    alice = labeler(topics, "alice")
    try:
        alice.expect("query q1")
        alice.type("ham")
        alice.expect("no unanswered query: waiting")
        alice.quit()
    finally:
        alice.kill()
    topics.send_many(topics.queries, [query("q1", {"spam": 0.5, "ham": 0.5})])
    alice = labeler(topics, "alice")
    try:
        alice.expect("no unanswered query: waiting")
        alice.quit()
    finally:
        alice.kill()
    assert "query q1" not in alice.output
    bob = labeler(topics, "bob")
    try:
        bob.expect("query q1")
        bob.expect("(uncertainty 0.50)")  # the one asked again: spam 50%, ham 50%
        bob.type("spam")
        bob.expect("no unanswered query: waiting")
        bob.quit()
    finally:
        bob.kill()
    assert bob.output.count("query q1") == 1
    assert labels_of(topics, 2) == [("q1", "ham", "alice"), ("q1", "spam", "bob")]


def test_first_query_is_on_screen_within_2_s_of_the_banner(topics, capsys):
    # A realistic start: the labels and the training log have records to read first.
    history = [{"v": 1, "id": f"old{i}", "label": "ham", "annotator": "carol"} for i in range(2000)]
    topics.send_many(topics.labels, history)
    topics.send_many(topics.queries, QUERIES)
    alice = labeler(topics)
    try:
        banner = alice.expect("labeling ")
        shown = alice.expect("query q1")
        alice.quit()
    finally:
        alice.kill()
    with capsys.disabled():
        print(
            f"\nannotate: banner {banner - alice.started:.2f} s after the start, "
            f"first query {shown - banner:.2f} s after the banner"
        )
    assert shown - banner < 2.0


def test_an_unreachable_broker_is_one_line():
    started = time.monotonic()
    done = subprocess.run(
        [STREAMAL, "annotate", "--bootstrap-servers", f"127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: cannot reach Kafka at 127.0.0.1:")
    assert time.monotonic() - started < 20


def test_a_missing_topic_is_one_line(topics):
    done = subprocess.run(
        [*command(topics), "--queries-topic", "no-such-topic"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: no topic no-such-topic at ")


def test_a_broker_lost_while_sending_is_one_line_that_says_the_label_was_not_sent():
    with EmbeddedBroker() as broker:
        topics = Topics(broker.bootstrap_servers)
        topics.create()
        topics.send_many(topics.queries, QUERIES[:1])
        topics.close()
        alice = labeler(topics, "alice", "--kafka-option", "request_timeout_ms=3000")
        try:
            alice.expect("query q1")
            broker.stop()
            alice.type("ham")
            assert alice.process.wait(timeout=30) == 2
        finally:
            alice.kill()
    stderr = alice.process.stderr.read().decode()
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith("error: Kafka at ")
    assert stderr.endswith("(the label of q1 was not sent, 0 labels sent)\n")


def test_in_a_terminal_tab_completes_a_class(topics):
    topics.send_many(topics.queries, QUERIES[:2])
    alice = Labeler(command(topics), tty=True)
    try:
        alice.expect("query q1")
        alice.expect("label [spam]> ")
        alice.type("h\t")  # "h" and Tab: readline completes ham, the only class starting so
        alice.expect("ham")
        alice.type("")
        alice.expect("sent: ham")
        alice.expect("query q2")
        alice.quit()
    finally:
        alice.kill()
    assert labels_of(topics, 1) == [("q1", "ham", "alice")]


def numeric(id: str, score: float | None = 0.5, prediction: float | None = None, **more) -> dict:
    """A numeric target's query: no classes, the predicted value and its deviation if known."""
    record = {"v": 1, "id": id, "ts": 1.0, "x": {"a": 1.0}, "score": score, "proba": {},
              "classes": [], "strategy": "leverage", "model_version": 2}  # fmt: skip
    return record if prediction is None else record | {"prediction": prediction, **more}


def test_numeric_answers_are_sent_as_json_numbers(topics):
    topics.send_many(
        topics.queries,
        [
            numeric("n1", 0.7, 21.5, std=1.25),
            numeric("n2", 0.6, 3.0, std=None),
            numeric("n3", 0.4, 10.0, std=0.5),
            numeric("n4", None),  # asked before the model learned: no prediction, no score
        ],
    )
    alice = labeler(topics)
    try:
        alice.expect("query n1  (uncertainty 0.70)")
        alice.expect("model's prediction: 21.5 ± 1.25")
        alice.expect("a number   (Enter accepts the prediction, s skip, q quit)")
        alice.expect("value [21.5]> ")
        alice.type("19.75")
        alice.expect("sent: 19.75")
        alice.expect("query n2")
        alice.expect("model's prediction: 3\n")  # no deviation known
        alice.type("")
        alice.expect("accepted the prediction: 3")
        alice.expect("query n3")
        alice.type("abc")
        alice.expect("'abc' is not a number: type a finite number (e.g. 2.5), s to skip")
        alice.expect("value [10]> ")  # asked again, and nothing sent
        alice.type("nan")
        alice.expect("'nan' is not a number")
        alice.type(" 1e2 ")
        alice.expect("sent: 100")
        alice.expect("query n4  (uncertainty unknown)")
        alice.expect("model's guess: none yet")
        alice.expect("value> ")
        alice.type("-7")
        alice.expect("sent: -7")
        alice.expect("no unanswered query: waiting")
        assert alice.quit().rstrip().endswith("4 labels sent")
    finally:
        alice.kill()
    raw = [r.value for r in topics.read(topics.labels, at_least=4)]
    assert b'"label":19.75' in raw[0] and b'"label":3.0' in raw[1]
    assert labels_of(topics, 4) == [
        ("n1", 19.75, "alice"),
        ("n2", 3.0, "alice"),
        ("n3", 100.0, "alice"),
        ("n4", -7.0, "alice"),
    ]
    assert all(type(label) is float for _, label, _ in labels_of(topics, 4))


def test_with_task_regression_a_first_query_takes_a_number(topics):
    """Before the model learned anything a numeric query looks like a class query of a stream
    with no classes yet; --task regression tells them apart."""
    topics.send_many(topics.queries, [numeric("n1", 0.5), numeric("n2", 0.5)])
    alice = labeler(topics, "alice", "--task", "regression")
    try:
        alice.expect("query n1")
        alice.expect("a number   (s skip, q quit)")
        alice.type("")
        alice.expect("no prediction: skipped")
        alice.expect("query n2")
        alice.type("2.5")
        alice.expect("sent: 2.5")
        alice.quit()
    finally:
        alice.kill()
    assert labels_of(topics, 1) == [("n2", 2.5, "alice")]
