"""``streamal rerun``: re-run a daemon's recorded run and check it made the same queries.

A daemon's decisions depend on how many examples its model had learned when
it scored each event; its predictions topic records that number. With the
same settings as the daemon (its flags, ``--config`` file or ``STREAMAL_*``
variables), this command folds the training log up to each recorded version,
scores the events in their recorded order, and compares the queries it makes
with those on the queries topic (:mod:`streamal.rerun`). An audit says "the
run was what these settings do"; a difference says the settings, the model's
version or the recording are not what the daemon ran.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from streamal.cli.base import UsageError, config_from_args
from streamal.cli.serve import add_settings_flags

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rerun",
        help="re-run a daemon's recorded run and check its queries",
        description="Read a daemon's events, predictions, training and queries topics, re-run "
        "the engine with the daemon's settings (the same flags, --config file and STREAMAL_* "
        "variables as `streamal serve`; the predictions topic is required, with one "
        "partition) and compare the queries. Exit 0 when they are identical, 1 when not.",
    )
    add_settings_flags(parser)
    parser.add_argument(
        "--queries",
        type=Path,
        metavar="PATH",
        help="write the re-run's queries as JSON Lines (the queries topic's records)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kafka.errors import KafkaError

    from streamal.connectors.kafka_recording import KafkaRange, read_daemon_run, read_range
    from streamal.messages import InvalidRecord, decode_query, encode_query
    from streamal.rerun import RerunError, rerun
    from streamal.settings import build_engine

    config = config_from_args(args)
    if not config.predictions_topic:
        raise UsageError(
            "rerun needs the daemon's --predictions-topic: it records the model version "
            "of every decision"
        )
    try:
        recorded = read_daemon_run(
            config.bootstrap_servers,
            config.events_topic,
            config.predictions_topic,
            config.training_topic,
        )
        asked = {}
        for record in read_range(KafkaRange(config.bootstrap_servers, config.queries_topic)):
            try:
                query = decode_query(record.value or b"")
            except InvalidRecord:
                continue
            # A query sent again after a restart, or for a second label, repeats its id.
            asked.setdefault(query.id, query.score)
        again = rerun(
            build_engine(config.engine), recorded.events, recorded.versions, recorded.training
        )
    except (RerunError, ValueError) as e:
        raise UsageError(str(e)) from None
    except KafkaError as e:
        raise UsageError(f"{config.bootstrap_servers}: {type(e).__name__}: {e}") from None
    if args.queries:
        try:
            args.queries.write_bytes(b"".join(encode_query(q) + b"\n" for q in again))
        except OSError as e:
            raise UsageError(f"cannot write {args.queries}: {e.strerror}") from None
    made = {q.id: q.score for q in again}
    differ = [i for i in made if i in asked and made[i] != asked[i]]
    extra = [i for i in made if i not in asked]
    missing = [i for i in asked if i not in made]
    print(
        f"re-ran {len(recorded.events)} events and {len(recorded.training)} training "
        f"examples: {len(made)} queries, {len(asked)} recorded"
    )
    if not (differ or extra or missing):
        print("identical: every recorded query, and no other, with the same score")
        return 0
    for what, ids in (
        ("with another score", differ),
        ("not recorded", extra),
        ("recorded, not re-made", missing),
    ):
        if ids:
            shown = ", ".join(orjson.dumps(i).decode() for i in ids[:5])
            print(f"{len(ids)} queries {what}: {shown}{' …' if len(ids) > 5 else ''}")
    print("the re-run differs from the recording", file=sys.stderr)
    return 1
