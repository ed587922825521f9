"""``streamal label-studio``: people label the queries in Label Studio.

The bridge (``streamal.connectors.label_studio``) makes a Label Studio task of
every query, most useful first, and sends each answer to the labels topic
under the person's e-mail address. A numeric target's queries are answered
with a number field, the model's prediction filled in. It runs until SIGTERM
or Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import threading

import orjson

from streamal.cli.base import UsageError, add_labeling_flags, config_from_args
from streamal.cli.serve import add_kafka_flags, setup_logging

__all__ = ["URL_ENV", "parse_classes", "register"]

URL_ENV = "STREAMAL_LABEL_STUDIO_URL"
TOKEN_ENV = "STREAMAL_LABEL_STUDIO_TOKEN"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "label-studio",
        help="label queries in Label Studio",
        description="Make a Label Studio task of every query (the most useful first, the model's "
        "guess pre-selected) and send each answer to the labels topic. The project is created "
        "if there is none with --project-title, unless --project-id names one. A numeric "
        "target (--task regression, a project with a <Number> control, or queries carrying "
        "the model's prediction) is answered with a number, the prediction filled in.",
    )
    p.add_argument(
        "--label-studio-url",
        default=os.environ.get(URL_ENV, "http://localhost:8080"),
        help=f"Label Studio's address (default ${URL_ENV} or http://localhost:8080)",
    )
    p.add_argument(
        "--label-studio-token",
        default=os.environ.get(TOKEN_ENV),
        help=f"an API token: a personal access token or a legacy token (default ${TOKEN_ENV})",
    )
    p.add_argument("--project-id", type=int, help="the Label Studio project to use")
    p.add_argument(
        "--project-title",
        default="streamal",
        help="the project to use or create when no --project-id is given (default streamal)",
    )
    p.add_argument(
        "--classes",
        type=parse_classes,
        default=[],
        metavar="A,B,…",
        help="the classes to choose from (default: those the queries name)",
    )
    p.add_argument(
        "--task-ttl",
        type=float,
        help="seconds after its query that an unanswered task is deleted "
        "(default: the daemon's pending_ttl)",
    )
    p.add_argument(
        "--poll-interval",
        type=float,
        default=2.0,
        help="seconds between looks for new answers (default 2)",
    )
    p.add_argument(
        "--lead-time-cost",
        action="store_true",
        help="send the seconds a person spent on a task as the label's cost",
    )
    add_labeling_flags(p)
    p.add_argument(
        "--group-id",
        default="streamal-label-studio",
        help="consumer group on the queries topic (default streamal-label-studio)",
    )
    p.add_argument("--log-format", help="text or json (default text)")
    add_kafka_flags(p)
    p.set_defaults(func=run)


def parse_classes(text: str) -> list[str]:
    """The classes of ``--classes``: comma-separated, in order, without blanks or repeats.

    >>> parse_classes("spam, ham,,spam")
    ['spam', 'ham']
    """
    classes = list(dict.fromkeys(c.strip() for c in text.split(",") if c.strip()))
    if not classes:
        raise argparse.ArgumentTypeError(f"no classes in {text!r} (e.g. --classes spam,ham)")
    return classes


def run(args: argparse.Namespace) -> int:
    from kafka.errors import KafkaError

    from streamal.connectors.kafka import consumer, producer
    from streamal.connectors.label_studio import Bridge, LabelStudio, LabelStudioError, run_bridge

    config = config_from_args(args)
    if not args.label_studio_token:
        raise UsageError(f"give Label Studio's API token: --label-studio-token or ${TOKEN_ENV}")
    ttl = config.engine.pending_ttl if args.task_ttl is None else args.task_ttl
    if not ttl > 0:
        raise UsageError(f"--task-ttl must be positive, got {ttl:g}")
    if not (args.poll_interval > 0 and math.isfinite(args.poll_interval)):
        raise UsageError(f"--poll-interval must be positive, got {args.poll_interval:g}")
    setup_logging(config.log_format)
    log = logging.getLogger("streamal.label_studio")

    client = LabelStudio(args.label_studio_url, args.label_studio_token)
    try:
        bridge = Bridge(
            client,
            project_id=args.project_id,
            title=args.project_title,
            classes=args.classes,
            ttl=ttl,
            lead_time_cost=args.lead_time_cost,
            numeric=config.engine.task == "regression",
        )
    except LabelStudioError as e:
        raise UsageError(str(e)) from None
    try:
        queries = consumer(config, group_id=config.group_id)
        queries.subscribe([config.queries_topic])
        labels = producer(config)
    except KafkaError as e:
        raise UsageError(f"cannot reach Kafka at {config.bootstrap_servers}: {e}") from None

    def send(records: list[dict]) -> None:
        sent = [
            labels.send(config.labels_topic, orjson.dumps(r), r["id"].encode()) for r in records
        ]
        for future in sent:
            future.get(timeout=30)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if bridge.project_id is None:
        where = f"project {args.project_title!r} at {client.url} (made at the first query)"
    else:
        where = f"project {bridge.project_id} at {client.url}/projects/{bridge.project_id}"
    log.info(
        "%s: %d tasks; reading %s, writing %s",
        where, len(bridge.known), config.queries_topic, config.labels_topic,
    )  # fmt: skip
    try:
        run_bridge(bridge, queries, send, stop, args.poll_interval)
    finally:
        labels.close()
        queries.close()
    return 0
