"""`ServeConfig`: the daemon's settings, from flags, ``STREAMAL_*`` variables and a TOML file.

A flag wins over the environment, the environment over the file, the file
over the defaults. Names are the same everywhere: ``--group-id`` is
``STREAMAL_GROUP_ID`` and ``group_id`` (or ``group-id``) in the file. Kafka
client settings come from a ``[kafka]`` table, ``STREAMAL_KAFKA_OPTIONS``
(``key=value,key=value``) and repeated ``--kafka-option key=value``, merged
in the same order. Every problem is a :class:`ConfigError` whose message is
one line a user can act on.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamal.classes import parse_classes
from streamal.settings import EngineSettings, SettingsError, require_positive

__all__ = ["ConfigError", "ServeConfig", "kafka_option", "load_config"]

ENV_PREFIX = "STREAMAL_"


class ConfigError(ValueError):
    """A setting that cannot be used; the message names it and says why."""


#: Where the daemon's engine differs from :class:`EngineSettings`' own defaults: a query
#: unanswered for a day (of the events' time) is dropped.
_ENGINE_DEFAULTS = {"pending_ttl": 86_400.0}


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """Everything ``streamal serve`` needs; defaults as in docs/design.md.

    The engine's own settings are an :class:`~streamal.settings.EngineSettings`,
    the same that ``streamal replay`` evaluates; as flags, variables and file keys
    they stand beside the daemon's (``--hard-cap``, ``STREAMAL_HARD_CAP``, ``hard_cap``).
    """

    bootstrap_servers: str = "localhost:9092"
    group_id: str = "streamal"
    events_topic: str = "streamal.events"
    queries_topic: str = "streamal.queries"
    labels_topic: str = "streamal.labels"
    predictions_topic: str | None = None
    training_topic: str = "streamal.training"
    dead_letter_topic: str = "streamal.dead-letter"
    partitions: int = 1
    replication_factor: int = 1
    engine: EngineSettings = field(default_factory=lambda: EngineSettings(**_ENGINE_DEFAULTS))
    state_dir: str = "streamal-state"
    snapshot_interval: float = 30.0
    metrics_port: int = 9108
    metrics_host: str = "0.0.0.0"
    #: /healthz fails when the poll loop has not finished a turn for this long (seconds)
    health_timeout: float = 60.0
    max_record_bytes: int = 1_048_576
    annotator_metrics: int = 20
    log_format: str = "text"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    kafka_options: dict[str, Any] = field(default_factory=dict)
    #: the Kafka client library: kafka-python, or librdkafka through confluent-kafka
    kafka_client: str = "kafka-python"

    def kafka_settings(self) -> dict[str, Any]:
        """kafka-python keyword arguments shared by every client: servers, security, options."""
        settings: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.security_protocol,
        }
        optional = {
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.sasl_username,
            "sasl_plain_password": self.sasl_password,
            "ssl_cafile": self.ssl_cafile,
            "ssl_certfile": self.ssl_certfile,
            "ssl_keyfile": self.ssl_keyfile,
        }
        settings.update({k: v for k, v in optional.items() if v is not None})
        settings.update(self.kafka_options)
        return settings

    def public(self) -> dict[str, Any]:
        """The settings with secrets masked, for the start-up log line."""
        shown = dataclasses.asdict(self)
        shown |= shown.pop("engine")
        if shown["sasl_password"] is not None:
            shown["sasl_password"] = "***"
        shown["kafka_options"] = {
            k: "***" if "password" in k or "token" in k else v
            for k, v in shown["kafka_options"].items()
        }
        return shown


_ENGINE_FIELDS = {f.name: f for f in dataclasses.fields(EngineSettings)}
_FIELDS = {f.name: f for f in dataclasses.fields(ServeConfig)} | _ENGINE_FIELDS
_SETTINGS = set(_FIELDS) - {"kafka_options", "engine"}
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_CLIENTS = ("kafka-python", "confluent")
#: librdkafka's settings without a dot in their name (the others all have one)
LIBRDKAFKA_UNDOTTED = frozenset({"debug", "log_level", "partitioner"})
_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER")


def _kafka_client_keys() -> frozenset[str]:
    from kafka import KafkaConsumer, KafkaProducer

    return frozenset(KafkaConsumer.DEFAULT_CONFIG) | frozenset(KafkaProducer.DEFAULT_CONFIG)


def _scalar(text: str) -> Any:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def kafka_option(text: str) -> tuple[str, Any]:
    """Parse one ``KEY=VALUE`` Kafka option; numbers and booleans are typed.

    A kafka-python setting may be written as Kafka's Java clients name it
    (``session.timeout.ms``); any other dotted name, and librdkafka's few
    undotted ones (:data:`LIBRDKAFKA_UNDOTTED`, e.g. ``debug``), is taken for
    librdkafka's own, for ``--kafka-client confluent`` (checked against the
    client in :func:`load_config`).

    >>> kafka_option("session.timeout.ms=6000"), kafka_option("acks=all")
    (('session_timeout_ms', 6000), ('acks', 'all'))
    >>> kafka_option("queued.min.messages=1000"), kafka_option("debug=fetch,cgrp")
    (('queued.min.messages', 1000), ('debug', 'fetch,cgrp'))
    >>> kafka_option("sesion_timeout_ms=6000")
    Traceback (most recent call last):
    ...
    streamal.config.ConfigError: unknown Kafka option 'sesion_timeout_ms' (kafka-python has no ...

    """
    key, sep, value = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key:
        raise ConfigError(f"Kafka option {text!r} is not KEY=VALUE")
    if key.replace(".", "_") in _kafka_client_keys():
        key = key.replace(".", "_")
    elif "." not in key and key not in LIBRDKAFKA_UNDOTTED:
        raise ConfigError(
            f"unknown Kafka option {key!r} (kafka-python has no such consumer or producer setting)"
        )
    return key, _scalar(value)


def _typed(name: str, value: Any, source: str) -> Any:
    kind = _FIELDS[name].type
    if name == "classes":
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        try:
            return parse_classes(text) if text.strip() else ()
        except ValueError as e:
            raise ConfigError(f"{source}: {e}") from None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in _TRUE + _FALSE:
            return str(value).strip().lower() in _TRUE
        raise ConfigError(f"{source}: {name} must be true or false, got {value!r}")
    try:
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {name} must be a number, got {value!r}") from None
    return None if value is None else str(value)


def _read_file(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: no such file") from None
    except OSError as e:
        raise ConfigError(f"config file {path}: cannot read ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path}: not valid TOML ({e})") from None
    table = data.pop("kafka", {})
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: [kafka] must be a table")
    settings = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in _SETTINGS:
            raise ConfigError(f"config file {path}: unknown setting {key!r}")
        settings[name] = _typed(name, value, f"config file {path}")
    options = {}
    for key, value in table.items():
        # TOML already typed the value; only the key needs checking.
        name, _ = kafka_option(f"{key}={value}")
        options[name] = value
    return settings, options


def _check(config: ServeConfig) -> None:
    if not config.bootstrap_servers.strip():
        raise ConfigError("bootstrap_servers is empty (e.g. localhost:9092)")
    try:
        config.engine.check()
        require_positive(
            snapshot_interval=config.snapshot_interval,
            health_timeout=config.health_timeout,
            partitions=config.partitions,
            replication_factor=config.replication_factor,
            max_record_bytes=config.max_record_bytes,
        )
    except SettingsError as e:
        raise ConfigError(str(e)) from None
    if not 0 <= config.metrics_port <= 65535:
        raise ConfigError(f"metrics_port must be 0..65535, got {config.metrics_port}")
    if not (config.annotator_metrics >= 0):
        raise ConfigError(
            f"annotator_metrics must be zero or positive, got {config.annotator_metrics}"
        )
    if config.log_format not in ("text", "json"):
        raise ConfigError(f"log_format must be text or json, got {config.log_format!r}")
    if config.security_protocol not in _SECURITY_PROTOCOLS:
        raise ConfigError(
            f"security_protocol must be one of {', '.join(_SECURITY_PROTOCOLS)}, "
            f"got {config.security_protocol!r}"
        )
    if config.sasl_mechanism is not None and config.sasl_mechanism not in _SASL_MECHANISMS:
        raise ConfigError(
            f"sasl_mechanism must be one of {', '.join(_SASL_MECHANISMS)}, "
            f"got {config.sasl_mechanism!r}"
        )
    if config.security_protocol.startswith("SASL") and config.sasl_mechanism is None:
        raise ConfigError(f"security_protocol {config.security_protocol} needs a sasl_mechanism")
    _check_kafka_client(config)
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        path = getattr(config, name)
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"{name} {path}: no such file")


def _check_kafka_client(config: ServeConfig) -> None:
    if config.kafka_client not in KAFKA_CLIENTS:
        raise ConfigError(
            f"kafka_client must be one of {', '.join(KAFKA_CLIENTS)}, got {config.kafka_client!r}"
        )
    if config.kafka_client == "kafka-python":
        for key in config.kafka_options:
            if "." in key or key in LIBRDKAFKA_UNDOTTED:
                raise ConfigError(
                    f"unknown Kafka option {key!r} (kafka-python has no such consumer or "
                    "producer setting; librdkafka's names need --kafka-client confluent)"
                )


def load_config(
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    kafka_flags: Iterable[str] = (),
) -> ServeConfig:
    """Merge defaults < file < environment < flags into a checked :class:`ServeConfig`.

    ``flags`` holds only the flags the user gave (``None`` means not given);
    the file is ``flags["config"]`` or ``STREAMAL_CONFIG``.

    Examples
    --------

    >>> config = load_config(
    ...     {"budget": 0.05, "group_id": None},
    ...     {"STREAMAL_BUDGET": "0.2", "STREAMAL_GROUP_ID": "fraud"},
    ...     ["session_timeout_ms=6000"],
    ... )
    >>> config.engine.budget, config.group_id, config.kafka_options
    (0.05, 'fraud', {'session_timeout_ms': 6000})
    >>> load_config({"budget": 1.5}, {})
    Traceback (most recent call last):
    ...
    streamal.config.ConfigError: budget must be in (0, 1], got 1.5

    """
    settings: dict[str, Any] = {}
    options: dict[str, Any] = {}
    path = flags.get("config") or environ.get(ENV_PREFIX + "CONFIG")
    if path:
        settings, options = _read_file(path)
    for name in sorted(_SETTINGS):
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is not None and raw != "":
            settings[name] = _typed(name, raw, f"{ENV_PREFIX}{name.upper()}")
    env_options = environ.get(ENV_PREFIX + "KAFKA_OPTIONS", "")
    options.update(kafka_option(item) for item in env_options.split(",") if item.strip())
    for name, value in flags.items():
        if name in _SETTINGS and value is not None:
            settings[name] = _typed(name, value, f"--{name.replace('_', '-')}")
    options.update(kafka_option(item) for item in kafka_flags)
    engine = {name: settings.pop(name) for name in list(settings) if name in _ENGINE_FIELDS}
    # Built anew, not replaced: the task's defaults (model, strategy) follow what is given.
    config = ServeConfig(
        **settings,
        engine=EngineSettings(**(_ENGINE_DEFAULTS | engine)),
        kafka_options=options,
    )
    _check(config)
    return config
