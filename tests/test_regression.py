"""Numeric targets through the engine: the model's rows, the labels' rule, settings and replay."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from streamal.decider import Decider
from streamal.decider import layout as L
from streamal.engine import Engine, Event, Label, LabelOutcome
from streamal.model import Model, ModelRefused
from streamal.replay import ReplaySetup, Row, replay
from streamal.settings import EngineSettings, SettingsError, build_engine


def _linear_rows(n: int, seed: int = 0, noise: float = 0.1) -> list[Row]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.uniform(-1, 1), rng.uniform(-1, 1)
        y = 3.0 * a - 2.0 * b + 1.0 + rng.gauss(0.0, noise)
        rows.append(Row(id=str(i), x={"a": a, "b": b}, ts=float(i), y=y))
    return rows


def test_a_bayesian_regressor_gives_its_predictive_deviation():
    model = Model("linear_model.BayesianLinearRegression()")
    model.learn([{"a": 1.0}, {"a": 3.0}], [2.0, 6.0])
    rows = model.predict_values([{"a": 2.0}, {"a": 30.0}])
    assert rows.shape == (2, 2)
    # Further from what it learned, it is less sure.
    assert 0.0 < rows[0, 1] < rows[1, 1]
    assert model.classes == [] and model.version == 2


def test_an_ensemble_spread_is_its_members_deviation():
    model = Model("ensemble.BaggingRegressor(linear_model.LinearRegression(), n_models=4, seed=3)")
    model.learn([{"a": float(i)} for i in range(20)], [float(2 * i) for i in range(20)])
    xs = [{"a": 5.0}]
    members = model.committee_values(xs)[0, :, 0]
    assert model.predict_values(xs)[0, 1] == pytest.approx(members.std())


def test_a_regressor_without_a_distribution_has_no_deviation():
    model = Model("tree.HoeffdingTreeRegressor()")
    model.learn([{"a": 1.0}], [2.0])
    assert math.isnan(model.predict_values([{"a": 1.0}])[0, 1])


def test_a_regressor_refuses_a_feature_it_cannot_take():
    model = Model("linear_model.LinearRegression()")
    model.learn([{"a": 1.0}], [2.0])
    with pytest.raises(ModelRefused):
        model.learn([{"a": "red"}], [3.0])
    assert model.version == 1


def test_answers_are_read_as_numbers_and_others_wait_for_a_right_one():
    engine = Engine("linear_model.LinearRegression()", Decider("random", 1.0, task="regression"))
    out = engine.process([Event("a", {"x": 1.0}, 0.0), Event("b", {"x": 2.0}, 1.0)])
    assert [q.id for q in out.queries] == ["a", "b"]
    # An empty model says 0, which is no prediction.
    assert out.queries[0].proba == {} and out.queries[0].prediction is None
    joined = engine.answer([Label("a", "2.5", 2.0), Label("b", "tall", 2.0), Label("b", True, 2.0)])
    assert [(e.id, e.y) for e in joined.examples] == [("a", 2.5)]
    assert [r.outcome for r in joined.rejected] == [LabelOutcome.NOT_A_NUMBER] * 2
    # The query stays open for a number.
    joined = engine.answer([Label("b", 4, 3.0)])
    assert [(e.id, e.y) for e in joined.examples] == [("b", 4.0)]
    assert engine.model.version == 2 and engine.schema.classes == []


def test_predictions_carry_the_value_and_deviation():
    engine = Engine(
        "linear_model.BayesianLinearRegression()", Decider("random", 1.0, task="regression")
    )
    engine.answer([])
    out = engine.process([Event("a", {"x": 1.0}, 0.0)])
    engine.answer([Label("a", 3.0, 1.0)])
    out = engine.process([Event("b", {"x": 1.0}, 2.0)])
    (prediction,) = out.predictions
    assert prediction.y == pytest.approx(out.y_pred[0]) and prediction.proba == {}
    assert prediction.std == pytest.approx(out.std[0]) and prediction.std > 0
    assert out.proba.shape == (1, 0)


def test_the_task_follows_the_model_and_picks_its_defaults():
    settings = EngineSettings(task="regression")
    assert settings.model.endswith("forest.ARFRegressor(seed=42)")
    assert build_engine(settings).model.is_regressor
    assert EngineSettings("forest.ARFRegressor()").task == "regression"
    assert EngineSettings().task == "classification"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            EngineSettings("naive_bayes.GaussianNB()", task="regression"),
            "is a classifier, not a model for regression",
        ),
        (EngineSettings(task="regression", classes=(1, 2)), "a numeric target has none"),
        (EngineSettings(task="regression", label_wait=10.0), "not for a numeric target"),
        (EngineSettings(task="ranking"), "unknown task 'ranking'"),
        (EngineSettings(task="regression", strategy="margin"), "unknown strategy"),
        (EngineSettings(even_share=0.5), "even_share is a setting of the regression rules"),
        (EngineSettings(task="regression", even_share=-0.1), "even_share must be in"),
    ],
)
def test_settings_that_do_not_fit_a_numeric_target_are_refused(settings, message):
    with pytest.raises(SettingsError, match=message):
        settings.check()


def test_the_even_share_reaches_the_decider_of_every_regression_rule():
    for strategy in ("leverage", "interval_width", "committee_variance", "density_ratio"):
        default = EngineSettings(task="regression", strategy=strategy, budget=0.2).decider()
        assert default.params[L.EVEN_SHARE] == 0.25 and default.params[L.HARD_CAP] == 1.0
        alone = EngineSettings(task="regression", strategy=strategy, budget=0.2, even_share=0)
        assert alone.decider().params[L.EVEN_SHARE] == 0.0
    with pytest.raises(SettingsError, match="even_share is a setting of the regression rules"):
        EngineSettings(task="regression", strategy="random", even_share=0.1).check()


def test_replay_scores_a_numeric_target_prequentially():
    rows = _linear_rows(2000)
    settings = EngineSettings(
        "linear_model.LinearRegression()", "random", 1.0, budget_manager="none"
    )
    result = replay(rows, ReplaySetup(settings))
    # Every label, learned one batch later: the errors of a model that learns y = 3a - 2b + 1.
    errors = []
    model = Model("linear_model.LinearRegression()")
    for start in range(0, len(rows), 16):
        batch = rows[start : start + 16]
        errors += [abs(r.y - model.predict_values([r.x])[0, 0]) for r in batch]
        model.learn([r.x for r in batch], [r.y for r in batch])
    assert result.mae == pytest.approx(np.mean(errors))
    assert result.labels == 2000 and result.r2 > 0.9 and math.isnan(result.accuracy)
    report = result.to_dict()
    assert {"mae", "rmse", "r2"} <= report.keys() and "accuracy" not in report
    assert report["curve"][-1] == [2000, pytest.approx(result.mae), 2000]


def test_a_drift_in_a_numeric_target_is_detected_and_restarts_the_thresholds():
    settings = EngineSettings(
        "linear_model.LinearRegression()", "leverage", 0.2, drift_aware=True, seed=1
    )
    rows = _linear_rows(6000, noise=0.05)
    # The concept turns at event 3000: the target's sign flips.
    rows = rows[:3000] + [Row(id=r.id, x=r.x, ts=r.ts, y=-r.y) for r in rows[3000:]]
    engine = build_engine(settings)
    drifts_at = []
    for start in range(0, len(rows), 50):
        batch = rows[start : start + 50]
        out = engine.process(batch)
        before = engine.decider.drifts
        engine.answer(
            [Label(r.id, r.y, r.ts) for r, ask in zip(batch, out.queried, strict=True) if ask]
        )
        if engine.decider.drifts > before:
            drifts_at.append(start)
    # Found within a few hundred events; ADWIN also sees the error fall as the model learns.
    assert any(3000 <= at < 3400 for at in drifts_at) and len(drifts_at) <= 4
