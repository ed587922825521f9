"""``streamal serve``: the Kafka daemon (events in, queries out, labels back)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

import orjson

from streamal.cli.base import CLASS_WEIGHT_HELP, UsageError, config_from_args
from streamal.config import ServeConfig
from streamal.decider import DEFAULT_REGRESSION_STRATEGY
from streamal.model import DEFAULT_REGRESSOR

__all__ = ["add_settings_flags", "register", "setup_logging"]

DEFAULTS = ServeConfig()
ENGINE = DEFAULTS.engine

#: flag → help; each flag's config-file key and ``STREAMAL_*`` variable have the same name.
_FLAGS = {
    "bootstrap-servers": f"Kafka brokers, comma-separated (default {DEFAULTS.bootstrap_servers})",
    "group-id": f"consumer group of the daemons (default {DEFAULTS.group_id})",
    "events-topic": f"default {DEFAULTS.events_topic}",
    "queries-topic": f"default {DEFAULTS.queries_topic}",
    "labels-topic": f"default {DEFAULTS.labels_topic}",
    "predictions-topic": "write every prediction here (off unless given)",
    "training-topic": f"the training log (default {DEFAULTS.training_topic})",
    "dead-letter-topic": f"default {DEFAULTS.dead_letter_topic}",
    "task": "classification (labels are classes) or regression (labels are numbers; "
    "answers are read as finite numbers and any other is dead-lettered as not_a_number); "
    "default: what --model predicts, classification without --model",
    "model": f"river model spec (default {ENGINE.model}; for regression {DEFAULT_REGRESSOR})",
    "strategy": f"query strategy (default {ENGINE.strategy}; for regression "
    f"{DEFAULT_REGRESSION_STRATEGY})",
    "budget-manager": "estimated, biqf or none (random and periodic only): override the "
    "strategy's budget manager",
    "classes": "the stream's classes, e.g. spam,ham (true,false: booleans; 0,1,2: integers): "
    "answers are read as these and any other is dead-lettered as unknown_class (default: "
    "the type of the first label, and new classes learned as they come)",
    "class-weight": CLASS_WEIGHT_HELP,
    "state-dir": f"where snapshots are kept (default {DEFAULTS.state_dir})",
    "metrics-host": f"address of the /metrics endpoint (default {DEFAULTS.metrics_host})",
    "log-format": "text or json (default text)",
    "security-protocol": "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    "sasl-mechanism": "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, GSSAPI or OAUTHBEARER",
    "sasl-username": "SASL user",
    "sasl-password": "SASL password (prefer STREAMAL_SASL_PASSWORD)",
    "ssl-cafile": "CA bundle to check the brokers' certificates",
    "ssl-certfile": "client certificate (PEM)",
    "ssl-keyfile": "client private key (PEM)",
    "kafka-client": "kafka-python (default) or confluent: librdkafka through confluent-kafka, "
    "installed with pip install 'streamal[confluent]' (--kafka-option then also takes "
    "librdkafka's own names, e.g. queued.min.messages=10000)",
}
_NUMBER_FLAGS = {
    "budget": (float, f"fraction of events that may be queried (default {ENGINE.budget:g})"),
    "seed": (int, f"seed of the decider (default {ENGINE.seed})"),
    "delay-aware": (
        int,
        "delay-aware querying: for N events after a query (its expected label delay), do "
        "not ask about events within 0.5 standardised units of it (default 0: off); "
        "replay's --delay-aware with --label-delay N",
    ),
    "random-share": (
        float,
        "bandit: share of the budget asked uniformly at random, so every event has a known "
        "chance of being asked; the deployed-accuracy estimate's error shrinks as 1/√F "
        f"(default {ENGINE.random_share:g})",
    ),
    "even-share": (
        float,
        "regression rules: share of the budget asked at an even pace whatever the utility "
        "(0: the papers' rules alone); the deployed-error estimate rests on those answers "
        f"(default {ENGINE.even_share:g})",
    ),
    "snapshot-interval": (
        float,
        f"seconds between snapshots (default {DEFAULTS.snapshot_interval:g})",
    ),
    "metrics-port": (
        int,
        f"/metrics and /healthz; 0 = neither (default {DEFAULTS.metrics_port})",
    ),
    "health-timeout": (
        float,
        "/healthz answers 503 when the poll loop has not finished a turn for this many "
        f"seconds (default {DEFAULTS.health_timeout:g})",
    ),
    "max-pending": (int, f"most queries waiting for a label (default {ENGINE.max_pending})"),
    "pending-ttl": (
        float,
        "how long a query waits for its label, in the events' ts unit (seconds of Kafka "
        f"time for events without ts; default {ENGINE.pending_ttl:g})",
    ),
    "partitions": (int, f"partitions of topics created at start (default {DEFAULTS.partitions})"),
    "replication-factor": (
        int,
        f"of topics created at start (default {DEFAULTS.replication_factor})",
    ),
    "max-record-bytes": (
        int,
        f"larger records are dead-lettered (default {DEFAULTS.max_record_bytes})",
    ),
    "label-wait": (
        float,
        "annotator-aware mode: how long (events' ts unit) answers for one id wait for the "
        "others before the model learns their reliability-weighted vote (default 0: off, "
        "the first answer is learned and later ones are duplicates)",
    ),
    "labels-per-query": (
        int,
        "answers each query gets from the labelers, with --label-wait; each is one label of "
        f"--budget, so N answers ask 1/N as many events (default {ENGINE.labels_per_query})",
    ),
    "second-label-confidence": (
        float,
        "ask another annotator when the answers' reliability-weighted vote is right with "
        "a posterior probability below this, from the answers alone "
        f"(default {ENGINE.second_label_confidence:g}; 0: never)",
    ),
    "cost-budget": (
        float,
        "spend at most this many cost units per event instead of --budget (answers without "
        "a cost count 1; default 0: off)",
    ),
    "expected-cost": (
        float,
        "cost of an answer the decider paces for: label fraction min(1, cost budget / "
        f"expected cost) (default {ENGINE.expected_cost:g})",
    ),
    "annotator-metrics": (
        int,
        "most annotator names in metric labels, the rest are 'other' "
        f"(default {DEFAULTS.annotator_metrics})",
    ),
}
_SWITCHES = {
    "hard-cap": "never more than floor(b·n)+1 labels in the first n events "
    "(the bandit and the regression rules always hold it)",
    "drift-aware": "ADWIN on the labeled errors; after a drift, restart the thresholds and "
    "spend faster for a window, paid back later under the hard cap",
}


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": record.created,
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def setup_logging(log_format: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # The clients log every failed reconnect; the daemon says it once, with its plan.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    logging.getLogger("librdkafka").setLevel(logging.CRITICAL)


def add_kafka_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kafka-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Kafka client setting, e.g. session_timeout_ms=6000 (repeatable): kafka-python's "
        "names, translated for --kafka-client confluent, which also takes librdkafka's own",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the daemon on Kafka",
        description="Consume events, send queries, consume labels, learn from the training log. "
        'Every flag can also be set in the --config file (e.g. group_id = "fraud") or as '
        "STREAMAL_<FLAG> (e.g. STREAMAL_GROUP_ID); flags win over the environment, the "
        "environment over the file. Kafka client settings: --kafka-option KEY=VALUE, "
        "STREAMAL_KAFKA_OPTIONS=KEY=VALUE,KEY=VALUE, or a [kafka] table in the file. "
        "Snapshots are signed with STREAMAL_SNAPSHOT_KEY, or a key file made in --state-dir.",
    )
    add_settings_flags(parser)
    parser.set_defaults(func=run)


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    """The daemon's settings as flags: ``--config``, every setting, ``--kafka-option``."""
    parser.add_argument("--config", metavar="PATH", help="TOML file of settings")
    for flag, text in _FLAGS.items():
        parser.add_argument(f"--{flag}", help=text)
    for flag, (kind, text) in _NUMBER_FLAGS.items():
        parser.add_argument(f"--{flag}", type=kind, help=text)
    for flag, text in _SWITCHES.items():
        # Not given (None) lets the environment or the file decide; --no-FLAG turns it off.
        parser.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction, help=text)
    add_kafka_flags(parser)


def run(args: argparse.Namespace) -> int:
    # A stop asked while the daemon is still being built (imports, restoring a large
    # snapshot) is kept and honoured once it runs, instead of killing the process.
    stop_asked = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop_asked.set())

    from streamal.connectors.daemon import Daemon
    from streamal.connectors.kafka import TopicLayoutError
    from streamal.snapshot import SnapshotError

    config = config_from_args(args)
    setup_logging(config.log_format)
    logging.getLogger("streamal").info("starting with %s", config.public())
    try:
        daemon = Daemon(config)
    except SnapshotError as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"state dir {config.state_dir}: {e.strerror}") from None
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: daemon.stop())
    if stop_asked.is_set():
        logging.getLogger("streamal").info("stopped before it started: nothing to do")
        return 0
    try:
        daemon.run()
    except TopicLayoutError as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        if e.errno == 98:  # EADDRINUSE
            raise UsageError(f"metrics port {config.metrics_port} is already in use") from None
        raise
    return 0
