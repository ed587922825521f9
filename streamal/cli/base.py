"""What every subcommand shares: the one-line usage error and the parser that raises it."""

from __future__ import annotations

import argparse
import os

from streamal.config import ConfigError, ServeConfig, load_config

__all__ = ["CLASS_WEIGHT_HELP", "Parser", "UsageError", "add_labeling_flags", "config_from_args"]

#: ``--class-weight`` of replay and serve, one setting with one meaning
CLASS_WEIGHT_HELP = (
    "balanced: the model learns each label weighted by the inverse of its class's share of "
    "the labels so far, so a rare class counts as much as a common one (higher balanced "
    "accuracy, lower accuracy); none (default): every label weighs 1"
)


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, not a usage block and exit."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def config_from_args(args: argparse.Namespace) -> ServeConfig:
    """The checked settings from the flags, ``STREAMAL_*`` and the ``--config`` file.

    Every subcommand that talks to the daemon's topics reads them so: flags that
    are no setting of the daemon's are ignored here.
    """
    flags = {k: v for k, v in vars(args).items() if k not in ("func", "command", "kafka_option")}
    try:
        config = load_config(flags, os.environ, args.kafka_option)
        if config.kafka_client == "confluent":
            _check_librdkafka(config)
    except ConfigError as e:
        raise UsageError(str(e)) from None
    return config


def _check_librdkafka(config: ServeConfig) -> None:
    """That confluent-kafka is installed and takes the Kafka options, before anything starts."""
    try:
        from streamal.connectors.confluent import librdkafka_settings
    except ImportError:
        raise ConfigError(
            "--kafka-client confluent needs the confluent-kafka package: "
            "pip install 'streamal[confluent]'"
        ) from None
    librdkafka_settings(config.kafka_settings())


def add_labeling_flags(parser: argparse.ArgumentParser) -> None:
    """Where a labeling tool finds the daemon's queries and leaves its labels, and what they ask."""
    parser.add_argument(
        "--config", metavar="PATH", help="the daemon's TOML file (topics, Kafka, task)"
    )
    parser.add_argument("--bootstrap-servers", help="Kafka brokers (default: as streamal serve)")
    parser.add_argument("--queries-topic", help="default streamal.queries")
    parser.add_argument("--labels-topic", help="default streamal.labels")
    parser.add_argument(
        "--task",
        help="classification or regression: whether the answers are classes or numbers "
        "(default: as the daemon's --config says, else as each query shows: one carrying the "
        "model's prediction or a null score asks for a number)",
    )
