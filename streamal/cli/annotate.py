"""``streamal annotate``: a terminal labeler for people.

It shows each unanswered query's features and the model's guess, reads an
answer among the stream's classes and writes the label, typed as the classes
are (``true``, not ``"true"``), to the labels topic under the annotator's name.
A numeric target's query (a regressor's) is answered with a finite number,
sent as a JSON number; the model's prediction is the default.

How it reads Kafka, and why:

* **No consumer group membership.** The partitions are assigned by the
  labeler itself, so a person who pauses for an hour causes no rebalance and
  no commit failure, and the first query shows without a group join's wait.
* **Only unanswered queries.** It also reads the labels topic and the
  training log, and skips a query that the model has learned, that anyone
  answered after it was asked, or that this annotator answered before (a
  query asked again wants a second person). Several annotators share the
  work this way: each skips what the others answered; two people on the same
  query at the same moment both answer it, and the daemon keeps the first.
* **Each annotator's place is kept**, as the committed offset of the Kafka
  group ``GROUP.ANNOTATOR``: committed after the label is on the topic, so an
  answer is never lost, and a query on screen when the labeler stops is shown
  again next time; skipped queries are not.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import logging
import math
import os
import select
import sys
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from streamal.classes import ClassSchema, UnknownClass, coerce
from streamal.cli.base import UsageError, add_labeling_flags, config_from_args
from streamal.config import ServeConfig
from streamal.engine import Label, Query
from streamal.messages import (
    InvalidRecord,
    decode_label,
    decode_query,
    decode_training_example,
    encode_label,
    is_numeric_query,
)

__all__ = [
    "Action",
    "Asked",
    "Choices",
    "NumberAnswer",
    "Reply",
    "Worklist",
    "register",
    "render_query",
]

#: Labels and learned examples older than the first query to show by more than this are not
#: read: they cannot answer it unless the clocks of the daemon and the labelers are this far off.
CLOCK_SKEW_MS = 3_600_000

#: Queries held in memory at most; the queries topic is read on as they are answered.
BACKLOG = 1000


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "annotate",
        help="label queries from the terminal",
        description="Show each unanswered query with the model's guess, read a class and send "
        "it to the labels topic, typed as the stream's classes. Answer with a choice's number "
        "(numbers pick choices unless the classes are integers) or a class name (Tab completes "
        "it in a terminal); Enter accepts the guess, +NAME sends a new class, s skips, q quits. "
        "A numeric target's query (one carrying the model's prediction, or any with --task "
        "regression) takes a finite number instead, and Enter accepts the prediction. "
        "Queries the model has learned, or that anyone answered since they were asked, are "
        "skipped.",
    )
    add_labeling_flags(p)
    p.add_argument(
        "--training-topic",
        help="the model's log, to skip what it learned (default streamal.training)",
    )
    p.add_argument(
        "--annotator",
        default=os.environ.get("USER", "annotator"),
        help="your name, sent with every label (default: $USER)",
    )
    p.add_argument(
        "--group-id",
        default="streamal-annotators",
        help="your place in the queries is kept as the Kafka group GROUP.ANNOTATOR "
        "(no group membership; default streamal-annotators)",
    )
    p.add_argument(
        "--kafka-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a kafka-python client setting, repeatable (e.g. request_timeout_ms=10000: how long "
        "a label may take to reach the topic before it is reported not sent)",
    )
    p.set_defaults(func=run)


def render_query(query: Query) -> str:
    """What the labeler sees of one query.

    >>> print(render_query(Query("e7", 1.0, {"b": 2.5, "a": "red"},
    ...                          {"spam": 0.55, "ham": 0.45}, 0.41, "split", 3)))
    query e7  (uncertainty 0.41)
      a = red
      b = 2.5
    model's guess: spam  (spam 55%, ham 45%)

    A numeric target's query shows the predicted value and its deviation, when known:

    >>> print(render_query(Query("e8", 1.0, {"a": 1}, {}, 0.7, "leverage", 3,
    ...                          prediction=21.5, std=1.25)))
    query e8  (uncertainty 0.70)
      a = 1
    model's prediction: 21.5 ± 1.25
    >>> print(render_query(Query("e9", 1.0, {}, {}, math.nan, "leverage", 3, prediction=-3.0)))
    query e9  (uncertainty unknown)
    model's prediction: -3
    """
    score = "unknown" if math.isnan(query.score) else f"{query.score:.2f}"
    lines = [f"query {query.id}  (uncertainty {score})"]
    for name, value in sorted(query.x.items()):
        lines.append(f"  {name} = {value}")
    proba = sorted(query.proba.items(), key=lambda kv: -kv[1])
    if query.prediction is not None:
        spread = "" if query.std is None else f" ± {_number(query.std)}"
        lines.append(f"model's prediction: {_number(query.prediction)}{spread}")
    elif proba:
        shown = ", ".join(f"{c} {p:.0%}" for c, p in proba[:5])
        lines.append(f"model's guess: {proba[0][0]}  ({shown})")
    else:
        lines.append("model's guess: none yet")
    return "\n".join(lines)


class Action(enum.Enum):
    """What a typed line asks for."""

    SEND = "send"
    SKIP = "skip"
    QUIT = "quit"
    #: not an answer: say why and ask again
    AGAIN = "again"


@dataclass(frozen=True, slots=True)
class Reply:
    """The meaning of one typed line, and what to tell the person about it."""

    action: Action
    said: str = ""
    label: Hashable | None = None


def _number(value: float) -> str:
    """A number as a person reads it: six significant digits, no trailing zeros.

    >>> _number(2.0), _number(0.1 + 0.2), _number(1234567.0), _number(-0.000125)
    ('2', '0.3', '1.23457e+06', '-0.000125')
    """
    return f"{value:.6g}"


def _spell(value: Hashable) -> str:
    """A class as a person types it (JSON's spelling: ``true``, ``3``, ``spam``)."""
    return coerce(value, "str")


def _schema_of(query: Query) -> ClassSchema:
    """The stream's classes, typed: the query's ``classes``, then its ``proba`` keys read as labels.

    The model may not know every class yet, and a query written before queries carried
    their classes has only its ``proba``.

    >>> _schema_of(Query("e", 0.0, {}, {"true": 0.7, "false": 0.3}, 0.3, "split", 1)).classes
    [True, False]
    >>> _schema_of(Query("e", 0.0, {}, {"spam": 1.0}, 0.3, "split", 1, ("ham", "spam"))).classes
    ['ham', 'spam']
    >>> _schema_of(Query("e", 0.0, {}, {"3": 0.7, "x": 0.3}, 0.3, "split", 1)).classes
    ['3', 'x']
    """
    names = [*query.classes, *query.proba]
    schema = ClassSchema()
    try:
        for name in names:
            schema.read(name)
    except UnknownClass:
        # A class of another type than the first one's: then they are all names.
        return ClassSchema(list(dict.fromkeys(_spell(name) for name in names)), kind="str")
    return schema


def _key(
    text: str, default: Hashable | None, what: str, show: Callable[[Any], str]
) -> Reply | None:
    """The keys every answer takes: ``q`` quits, ``s`` skips, Enter accepts the model's ``what``.

    ``None`` when ``text`` is none of them, and is the answer itself.
    """
    if text == "q":
        return Reply(Action.QUIT)
    if text == "s":
        return Reply(Action.SKIP, "skipped")
    if text:
        return None
    if default is None:
        return Reply(Action.SKIP, f"no {what}: skipped")
    return Reply(Action.SEND, f"accepted the {what}: {show(default)}", default)


@dataclass(frozen=True, slots=True)
class Choices:
    """The classes one query may be answered with, and the model's guess among them.

    Examples
    --------

    >>> choices = Choices.of(Query("e1", 0.0, {}, {"true": 0.2, "false": 0.8}, 0.4, "split", 2,
    ...                            (True, False)))
    >>> print(choices.menu())
    1 true   2 false   (s skip, q quit)
    >>> choices.prompt()
    'label [false]> '
    >>> [choices.read(text).label for text in ("false", "False", "1", "yes", "")]
    [False, False, True, True, False]
    >>> choices.read("").said, choices.read("2").said
    ('accepted the guess: false', 'sent: false')
    >>> choices.read("3").said
    'no choice 3: choose 1-2, or type a class'
    >>> choices.read("maybe").said
    "'maybe' is none of the classes: type one or its number"
    >>> numbers = Choices.of(Query("e2", 0.0, {}, {}, 0.5, "split", 0, (0, 1, 2)))
    >>> numbers.prompt(), numbers.read("2").label, numbers.read("").said
    ('label> ', 2, 'no guess: skipped')
    >>> numbers.read("+7").said, numbers.read("seven").said
    ('sent a new class: 7', "'seven' is none of the classes: type one, or +seven for a new class")
    >>> print(Choices.of(Query("e3", 0.0, {}, {"true": 1.0}, 0.5, "split", 0, (True,))).menu())
    1 true   2 false   (s skip, q quit)

    """

    classes: tuple[Hashable, ...]
    #: ``bool``, ``int`` or ``str``; ``None`` while the stream has no class yet
    kind: str | None
    guess: Hashable | None

    @classmethod
    def of(cls, query: Query) -> Choices:
        schema = _schema_of(query)
        classes = tuple(schema.classes)
        if schema.kind == "bool":
            # Both are classes of a boolean stream, whichever came first.
            classes += tuple(c for c in (True, False) if c not in classes)
        choices = cls(classes, schema.kind, None)
        if not query.proba:
            return choices
        guess = choices._known(max(query.proba, key=query.proba.get))
        return cls(choices.classes, choices.kind, guess)

    @property
    def numbered(self) -> bool:
        """Whether numbers pick choices: not when they could be an integer class."""
        return bool(self.classes) and self.kind != "int"

    def menu(self) -> str:
        """One line: the choices (numbered when :attr:`numbered`) and the keys."""
        if not self.classes:
            return "no classes yet: type the first one   (s skip, q quit)"
        if self.numbered:
            shown = "   ".join(f"{i} {_spell(c)}" for i, c in enumerate(self.classes, 1))
        else:
            shown = "   ".join(_spell(c) for c in self.classes)
        if self.kind == "bool":
            return f"{shown}   (s skip, q quit)"
        return f"{shown}   (+NAME a new class, s skip, q quit)"

    def prompt(self) -> str:
        return "label> " if self.guess is None else f"label [{_spell(self.guess)}]> "

    def names(self) -> list[str]:
        """The words Tab completes."""
        return [_spell(c) for c in self.classes] + ["s", "q"]

    def read(self, line: str) -> Reply:
        """What ``line`` answers: a class to send, a skip, a quit, or why to ask again."""
        text = line.strip()
        if (reply := _key(text, self.guess, "guess", _spell)) is not None:
            return reply
        if text.startswith("+") and text[1:].strip():
            return self._new(text[1:].strip())
        if not self.classes:
            return self._new(text)  # the stream's first class
        if self.numbered and text.isascii() and text.isdigit():
            number = int(text)
            if not 1 <= number <= len(self.classes):
                hint = f"no choice {number}: choose 1-{len(self.classes)}, or type a class"
                return Reply(Action.AGAIN, hint)
            return self._sent(self.classes[number - 1])
        known = self._known(text)
        if known is not None:
            return self._sent(known)
        hint = f"{text!r} is none of the classes: type one"
        if self.numbered:
            hint += " or its number"
        if self.kind != "bool":
            hint += f", or +{text} for a new class"
        return Reply(Action.AGAIN, hint)

    def _known(self, text: str) -> Hashable | None:
        """The known class ``text`` names, as :class:`ClassSchema` reads answers."""
        if not self.classes:
            return None
        try:
            return ClassSchema(list(self.classes), fixed=True, kind=self.kind).read(text)
        except UnknownClass:
            return None

    def _new(self, name: str) -> Reply:
        try:
            label = ClassSchema(list(self.classes), kind=self.kind).read(name)
        except UnknownClass as e:
            return Reply(Action.AGAIN, str(e))
        if label in self.classes:
            return self._sent(label)
        return Reply(Action.SEND, f"sent a new class: {_spell(label)}", label)

    @staticmethod
    def _sent(label: Hashable) -> Reply:
        return Reply(Action.SEND, f"sent: {_spell(label)}", label)


@dataclass(frozen=True, slots=True)
class NumberAnswer:
    """What answers a numeric target's query: a finite number, the model's prediction by default.

    A typed number is read by the daemon's rule (:func:`streamal.classes.coerce`
    with ``float``): what the daemon would refuse as ``not_a_number`` is asked
    again here, never sent.

    Examples
    --------

    >>> number = NumberAnswer.of(Query("e1", 0.0, {}, {}, 0.4, "leverage", 2, prediction=2.5))
    >>> print(number.menu())
    a number   (Enter accepts the prediction, s skip, q quit)
    >>> number.prompt()
    'value [2.5]> '
    >>> [number.read(text).label for text in ("3", " -1.5e2 ", "")]
    [3.0, -150.0, 2.5]
    >>> number.read("").said, number.read("3").said
    ('accepted the prediction: 2.5', 'sent: 3')
    >>> number.read("abc").said
    "'abc' is not a number: type a finite number (e.g. 2.5), s to skip"
    >>> number.read("nan").action, number.read("1,5").action
    (<Action.AGAIN: 'again'>, <Action.AGAIN: 'again'>)
    >>> unknown = NumberAnswer.of(Query("e2", 0.0, {}, {}, 0.4, "leverage", 0))
    >>> unknown.prompt(), unknown.read("").said
    ('value> ', 'no prediction: skipped')

    """

    #: the model's predicted value; ``None`` before it learned any label
    prediction: float | None

    @classmethod
    def of(cls, query: Query) -> NumberAnswer:
        return cls(query.prediction)

    def menu(self) -> str:
        if self.prediction is None:
            return "a number   (s skip, q quit)"
        return "a number   (Enter accepts the prediction, s skip, q quit)"

    def prompt(self) -> str:
        return "value> " if self.prediction is None else f"value [{_number(self.prediction)}]> "

    def names(self) -> list[str]:
        """The words Tab completes."""
        return ["s", "q"]

    def read(self, line: str) -> Reply:
        """What ``line`` answers: a number to send, a skip, a quit, or why to ask again."""
        text = line.strip()
        if (reply := _key(text, self.prediction, "prediction", _number)) is not None:
            return reply
        value = coerce(text, "float")
        if value is None:
            hint = f"{text!r} is not a number: type a finite number (e.g. 2.5), s to skip"
            return Reply(Action.AGAIN, hint)
        return Reply(Action.SEND, f"sent: {_number(value)}", value)


@dataclass(frozen=True, slots=True)
class Asked:
    """A query record: its place on the queries topic and when it was asked (ms, Kafka time)."""

    partition: int
    offset: int
    asked_ms: int
    query: Query


class Worklist:
    """The queries still to show, in the order they came, and what says one is done.

    A query is done when the model has learned its id, when this annotator
    answered it, or when anyone answered it since it was asked (a query asked
    again for a second label is asked anew).

    Examples
    --------

    >>> q = (b'{"v":1,"id":"%s","ts":1,"x":{},"proba":{},"score":0.5,"strategy":"s",'
    ...      b'"model_version":0}')
    >>> work = Worklist("alice")
    >>> for offset, id in enumerate(["e1", "e2", "e3"]):
    ...     work.asked(0, offset, 100 + offset, q % id.encode())
    >>> work.answered(b'{"v":1,"id":"e1","label":"spam","annotator":"bob"}', 150)
    >>> work.answered(b'{"v":1,"id":"e2","label":"spam","annotator":"bob"}', 50)  # before e2
    >>> work.next().query.id  # e1 was answered; e2 was asked again after bob's answer
    'e2'
    >>> work.offsets()
    {0: 1}
    >>> work.done()
    >>> work.learned(b'{"v":1,"id":"e3","x":{},"y":"ham","query_ts":1,"label_ts":2}')
    >>> work.next(), work.offsets()
    (None, {0: 3})

    """

    def __init__(self, annotator: str) -> None:
        self.annotator = annotator
        self._waiting: deque[Asked] = deque()
        self._next_offset: dict[int, int] = {}
        #: the time of the latest label of each id
        self._answered_ms: dict[str, int] = {}
        self._mine: set[str] = set()
        self._learned: set[str] = set()

    def __len__(self) -> int:
        return len(self._waiting)

    def asked(self, partition: int, offset: int, asked_ms: int, raw: bytes) -> None:
        """A record of the queries topic."""
        self._next_offset[partition] = offset + 1
        try:
            query = decode_query(raw)
        except InvalidRecord:
            return  # nothing a label could answer
        self._waiting.append(Asked(partition, offset, asked_ms, query))

    def answered(self, raw: bytes, answered_ms: int) -> None:
        """A record of the labels topic."""
        try:
            label = decode_label(raw, default_ts=0.0)
        except InvalidRecord:
            return  # the daemon refuses it: it answers nothing
        self._answered_ms[label.id] = max(answered_ms, self._answered_ms.get(label.id, answered_ms))
        if label.annotator == self.annotator:
            self._mine.add(label.id)

    def learned(self, raw: bytes) -> None:
        """A record of the training log."""
        # A record that is not an example (InvalidRecord is a ValueError) taught nothing.
        with contextlib.suppress(ValueError, KeyError, TypeError):
            self._learned.add(decode_training_example(raw).id)

    def sent(self, query_id: str) -> None:
        """This annotator's answer, known before it comes back from the labels topic."""
        self._mine.add(query_id)

    def next(self) -> Asked | None:
        """The first query not done, dropping the done ones before it."""
        while self._waiting and self._is_done(self._waiting[0]):
            self._waiting.popleft()
        return self._waiting[0] if self._waiting else None

    def done(self) -> None:
        """The query :meth:`next` returned was answered or skipped."""
        self._waiting.popleft()

    def offsets(self) -> dict[int, int]:
        """Per partition, the offset to resume from: the first query not done."""
        first: dict[int, int] = {}
        for asked in self._waiting:
            first.setdefault(asked.partition, asked.offset)
        return self._next_offset | first

    def _is_done(self, asked: Asked) -> bool:
        query_id = asked.query.id
        answered_ms = self._answered_ms.get(query_id)
        return (
            query_id in self._learned
            or query_id in self._mine
            or (answered_ms is not None and answered_ms >= asked.asked_ms)
        )


class _Queries:
    """The Kafka side: one consumer of the queries, labels and training topics feeding a
    :class:`Worklist`, a producer of labels, and the annotator's committed place."""

    def __init__(self, config: ServeConfig, annotator: str, group_id: str) -> None:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        from streamal.connectors.kafka import consumer, producer

        self.config = config
        self.work = Worklist(annotator)
        request_ms = config.kafka_settings().get(
            "request_timeout_ms", KafkaProducer.DEFAULT_CONFIG["request_timeout_ms"]
        )
        try:
            self.consumer = consumer(config, group_id=group_id, allow_auto_create_topics=False)
            # One label at a time, on the topic or given up within one request (kafka-python
            # would retry for 2 minutes): a person is waiting, and a label given up is no
            # longer pending, so the producer can close.
            self.producer = producer(config, linger_ms=0, delivery_timeout_ms=request_ms)
        except (KafkaError, ValueError, TypeError) as e:
            raise UsageError(f"cannot reach Kafka at {config.bootstrap_servers}: {e}") from None
        try:
            self.queries = self._partitions(config.queries_topic, "streamal serve creates it")
            self.logs = self._partitions(config.labels_topic, "streamal serve creates it")
            self.logs += self._partitions(config.training_topic, None)
            self._start_logs()
        except BaseException:
            self.close()
            raise

    def _partitions(self, topic: str, missing: str | None) -> list:
        from kafka import TopicPartition

        found = self.consumer.partitions_for_topic(topic)
        if not found and missing:
            raise UsageError(
                f"no topic {topic} at {self.config.bootstrap_servers} ({missing}; see --config)"
            )
        return [TopicPartition(topic, p) for p in sorted(found)]

    def _start_logs(self) -> None:
        """Read the labels and the training log from a little before the first query to show.

        Earlier records answer no query still to show, and a long-running
        stream's training log would otherwise be read whole at every start.
        """
        self.consumer.assign(self.queries)
        ends = self.consumer.end_offsets(self.queries)
        first: dict = {}
        while any(tp not in first and self.consumer.position(tp) < ends[tp] for tp in ends):
            for tp, records in self.consumer.poll(timeout_ms=100).items():
                first.setdefault(tp, records[0].timestamp)
                self._feed(tp, records)
        since = min(first.values(), default=int(time.time() * 1000)) - CLOCK_SKEW_MS
        self.consumer.assign(self.queries + self.logs)
        found = self.consumer.offsets_for_times(dict.fromkeys(self.logs, max(since, 0)))
        for tp, offset in found.items():
            if offset is None:
                self.consumer.seek_to_end(tp)
            else:
                self.consumer.seek(tp, offset.offset)

    def _feed(self, tp, records: list) -> None:
        for record in records:
            if tp.topic == self.config.queries_topic:
                self.work.asked(tp.partition, record.offset, record.timestamp, record.value)
            elif tp.topic == self.config.labels_topic:
                self.work.answered(record.value, record.timestamp)
            else:
                self.work.learned(record.value)

    def _poll(self, timeout_ms: int) -> set[str]:
        """Poll once, feeding the worklist; the topics that gave records."""
        if len(self.work) >= BACKLOG:
            self.consumer.pause(*self.queries)
        else:
            self.consumer.resume(*self.queries)
        polled = self.consumer.poll(timeout_ms=timeout_ms)
        for tp, records in polled.items():
            self._feed(tp, records)
        return {tp.topic for tp in polled}

    def _catch_up(self) -> None:
        """Read the labels and the training log to their end, to see what is answered now."""
        ends = self.consumer.end_offsets(self.logs)
        while True:
            topics = self._poll(timeout_ms=50)
            # And a dry poll: the embedded broker's end offset can be its last batch's start
            # (tests/conftest.py reads topics the same way).
            if topics <= {self.config.queries_topic} and all(
                self.consumer.position(tp) >= end for tp, end in ends.items()
            ):
                return

    def next(self, idle: Callable[[], bool]) -> Asked | None:
        """The next unanswered query; while there is none, ``idle()`` between polls.

        ``None`` once ``idle()`` says to stop waiting.
        """
        while True:
            self._catch_up()
            asked = self.work.next()
            if asked is not None:
                return asked
            if idle():
                return None
            self._poll(timeout_ms=250)

    def send(self, label: Label) -> None:
        """Put ``label`` on the labels topic and wait until it is there."""
        value = encode_label(label)
        self.producer.send(self.config.labels_topic, value, label.id.encode()).get()
        self.work.sent(label.id)

    def commit(self) -> None:
        """Keep the annotator's place: after the queries answered or skipped."""
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        topic = self.config.queries_topic
        self.consumer.commit(
            {
                TopicPartition(topic, p): OffsetAndMetadata(offset, "", -1)
                for p, offset in self.work.offsets().items()
            }
        )

    def close(self) -> None:
        # Every label sent was waited for: nothing is left to flush if the broker is gone.
        self.producer.close(timeout=5)
        self.consumer.close()


def run(args: argparse.Namespace) -> int:
    from kafka.errors import KafkaError

    config = config_from_args(args)
    numeric = config.engine.task == "regression"
    # kafka-python logs every failed connection; what went wrong is said once, as an error.
    logging.getLogger("kafka").addHandler(logging.NullHandler())
    logging.getLogger("kafka").propagate = False
    print(
        f"labeling {config.queries_topic} as {args.annotator!r}: a number or a class answers, "
        "Enter accepts the guess, s skips, q quits",
        flush=True,
    )
    sent = 0
    sending: str | None = None
    queries = None
    try:
        queries = _Queries(config, args.annotator, f"{args.group_id}.{args.annotator}")
        while True:
            asked = queries.next(_idle())
            reply = Reply(Action.QUIT) if asked is None else _ask(asked.query, numeric)
            if reply.action is Action.QUIT:
                break
            if reply.action is Action.SEND:
                sending = asked.query.id
                queries.send(Label(sending, reply.label, time.time(), args.annotator))
                sending = None
                sent += 1
            print(reply.said, flush=True)
            queries.work.done()
            queries.commit()
    except KeyboardInterrupt:
        pass
    except KafkaError as e:
        lost = f"the label of {sending} was not sent, " if sending else ""
        raise UsageError(
            f"Kafka at {config.bootstrap_servers}: {e} ({lost}{_labels(sent)} sent)"
        ) from None
    finally:
        if queries is not None:
            queries.close()
    print(f"\n{_labels(sent)} sent")
    return 0


def _labels(n: int) -> str:
    return f"{n} label" if n == 1 else f"{n} labels"


def _idle() -> Callable[[], bool]:
    """While no query waits: say so once, and quit on q (or the end of input)."""
    said = False

    def idle() -> bool:
        nonlocal said
        if not said:
            print("\nno unanswered query: waiting for one (q quits)", flush=True)
            said = True
        if not select.select([sys.stdin], [], [], 0.25)[0]:
            return False
        line = _read_line("")
        if line is None or line.strip() == "q":
            return True
        print("nothing to label yet (q quits)", flush=True)
        return False

    return idle


def _read_line(prompt: str) -> str | None:
    """A typed line, ``None`` at the end of input.

    From a pipe it is read a byte at a time: Python's buffer would hide typed-ahead
    lines from :func:`select.select` while no query waits.
    """
    if sys.stdin.isatty():
        try:
            return input(prompt)
        except EOFError:
            return None
    print(prompt, end="", flush=True)
    line = bytearray()
    while (byte := os.read(sys.stdin.fileno(), 1)) and byte != b"\n":
        line += byte
    if not byte and not line:
        return None
    return line.decode(errors="replace")


def _ask(query: Query, numeric: bool) -> Reply:
    """Show ``query`` and read lines until one is an answer, a skip or a quit.

    ``numeric``: the stream's target is a number, whatever the query shows.
    """
    if numeric or is_numeric_query(query):
        choices: Choices | NumberAnswer = NumberAnswer.of(query)
    else:
        choices = Choices.of(query)
    print("\n" + render_query(query), flush=True)
    print(choices.menu(), flush=True)
    _complete(choices.names())
    while True:
        line = _read_line(choices.prompt())
        if line is None:
            return Reply(Action.QUIT)
        reply = choices.read(line)
        if reply.action is not Action.AGAIN:
            return reply
        print(reply.said, flush=True)


def _complete(names: list[str]) -> None:
    """Let Tab complete ``names`` at the prompt, when a person types at a terminal."""
    if not sys.stdin.isatty():
        return
    import readline

    def complete(text: str, state: int) -> str | None:
        matches = [name for name in names if name.startswith(text)]
        return matches[state] if state < len(matches) else None

    readline.set_completer(complete)
    readline.set_completer_delims("")
    # macOS's Python links libedit, which spells the binding its own way.
    if "libedit" in (readline.__doc__ or ""):
        readline.parse_and_bind("bind ^I rl_complete")
    else:
        readline.parse_and_bind("tab: complete")
