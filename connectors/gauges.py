"""The daemon's gauges: what its state and its consumers' positions are now, after each turn."""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaConsumer

from streamal.engine import Engine
from streamal.metrics import BoundedNames, Metrics

__all__ = ["update_gauges"]


def update_gauges(
    metrics: Metrics,
    engine: Engine,
    annotator_names: BoundedNames,
    consumers: Iterable[KafkaConsumer],
    offsets: dict[str, dict[int, int]],
    snapshot_age: float,
) -> None:
    """Set every gauge from the engine and from how far ``offsets`` are behind the topics."""
    decider = engine.decider
    metrics.budget_spent.set(decider.spent_fraction)
    for arm, weight in zip(decider.arms, decider.arm_weights().tolist(), strict=True):
        metrics.strategy_weight.labels(rule=arm.strategy).set(weight)
    metrics.pending_queries.set(len(engine.pending))
    annotators = engine.annotators
    if annotators is not None:
        for name in annotator_names.tracked:
            metrics.annotator_reliability.labels(annotator=name).set(annotators.accuracy(name))
    metrics.snapshot_age.set(snapshot_age)
    lag: dict[str, int] = {}
    for consumer in consumers:
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            position = offsets.get(tp.topic, {}).get(tp.partition)
            if end is not None and position is not None:
                lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - position)
    for topic, records in lag.items():
        metrics.consumer_lag.labels(topic=topic).set(records)
