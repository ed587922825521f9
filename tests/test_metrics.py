import math

from streamal.metrics import Metrics, RollingAccuracy

FAMILIES = [
    "streamal_events_total",
    "streamal_queries_total",
    "streamal_labels_total",
    "streamal_invalid_records_total",
    "streamal_dead_letters_total",
    "streamal_budget_target_ratio",
    "streamal_budget_spent_ratio",
    "streamal_pending_queries",
    "streamal_decision_latency_seconds",
    "streamal_label_delay_seconds",
    "streamal_model_update_latency_seconds",
    "streamal_labeled_accuracy_ratio",
    "streamal_snapshot_duration_seconds",
    "streamal_snapshot_age_seconds",
    "streamal_consumer_lag_records",
    "streamal_build_info",
]


def test_every_contract_family_is_exposed():
    text = Metrics().exposition().decode()
    for family in FAMILIES:
        assert f"# TYPE {family} " in text, family


def test_labelled_families_start_at_zero_for_every_value():
    metrics = Metrics()
    for outcome in ("applied", "duplicate", "unknown", "expired", "invalid"):
        assert metrics.value("streamal_labels_total", outcome=outcome) == 0.0
    assert metrics.value("streamal_invalid_records_total", reason="non_finite") == 0.0
    assert metrics.value("streamal_dead_letters_total", reason="unknown") == 0.0


def test_rolling_accuracy_forgets_old_labels():
    accuracy = RollingAccuracy(window=2)
    assert math.isnan(accuracy.value)
    for y_pred, y in [(1, 0), (1, 1), (0, 0)]:
        accuracy.update(y_pred, y)
    assert accuracy.value == 1.0
