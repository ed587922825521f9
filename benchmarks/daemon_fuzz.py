"""Hostile records through a real ``streamal serve``: can any record stop the pipeline?

For each model family: fresh topics on an embedded broker, and ``streamal
serve`` run on them as a subprocess, with an annotator answering its
queries. A warm-up of plain events goes first; once the daemon has learned
some of their labels, the seeded stream of ``hostile_records`` follows
(every kind of malformed or hostile event and label, shuffled among plain
good events, and second labels for some learned ids among the labels). The
harness checks what the design promises (docs/design.md, "Bad input never
stops the daemon"):

- the daemon never dies (a death is a *crash*; it is restarted at most
  ``max_restarts`` times, to tell a one-off from a crash loop) and never
  stops making progress while records wait for their output (a *stall*:
  no new prediction or dead letter for ``stall_seconds``);
- every good event is predicted exactly once;
- answers to queries the daemon asked are read against the stream's labels
  (boolean classes, or numbers for a regressor): each one refused has its
  dead letter (``unknown_class``, ``not_a_number``), each one read is learned;
- every hostile record has exactly one dead letter, carrying its source
  topic, partition and offset, the expected reason, and its bytes (an
  oversized record's letter is bounded: smaller than the record and than
  Kafka's 1 MiB, with the record's length and SHA-256);
- the metrics endpoint answers and counts the dead letters by reason;
- SIGTERM stops the daemon with exit code 0.

``tests/test_fuzz_daemon.py`` runs it small in ``make test``; this script
runs it large and prints a markdown table for ``benchmarks/RESULTS_daemon.md``:

    .venv/bin/python benchmarks/daemon_fuzz.py --hostile 10000 --plain 10000
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

BENCHMARKS = Path(__file__).resolve().parent
# hostile_records and results_md beside this file; the test helpers (tests/conftest.py)
# from the repository, so the test and this script drive the daemon the same way.
sys.path[:0] = [str(BENCHMARKS), str(BENCHMARKS.parent)]

from hostile_records import (  # noqa: E402
    EVENTS,
    KINDS,
    LABELS,
    MODEL_ERROR,
    HostileRecord,
    HostileStream,
    generate,
    plain_event,
    with_answers,
    with_duplicates,
)
from results_md import command_line, environment, markdown_table  # noqa: E402

from streamal.connectors.broker import EmbeddedBroker  # noqa: E402
from streamal.messages import DEAD_LETTER_VALUE_BYTES  # noqa: E402
from streamal.model import DEFAULT_MODEL  # noqa: E402
from tests.conftest import FAST_GROUP, Annotator, Serve, Topics, partitions_of  # noqa: E402

__all__ = ["FAMILIES", "MAX_RECORD_BYTES", "FuzzRun", "ModelFamily", "run_family"]

#: The daemon's --max-record-bytes: small enough that a record a bit larger is cheap to send,
#: large enough for the 10,000-feature event (about 99 kB).
MAX_RECORD_BYTES = 131_072
#: The producer's request limit: the 2 MB record must reach the broker.
_MAX_REQUEST_BYTES = 8 * 1024 * 1024
#: A dead letter keeps a prefix of the record: a few KB, whatever the record's size.
_LETTER_BYTES = 3 * DEAD_LETTER_VALUE_BYTES
#: kafka-python's max_poll_records: a crash loses at most a batch this long.
_BATCH = 500
_LOG_TAIL = 40
#: Learned ids the duplicate labels are for (in turn): a few, as a warm-up of 60 events gives.
_LEARNED_IDS = 3


@dataclass(frozen=True, slots=True)
class ModelFamily:
    """A model spec, whether it takes string features and whether it predicts numbers."""

    name: str
    spec: str
    takes_strings: bool
    numeric: bool = False

    def answer(self, query: dict) -> object:
        """The annotator's answer to ``query``, or ``Annotator.HOLD`` for one left open.

        A boolean class (river's LogisticRegression is binary and learns only
        those) or, for a regressor, a number; the queries of the events sent for
        :func:`hostile_records.with_answers` are left open.
        """
        if _held(query["id"]):
            return Annotator.HOLD
        a = query["x"]["a"]
        return round(3.0 * a, 6) if self.numeric else a > 0


def _held(event_id: str) -> bool:
    """Whether the query of this event is left open: the events sent last for that
    (:func:`_answer_asked`); the others are answered, for the model to go on learning as
    it would (a tree must split on ``a`` to raise on text there, ``string_for_number``)."""
    return "-asking-" in event_id


#: Plain events sent after the hostile ones, whose queries are left open for the answers of
#: the ``asked`` kinds: at a 10 % budget, an open query for each answer the daemon learns.
_ASKING = 200


FAMILIES = {
    family.name: family
    for family in (
        ModelFamily("tree", DEFAULT_MODEL, takes_strings=True),
        # The scaler passes a text feature it has never seen as a number unscaled; the
        # logistic regression weighs it 0: it scores the event (learning one it refuses).
        ModelFamily(
            "scaler+logistic",
            "preprocessing.StandardScaler() | linear_model.LogisticRegression()",
            takes_strings=True,
        ),
        ModelFamily("knn", "neighbors.KNNClassifier()", takes_strings=False),
        # A numeric target: the scaler and the linear model as for the logistic one.
        ModelFamily(
            "scaler+linear",
            "preprocessing.StandardScaler() | linear_model.LinearRegression()",
            takes_strings=True,
            numeric=True,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Sent:
    """A record as written: where it is on the broker."""

    record: HostileRecord
    topic: str
    partition: int
    offset: int

    @property
    def where(self) -> tuple[str, int, int]:
        return self.topic, self.partition, self.offset

    def name(self) -> str:
        return f"{self.record.kind} at {self.topic}[{self.partition}]@{self.offset}"


@dataclass(frozen=True, slots=True)
class Letter:
    """A dead letter as read: its fields, and its bytes as written."""

    fields: dict
    raw: bytes


@dataclass(frozen=True, slots=True)
class Incident:
    """The daemon died (``crash``), stopped making progress (``stall``), learned too few
    labels for the duplicate labels to be sent (``learning``), or asked too little for the
    answers to asked queries to be sent (``asking``)."""

    what: str
    detail: str
    log_tail: list[str]


def _has_output(sent: Sent, predictions: Counter[str], letters: dict) -> bool:
    """Whether ``sent`` has some output: a dead letter, or (an event) a prediction of its id.

    A label's id is its event's, predicted long before: only a dead letter answers a label.
    """
    if sent.where in letters:
        return True
    return sent.record.topic == EVENTS and predictions[sent.record.id] > 0


class OutputWatcher(threading.Thread):
    """Reads the predictions and dead-letter topics from the start, as they grow."""

    def __init__(self, topics: Topics) -> None:
        super().__init__(daemon=True)
        self.topics = topics
        self.predictions: Counter[str] = Counter()
        #: ``{(topic, partition, offset): [letter…]}``; letters without them under ``None``
        self.letters: dict[tuple | None, list[Letter]] = {}
        self.last_progress = time.monotonic()
        self.stopping = threading.Event()
        self.dry = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        consumer = KafkaConsumer(
            bootstrap_servers=self.topics.bootstrap_servers,
            enable_auto_commit=False,
            fetch_max_wait_ms=50,
            # An unbounded dead letter of the 2 MB record must still be read to be judged.
            max_partition_fetch_bytes=4 * _MAX_REQUEST_BYTES,
        )
        topics = (self.topics.predictions, self.topics.dead_letter)
        partitions = [TopicPartition(t, p) for t in topics for p in partitions_of(consumer, t)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        while not self.stopping.is_set():
            polled = consumer.poll(timeout_ms=200)
            with self.lock:
                for tp, records in polled.items():
                    for record in records:
                        self._add(tp.topic, record.value)
                if polled:
                    self.last_progress = time.monotonic()
                    self.dry.clear()
                else:
                    self.dry.set()
        consumer.close()

    def _add(self, topic: str, raw: bytes) -> None:
        if topic == self.topics.predictions:
            self.predictions[orjson.loads(raw)["id"]] += 1
            return
        try:
            fields = orjson.loads(raw)
            where = (fields["topic"], fields["partition"], fields["offset"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            fields, where = {}, None
        self.letters.setdefault(where, []).append(Letter(fields, raw))

    def settled(self, sent: Sent) -> bool:
        """Whether ``sent`` has some output yet."""
        return _has_output(sent, self.predictions, self.letters)

    def drain(self, timeout: float = 10.0) -> None:
        """Return once a poll has come back empty (the topics are read to their end)."""
        self.dry.clear()
        self.dry.wait(timeout)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


@dataclass
class FuzzRun:
    """What one family's run sent, what came out, and what happened to the daemon."""

    family: ModelFamily
    #: where the labeler's answers go (a refused one's letter points there)
    labels_topic: str = ""
    sent: list[Sent] = field(default_factory=list)
    predictions: Counter[str] = field(default_factory=Counter)
    letters: dict[tuple | None, list[Letter]] = field(default_factory=dict)
    #: the ids on the training log at the end
    learned: set[str] = field(default_factory=set)
    incidents: list[Incident] = field(default_factory=list)
    metrics: dict[tuple, float] | None = None
    metrics_error: str = ""
    alive_at_end: bool = False
    exit_code: int | None = None
    exit_detail: str = ""
    seconds: float = 0.0

    # -- judging ----------------------------------------------------------------

    def judged(self) -> list[tuple[Sent, str | None]]:
        """Every record sent, with what went wrong with it (``None``: as expected)."""
        return [(sent, self._problem(sent)) for sent in self.sent]

    def record_problems(self) -> dict[str, list[str]]:
        """``{kind: [what went wrong with one of its records…]}``, every kind sent."""
        problems: dict[str, list[str]] = {s.record.kind: [] for s in self.sent}
        for sent, problem in self.judged():
            if problem:
                problems[sent.record.kind].append(f"{sent.name()}: {problem}")
        return problems

    def _problem(self, sent: Sent) -> str | None:
        record = sent.record
        letters = self.letters.get(sent.where, [])
        if record.reason is None:
            times = self.predictions[record.id]
            if letters:
                letter = letters[0].fields
                detail = str(letter.get("detail"))[:200]
                return f"good, but dead-lettered ({letter.get('reason')}: {detail})"
            if record.topic == LABELS:  # an answer to a query left open: it alone answers it
                return None if record.id in self.learned else "good answer, never learned"
            if times != 1:
                return f"good: predicted {times} times, expected exactly once"
            return None
        if not letters:
            predicted = self.predictions[record.id] if record.topic == EVENTS else 0
            if predicted:
                return f"expected a {record.reason} dead letter, was predicted {predicted} times"
            return f"expected a {record.reason} dead letter, found none"
        if len(letters) > 1:
            return f"{len(letters)} dead letters, expected one"
        letter = letters[0].fields
        if letter.get("reason") != record.reason:
            return (
                f"dead letter reason {letter.get('reason')!r}, expected {record.reason!r} "
                f"(detail: {str(letter.get('detail'))[:200]})"
            )
        return _content_problem(letters[0], record)

    def stray_problems(self) -> list[str]:
        """Outputs that answer no record sent: predictions of unknown ids, unmatched letters."""
        ids = {s.record.id for s in self.sent}
        places = {s.where for s in self.sent}
        stray = [f"prediction of an id never sent: {i[:80]!r}" for i in self.predictions]
        stray = [line for line, i in zip(stray, self.predictions, strict=True) if i not in ids]
        for where, letters in self.letters.items():
            if where not in places:
                stray += [
                    f"dead letter of no record sent ({where}): {x.raw[:200]!r}"
                    for x in letters
                    if not self._refused_answer(x)
                ]
        return stray

    def _refused_answer(self, letter: Letter) -> bool:
        """A labeler's answer whose example the model cannot learn: a query about an event it
        could score (a text feature the scaler passes) that it cannot learn from."""
        return (
            letter.fields.get("reason") == MODEL_ERROR
            and letter.fields.get("topic") == self.labels_topic
        )

    def metric_problems(self) -> list[str]:
        """The endpoint's dead-letter counts by reason against those expected."""
        if self.metrics is None:
            return [f"metrics endpoint did not answer: {self.metrics_error}"]
        if any(i.what == "crash" for i in self.incidents):
            return []  # a restarted daemon counts from zero
        expected = Counter(s.record.reason for s in self.sent if s.record.reason)
        expected[MODEL_ERROR] += sum(
            self._refused_answer(x) for letters in self.letters.values() for x in letters
        )
        found = {
            dict(labels)["reason"]: value
            for (name, *labels), value in self.metrics.items()
            if name == "streamal_dead_letters_total"
        }
        return [
            f"streamal_dead_letters_total{{reason={reason!r}}} is {found.get(reason, 0):g}, "
            f"expected {n}"
            for reason, n in sorted(expected.items())
            if found.get(reason, 0) != n
        ]

    def life_problems(self) -> list[str]:
        """Crashes, stalls, too little learning; not running at the end; SIGTERM's exit."""
        problems = [f"{i.what}: {i.detail}" for i in self.incidents]
        if not self.alive_at_end:
            problems.append("the daemon was not running at the end")
        elif self.exit_code != 0:
            problems.append(f"SIGTERM: {self.exit_detail or f'exit code {self.exit_code}'}")
        return problems

    # -- reporting --------------------------------------------------------------

    def kind_rows(self) -> list[list[str]]:
        """Per kind: expected outcome, records, as expected, and without any output."""
        records = Counter(s.record.kind for s in self.sent)
        reasons = {s.record.kind: s.record.reason for s in self.sent}
        problems = self.record_problems()
        silent = Counter(
            s.record.kind for s in self.sent if not _has_output(s, self.predictions, self.letters)
        )
        rows = []
        for kind, n in sorted(records.items(), key=lambda kv: _kind_order(kv[0])):
            expected = reasons[kind] or "predicted once"
            rows.append([kind, expected, str(n), str(n - len(problems[kind])), str(silent[kind])])
        return rows

    def diagnosis(self) -> str:
        """A person's account: what happened to the daemon, and each kind that went wrong."""
        lines = [f"model family {self.family.name} ({self.family.spec}), {self.seconds:.0f} s"]
        shown: list[str] = []
        for incident in self.incidents:
            lines.append(f"  {incident.what.upper()}: {incident.detail}")
            if incident.log_tail == shown:
                lines.append("  daemon stderr ends as above")
            elif incident.log_tail:
                lines.append("  daemon stderr, last lines:")
                lines += [f"    | {line.rstrip()[:300]}" for line in incident.log_tail]
                shown = incident.log_tail
        lines += [f"  {p}" for p in self.life_problems()[len(self.incidents) :]]
        silent: Counter[str] = Counter()
        wrong: dict[str, list[str]] = {}
        for sent, problem in self.judged():
            if problem and not _has_output(sent, self.predictions, self.letters):
                silent[sent.record.kind] += 1
            elif problem:
                wrong.setdefault(sent.record.kind, []).append(f"{sent.name()}: {problem}")
        for kind, found in wrong.items():
            lines.append(f"  kind {kind}: {len(found)} wrong, e.g. {found[0]}")
        if silent:
            kinds = ", ".join(f"{kind} {n}" for kind, n in silent.most_common())
            lines.append(f"  {silent.total()} records without any output, by kind: {kinds}")
        lines += [f"  {p}" for p in self.stray_problems()[:10] + self.metric_problems()]
        return "\n".join(lines)


def _content_problem(letter: Letter, record: HostileRecord) -> str | None:
    """Whether ``letter`` finds ``record`` again: its first bytes, its length and its SHA-256,
    in a letter small enough to deliver whatever the record's size."""
    original = record.value or b""
    if len(letter.raw) > _LETTER_BYTES:
        return f"dead letter of {len(letter.raw)} bytes for a {len(original)}-byte record"
    fields = letter.fields
    if fields.get("value_bytes") != len(original):
        return f"dead letter says {fields.get('value_bytes')} bytes, the record has {len(original)}"
    if fields.get("value_sha256") != hashlib.sha256(original).hexdigest():
        return "dead letter's SHA-256 is not the record's"
    kept = fields.get("value_b64")
    if kept is None or base64.b64decode(kept) != original[:DEAD_LETTER_VALUE_BYTES]:
        return f"dead letter does not keep the record's first bytes ({str(kept)[:80]!r})"
    return None


def _kind_order(kind: str) -> int:
    return list(KINDS).index(kind) if kind in KINDS else -1


def _send(producer: KafkaProducer, topics: Topics, records: list[HostileRecord]) -> list[Sent]:
    names = {EVENTS: topics.events, LABELS: topics.labels}
    futures = [(r, producer.send(names[r.topic], r.value, r.key)) for r in records]
    producer.flush(timeout=60)
    sent = []
    for record, future in futures:
        written = future.get(timeout=10)
        sent.append(Sent(record, written.topic, written.partition, written.offset))
    return sent


class _Supervisor:
    """Keeps one daemon running (restarting a dead one a bounded number of times)."""

    def __init__(self, args: list[str], max_restarts: int) -> None:
        self.args = args
        self.restarts_left = max_restarts
        self.daemon = Serve(args)

    def check(self, run: FuzzRun, unsettled: list[Sent], watcher: OutputWatcher) -> bool:
        """Record a death; returns whether a daemon is running (restarted, maybe)."""
        code = self.daemon.process.poll()
        if code is None:
            return True
        tail = self.daemon.log[-_LOG_TAIL:]
        again = "restarting it" if self.restarts_left else "no restarts left"
        detail = f"the daemon exited with code {code}; {_where_stuck(unsettled)}; {again}"
        run.incidents.append(Incident("crash", detail, tail))
        if not self.restarts_left:
            return False
        self.restarts_left -= 1
        self.daemon = Serve(self.args)
        watcher.last_progress = time.monotonic()
        return True


def _where_stuck(unsettled: list[Sent]) -> str:
    """Which records wait, and the hostile kinds in the first batch of them (one of those
    is the likely culprit: the daemon delivers a batch's outputs together)."""
    if not unsettled:
        return "every record has its output"
    by_topic = Counter(s.topic for s in unsettled)
    # Events first: the daemon reads labels only once the events are read (connectors/daemon.py).
    first = min(unsettled, key=lambda s: (s.record.topic != EVENTS, s.offset))
    batch = Counter(
        s.record.kind
        for s in unsettled
        if s.topic == first.topic and s.offset < first.offset + _BATCH and s.record.kind != "plain"
    )
    return (
        f"{len(unsettled)} records without any output ({dict(by_topic)}) from "
        f"{first.name()}; hostile kinds among its batch: {', '.join(sorted(batch))}"
    )


def _await_outputs(
    run: FuzzRun,
    sent: list[Sent],
    watcher: OutputWatcher,
    supervisor: _Supervisor,
    stall_seconds: float,
) -> bool:
    """Wait until every record in ``sent`` has an output; ``False`` on a crash loop or stall."""
    watcher.last_progress = max(watcher.last_progress, time.monotonic())
    while True:
        with watcher.lock:
            unsettled = [s for s in sent if not watcher.settled(s)]
        if not unsettled:
            return True
        if not supervisor.check(run, unsettled, watcher):
            return False
        if time.monotonic() - watcher.last_progress > stall_seconds:
            detail = (
                f"alive, but no new prediction or dead letter for {stall_seconds:g} s; "
                + _where_stuck(unsettled)
            )
            tail = supervisor.daemon.log[-_LOG_TAIL:]
            run.incidents.append(Incident("stall", detail, tail))
            return False
        time.sleep(0.25)


def _answered_ids(topics: Topics, n: int, timeout: float) -> list[str]:
    """Up to ``n`` ids the daemon has learned a label for (on the training log), waiting for them
    at most ``timeout`` seconds: the annotator answers as the queries come."""
    deadline = time.monotonic() + timeout
    while True:
        ids = [t["id"] for t in topics.read_json(topics.training)][:n]
        if len(ids) >= n or time.monotonic() > deadline:
            return ids
        time.sleep(0.5)


def run_family(
    bootstrap_servers: str,
    family: ModelFamily,
    stream: HostileStream,
    state_dir: Path,
    *,
    stall_seconds: float = 40.0,
    max_restarts: int = 1,
    kafka_client: str = "kafka-python",
) -> FuzzRun:
    """Send ``stream`` through a ``streamal serve`` of ``family``'s model and record the outcome.

    Parameters
    ----------
    bootstrap_servers
        The broker (fresh topics are made on it).
    family
        The model, and whether it takes strings (the stream must have been made to match).
    stream
        From :func:`hostile_records.generate`: its warm-up is sent first; once the daemon has
        predicted it and learned some labels, the rest, with the duplicate labels.
    state_dir
        The daemon's snapshots.
    stall_seconds
        How long without any new output, while records wait for theirs, is a stall
        (this includes the daemon's start and group join).
    max_restarts
        How many times a dead daemon is started again before the run gives up.
    kafka_client
        The daemon's Kafka client (``streamal serve --kafka-client``).
    """
    started = time.monotonic()
    topics = Topics(bootstrap_servers)
    run = FuzzRun(family, topics.labels)
    topics.create()
    producer = KafkaProducer(
        bootstrap_servers=bootstrap_servers, linger_ms=5, max_request_size=_MAX_REQUEST_BYTES
    )
    run.sent = _send(producer, topics, stream.warmup)
    args = [
        *topics.flags(),
        *FAST_GROUP,
        "--state-dir", str(state_dir),
        "--model", family.spec,
        "--max-record-bytes", str(MAX_RECORD_BYTES),
        "--kafka-client", kafka_client,
    ]  # fmt: skip
    watcher = OutputWatcher(topics)
    annotator = Annotator(topics, answer=family.answer)
    watcher.start()
    annotator.start()
    supervisor = _Supervisor(args, max_restarts)
    try:
        if _await_outputs(run, run.sent, watcher, supervisor, stall_seconds):
            # The hostile records meet a model that has learned (kNN raises on a string
            # only then), and the duplicate labels need ids whose first label was learned.
            wanted = min(stream.duplicates, _LEARNED_IDS)
            ids = _answered_ids(topics, wanted, stall_seconds)
            if len(ids) < wanted:
                detail = (
                    f"{len(ids)} ids learned from the warm-up in {stall_seconds:g} s, not {wanted}"
                )
                run.incidents.append(Incident("learning", detail, supervisor.daemon.log[-5:]))
            labels = with_duplicates(stream.labels, ids, stream.duplicates)
            hostile = _send(producer, topics, stream.events + labels)
            run.sent += hostile
            if _await_outputs(run, hostile, watcher, supervisor, stall_seconds):
                _answer_asked(run, topics, producer, stream, watcher, supervisor, stall_seconds)
        # No more answers: a refused one's dead letter must not come between the scrape
        # of the metrics and the last read of the dead-letter topic.
        annotator.stopping.set()
        annotator.join(timeout=10)
        _finish(run, supervisor.daemon, watcher)
        run.learned = {t["id"] for t in topics.read_json(topics.training)}
    finally:
        annotator.stopping.set()
        annotator.join(timeout=10)
        watcher.stop()
        if supervisor.daemon.process.poll() is None:
            supervisor.daemon.kill()
        producer.close()
        topics.close()
    _collect(run, watcher)
    run.seconds = time.monotonic() - started
    return run


def _answer_asked(
    run: FuzzRun,
    topics: Topics,
    producer: KafkaProducer,
    stream: HostileStream,
    watcher: OutputWatcher,
    supervisor: _Supervisor,
    stall_seconds: float,
) -> None:
    """Send plain events whose queries are left open, then the ``asked`` kinds' answers to
    those queries, and await them all."""
    if not stream.asked:
        return
    rng = random.Random(len(run.sent))
    seed = stream.warmup[0].id.split("-")[0] if stream.warmup else "0"
    ids = [f"{seed}-asking-{n}" for n in range(_ASKING)]
    plain = [
        HostileRecord("plain", EVENTS, id.encode(), plain_event(rng, id), id, None) for id in ids
    ]
    asking = _send(producer, topics, plain)
    run.sent += asking
    if not _await_outputs(run, asking, watcher, supervisor, stall_seconds):
        return
    ids = [q["id"] for q in topics.read_json(topics.queries) if _held(q["id"])]
    if not ids:
        detail = "no query left open to answer: the asked kinds were not sent"
        run.incidents.append(Incident("asking", detail, supervisor.daemon.log[-5:]))
        return
    answers = _send(producer, topics, with_answers([], stream.asked, ids, run.family.numeric))
    run.sent += answers
    _await_outputs(run, [a for a in answers if a.record.reason], watcher, supervisor, stall_seconds)


def _collect(run: FuzzRun, watcher: OutputWatcher) -> None:
    with watcher.lock:
        run.predictions = Counter(watcher.predictions)
        run.letters = {k: list(v) for k, v in watcher.letters.items()}


def _finish(run: FuzzRun, daemon: Serve, watcher: OutputWatcher, settle: float = 10.0) -> None:
    """Scrape the metrics once the outputs read agree with them (the last labels answered may
    still be in the daemon for a moment), check it is alive, and stop it with SIGTERM."""
    deadline = time.monotonic() + settle
    while True:
        try:
            run.metrics = daemon.metrics()
        except OSError as e:
            run.metrics_error = str(e)
        watcher.drain()
        _collect(run, watcher)
        if not run.metric_problems() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    run.alive_at_end = daemon.process.poll() is None
    if not run.alive_at_end:
        return
    try:
        run.exit_code = daemon.stop(timeout=30)
    except subprocess.TimeoutExpired:
        run.exit_detail = "still running 30 s after SIGTERM (killed)"
        daemon.kill()


# -- the benchmark --------------------------------------------------------------------


def _summary_row(label: str, runs: list[FuzzRun]) -> list[str]:
    judged = [pair for run in runs for pair in run.judged()]
    good = [problem for sent, problem in judged if sent.record.reason is None]
    bad = [problem for sent, problem in judged if sent.record.reason is not None]
    incidents = Counter(i.what for run in runs for i in run.incidents)
    exits = Counter(str(run.exit_code) if run.alive_at_end else "dead" for run in runs)
    return [
        label,
        f"{len(bad):,}",
        f"{bad.count(None):,}",
        f"{good.count(None):,} / {len(good):,}",
        str(incidents["crash"]),
        str(incidents["stall"]),
        ", ".join(f"{code} ×{n}" if n > 1 else code for code, n in sorted(exits.items())),
        f"{sum(run.seconds for run in runs):.0f} s",
    ]


_SUMMARY = ["model", "hostile records", "dead-lettered as expected", "good events predicted once"]
_SUMMARY += ["crashes", "stalls", "SIGTERM exit", "wall time"]
_KIND = ["kind", "expected", "records", "as expected", "without output"]


def _streams(args: argparse.Namespace, family: ModelFamily) -> list[HostileStream]:
    """One stream of every kind asked for, or with ``--isolate`` one stream per kind."""
    names = args.kinds.split(",") if args.kinds else list(KINDS)
    groups = [[name] for name in names] if args.isolate else [names]
    return [
        generate(
            args.seed,
            hostile=args.hostile,
            plain=args.plain,
            warmup=args.warmup,
            max_record_bytes=MAX_RECORD_BYTES,
            takes_strings=family.takes_strings,
            kinds=group,
            numeric=family.numeric,
        )
        for group in groups
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hostile", type=int, default=10_000, help="hostile records per stream")
    parser.add_argument("--plain", type=int, default=10_000, help="plain good events per stream")
    parser.add_argument("--warmup", type=int, default=200, help="plain events sent first")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated")
    parser.add_argument("--kinds", default=None, help="only these kinds, comma-separated")
    parser.add_argument(
        "--isolate",
        action="store_true",
        help="one daemon per kind, so a crash or stall is that kind's (--hostile records each)",
    )
    parser.add_argument("--stall-seconds", type=float, default=60.0)
    parser.add_argument("--max-restarts", type=int, default=3)
    parser.add_argument("--kafka-client", default="kafka-python", help="the daemon's client")
    args = parser.parse_args()
    env = environment()
    results: dict[str, list[FuzzRun]] = {}
    with EmbeddedBroker() as broker:
        for name in args.families.split(","):
            family = FAMILIES[name]
            for stream in _streams(args, family):
                with tempfile.TemporaryDirectory() as state:
                    run = run_family(
                        broker.bootstrap_servers,
                        family,
                        stream,
                        Path(state),
                        stall_seconds=args.stall_seconds,
                        max_restarts=args.max_restarts,
                        kafka_client=args.kafka_client,
                    )
                print(run.diagnosis(), file=sys.stderr, flush=True)
                results.setdefault(name, []).append(run)
    head = "\n".join(f"- {k}: {v}" for k, v in env.items())
    print(f"{head}\n- command: `{command_line()}`\n")
    print(markdown_table(_SUMMARY, [_summary_row(name, runs) for name, runs in results.items()]))
    for name, runs in results.items():
        print(f"\n{name} (`{FAMILIES[name].spec}`)\n")
        if args.isolate:
            # Each run holds one kind and plain events: its row, and how the plain ones fared.
            rows = [
                [*row, *_summary_row("", [run])[3:7]]
                for run in runs
                for row in run.kind_rows()
                if row[0] != "plain"
            ]
            print(markdown_table([*_KIND, *_SUMMARY[3:7]], rows))
        else:
            print(markdown_table(_KIND, [row for run in runs for row in run.kind_rows()]))


if __name__ == "__main__":
    main()
