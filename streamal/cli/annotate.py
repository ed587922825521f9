"""``streamal annotate``: a terminal labeler for humans.

It reads the queries topic (as a member of a consumer group, so several
people can share the work), shows each query's features and the model's
guess, reads a label from the keyboard and writes the answer to the labels
topic under the annotator's name. Enter accepts the guess, ``s`` skips,
``q`` (or end of input) quits; an answer's offset is committed only after
the label is on the topic, so a query is shown again if the labeler stops
before answering it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Hashable

from streamal.cli.base import UsageError
from streamal.config import ConfigError, load_config
from streamal.engine import Label, Query
from streamal.messages import InvalidRecord, decode_query, encode_label

__all__ = ["parse_answer", "register", "render_query"]

SKIP = object()
QUIT = object()


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "annotate",
        help="label queries from the terminal",
        description="Show each query with the model's guess, read a label, and send it to the "
        "labels topic. Enter accepts the guess, s skips, q quits.",
    )
    p.add_argument("--config", metavar="PATH", help="the daemon's TOML file (topics, Kafka)")
    p.add_argument("--bootstrap-servers", help="Kafka brokers (default: as streamal serve)")
    p.add_argument("--queries-topic", help="default streamal.queries")
    p.add_argument("--labels-topic", help="default streamal.labels")
    p.add_argument(
        "--annotator",
        default=os.environ.get("USER", "annotator"),
        help="your name, sent with every label (default: $USER)",
    )
    p.add_argument(
        "--group-id",
        default="streamal-annotators",
        help="annotators in one group share the queries (default streamal-annotators)",
    )
    p.add_argument("--kafka-option", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=run)


def render_query(query: Query) -> str:
    """What the labeler sees of one query.

    >>> print(render_query(Query("e7", 1.0, {"b": 2.5, "a": "red"},
    ...                          {"spam": 0.55, "ham": 0.45}, 0.41, "split", 3)))
    query e7  (uncertainty 0.41)
      a = red
      b = 2.5
    model's guess: spam  (spam 55%, ham 45%)
    """
    lines = [f"query {query.id}  (uncertainty {query.score:.2f})"]
    for name, value in sorted(query.x.items()):
        lines.append(f"  {name} = {value}")
    proba = sorted(query.proba.items(), key=lambda kv: -kv[1])
    if proba:
        shown = ", ".join(f"{c} {p:.0%}" for c, p in proba[:5])
        lines.append(f"model's guess: {proba[0][0]}  ({shown})")
    else:
        lines.append("model's guess: none yet")
    return "\n".join(lines)


def parse_answer(text: str, proba: dict) -> Hashable | object:
    """The label typed for a query, :data:`SKIP` or :data:`QUIT`.

    Classes travel as JSON object keys (strings), so a typed class keeps the
    model's spelling; anything else is sent as typed.

    >>> parse_answer("", {"spam": 0.6, "ham": 0.4}), parse_answer(" ham ", {"spam": 1.0})
    ('spam', 'ham')
    >>> parse_answer("s", {}) is SKIP, parse_answer("q", {}) is QUIT, parse_answer("", {}) is SKIP
    (True, True, True)
    """
    text = text.strip()
    if text == "q":
        return QUIT
    if text == "s":
        return SKIP
    if not text:
        return max(proba, key=proba.get) if proba else SKIP
    return text


def run(args: argparse.Namespace) -> int:
    from kafka.errors import KafkaError
    from kafka.structs import OffsetAndMetadata

    from streamal.connectors.kafka import consumer, producer

    flags = {
        "config": args.config,
        "bootstrap_servers": args.bootstrap_servers,
        "queries_topic": args.queries_topic,
        "labels_topic": args.labels_topic,
        "group_id": args.group_id,
    }
    try:
        config = load_config(flags, os.environ, args.kafka_option)
    except ConfigError as e:
        raise UsageError(str(e)) from None
    try:
        queries = consumer(config, group_id=config.group_id)
        queries.subscribe([config.queries_topic])
        labels = producer(config)
    except KafkaError as e:
        raise UsageError(f"cannot reach Kafka at {config.bootstrap_servers}: {e}") from None
    print(
        f"labeling {config.queries_topic} as {args.annotator!r}: "
        "Enter accepts the guess, s skips, q quits",
        flush=True,
    )
    answered = 0
    try:
        while True:
            for partition, records in queries.poll(timeout_ms=500).items():
                for record in records:
                    try:
                        query = decode_query(record.value)
                    except InvalidRecord:
                        continue  # nothing a label could answer
                    print("\n" + render_query(query), flush=True)
                    print("label> ", end="", flush=True)
                    line = sys.stdin.readline()
                    answer = QUIT if line == "" else parse_answer(line, query.proba)
                    if answer is QUIT:
                        return _bye(answered)
                    if answer is not SKIP:
                        label = Label(query.id, answer, time.time(), args.annotator)
                        labels.send(
                            config.labels_topic, encode_label(label), query.id.encode()
                        ).get(timeout=30)
                        answered += 1
                    queries.commit({partition: OffsetAndMetadata(record.offset + 1, "", -1)})
    except KeyboardInterrupt:
        return _bye(answered)
    finally:
        labels.close()
        queries.close()


def _bye(answered: int) -> int:
    print(f"\n{answered} labels sent")
    return 0
