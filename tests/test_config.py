import pytest

from streamal.config import ConfigError, ServeConfig, load_config
from streamal.decider import layout as L
from streamal.settings import build_engine


def test_defaults_follow_the_design():
    config = load_config({}, {})
    assert config == ServeConfig()
    assert config.events_topic == "streamal.events"
    assert config.dead_letter_topic == "streamal.dead-letter"
    assert config.predictions_topic is None
    assert config.metrics_port == 9108


def test_flags_win_over_environment_over_file(tmp_path):
    path = tmp_path / "serve.toml"
    path.write_text(
        'group-id = "from-file"\nbudget = 0.3\nlabels_topic = "file.labels"\n'
        'snapshot_interval = 5\n[kafka]\nsession_timeout_ms = 6000\nacks = "all"\n'
    )
    config = load_config(
        {"config": str(path), "budget": 0.02, "group_id": None},
        {
            "STREAMAL_GROUP_ID": "from-env",
            "STREAMAL_BUDGET": "0.5",
            "STREAMAL_KAFKA_OPTIONS": "acks=1,linger_ms=5",
        },
        ["linger_ms=10"],
    )
    assert config.engine.budget == 0.02
    assert config.group_id == "from-env"
    assert config.labels_topic == "file.labels"
    assert config.snapshot_interval == 5.0
    assert config.kafka_options == {"session_timeout_ms": 6000, "acks": 1, "linger_ms": 10}


def test_config_file_comes_from_the_environment_too(tmp_path):
    path = tmp_path / "serve.toml"
    path.write_text("metrics_port = 0\n")
    assert load_config({}, {"STREAMAL_CONFIG": str(path)}).metrics_port == 0


def test_kafka_settings_include_security_and_options():
    config = load_config(
        {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "PLAIN",
            "sasl_username": "u",
            "bootstrap_servers": "a:9092,b:9092",
        },
        {"STREAMAL_SASL_PASSWORD": "hunter2"},
        ["request_timeout_ms=5000"],
    )
    settings = config.kafka_settings()
    assert settings["bootstrap_servers"] == ["a:9092", "b:9092"]
    assert settings["sasl_plain_password"] == "hunter2"
    assert settings["request_timeout_ms"] == 5000
    assert config.public()["sasl_password"] == "***"


@pytest.mark.parametrize(
    ("flags", "environ", "kafka", "message"),
    [
        ({"budget": 0.0}, {}, [], "budget must be in (0, 1]"),
        ({}, {"STREAMAL_BUDGET": "lots"}, [], "STREAMAL_BUDGET: budget must be a number"),
        ({"strategy": "psychic"}, {}, [], "unknown strategy 'psychic'"),
        ({"model": "os.system('x')"}, {}, [], "model:"),
        ({"metrics_port": 70000}, {}, [], "metrics_port must be 0..65535"),
        ({"snapshot_interval": -1}, {}, [], "snapshot_interval must be positive"),
        ({"log_format": "xml"}, {}, [], "log_format must be text or json"),
        ({}, {}, ["nonsense"], "is not KEY=VALUE"),
        ({}, {}, ["colour=blue"], "unknown Kafka option 'colour'"),
        ({"security_protocol": "SASL_SSL"}, {}, [], "needs a sasl_mechanism"),
        ({"ssl_cafile": "/no/such/ca.pem"}, {}, [], "ssl_cafile /no/such/ca.pem: no such file"),
        ({"config": "/no/such.toml"}, {}, [], "config file /no/such.toml: no such file"),
    ],
)
def test_bad_settings_are_one_readable_line(flags, environ, kafka, message):
    with pytest.raises(ConfigError) as caught:
        load_config(flags, environ, kafka)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_file_contents_name_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("budget = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config({"config": str(path)}, {})
    path.write_text("budjet = 0.1\n")
    with pytest.raises(ConfigError, match="unknown setting 'budjet'"):
        load_config({"config": str(path)}, {})


def test_kafka_options_are_checked_against_the_client():
    # Java's dotted names are kafka-python's settings too; other dotted names are librdkafka's.
    config = load_config({}, {}, ["session.timeout.ms=6000"])
    assert config.kafka_options == {"session_timeout_ms": 6000}
    with pytest.raises(ConfigError, match="librdkafka's names need --kafka-client confluent"):
        load_config({}, {}, ["queued.min.messages=1000"])
    config = load_config(
        {"kafka_client": "confluent"}, {}, ["queued.min.messages=1000", "fetch_max_wait_ms=20"]
    )
    assert config.kafka_options == {"queued.min.messages": 1000, "fetch_max_wait_ms": 20}
    # librdkafka's few undotted names: its debug log is how a fetch's timing is diagnosed.
    config = load_config({"kafka_client": "confluent"}, {}, ["debug=fetch,cgrp"])
    assert config.kafka_options == {"debug": "fetch,cgrp"}
    with pytest.raises(ConfigError, match="librdkafka's names need --kafka-client confluent"):
        load_config({}, {}, ["debug=fetch"])
    with pytest.raises(ConfigError, match="unknown Kafka option 'debugg'"):
        load_config({"kafka_client": "confluent"}, {}, ["debugg=fetch"])
    with pytest.raises(ConfigError, match="kafka_client must be one of kafka-python, confluent"):
        load_config({"kafka_client": "librdkafka"}, {})


def test_the_shares_of_the_budget_reach_the_engine_from_file_and_environment():
    from_file = load_config({"task": "regression", "even_share": 0.5}, {}, [])
    assert from_file.engine.even_share == 0.5
    assert from_file.engine.decider().params[L.EVEN_SHARE] == 0.5
    from_env = load_config({"task": "regression"}, {"STREAMAL_EVEN_SHARE": "0.1"}, [])
    assert from_env.engine.even_share == 0.1
    bandit = load_config({}, {"STREAMAL_RANDOM_SHARE": "0.3"}, [])
    assert bandit.engine.decider().params[L.BANDIT_RANDOM_SHARE] == 0.3
    with pytest.raises(ConfigError, match="even_share is a setting of the regression rules"):
        load_config({"even_share": 0.1}, {}, [])


def test_the_class_weight_reaches_the_model_and_is_refused_where_it_means_nothing(tmp_path):
    path = tmp_path / "streamal.toml"
    path.write_text('class_weight = "balanced"\n')
    from_file = load_config({"config": str(path)}, {})
    assert build_engine(from_file.engine).model.class_weight == "balanced"
    from_env = load_config({}, {"STREAMAL_CLASS_WEIGHT": "balanced"}, [])
    assert from_env.engine.class_weight == "balanced"
    assert build_engine(load_config({}, {}, []).engine).model.class_weight == "none"
    with pytest.raises(ConfigError, match="unknown class_weight 'heavy'"):
        load_config({"class_weight": "heavy"}, {}, [])
    with pytest.raises(ConfigError, match="class_weight is for classes"):
        load_config({"task": "regression", "class_weight": "balanced"}, {}, [])
    with pytest.raises(ConfigError, match=r"'naive_bayes\.GaussianNB\(\)' does not"):
        load_config({"model": "naive_bayes.GaussianNB()", "class_weight": "balanced"}, {}, [])
