"""Learning quality for numeric targets: prequential MAE against the labels spent.

Every regression strategy (:func:`streamal.decider.strategies_for`) runs at
budgets of 1, 5, 10 and 20 % on river's bundled regression sets
(TrumpApproval, ChickWeights, WaterFlow) and on synthetic streams (FriedmanDrift
in its three drift kinds, Planes2D, Mv with its categorical features, and five
added after the default strategy was chosen, of other characters: stationary
Friedman, clustered inputs, noise that grows with the input, a daily season, skewed
inputs with a rare category), five seeds each, all with the same model
(:data:`streamal.model.DEFAULT_REGRESSOR` unless ``--model`` says otherwise).
Each run is a :func:`streamal.replay.replay` with no label delay and the
replay's default batch size, scored by prequential MAE, RMSE and R². Two
yardsticks run alongside: random and periodic sampling at the same budget, and
full labels (``random`` at a budget of 1 with no budget
manager, which learns every label).

The seed is the decider's; the synthetic streams are also generated from it,
so their five runs see five different streams. A second part runs candidate
models (:data:`MODELS`) at 5 and 10 % with random sampling and every
strategy the model can serve, and with full labels: that is where the default
model and strategy are chosen from (:func:`choose`), on the aggregate over
every stream, with a leave-one-stream-out check of how robust the choice is.

Runs are spread over ``--jobs`` forked workers, which share the pre-built
streams. Run ``python benchmarks/quality_regression.py`` (``--quick`` for a
smoke run: one short stream, one seed).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import multiprocessing
import os
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from quality import decider_options, mean_se, parse_variant, rows_of, settings_options
from results_md import BENCHMARKS, add_output_arguments, environment, markdown_table, write_section
from river import datasets
from river.datasets import synth

from streamal.decider import strategies_for
from streamal.model import DEFAULT_REGRESSOR, Model
from streamal.replay import ReplaySetup, Row, replay
from streamal.settings import EngineSettings

BUDGETS = (0.01, 0.05, 0.10, 0.20)
SEEDS = (0, 1, 2, 3, 4)
#: the budgets of the issue's criteria (and of the model comparison)
CRITERIA_BUDGETS = (0.05, 0.10)
#: events per synthetic stream in the full grid (the issue's cap)
FULL_EVENTS = 20_000
#: full labels: every event learned, no budget manager in the way
FULL = "random[budget_manager=none]"
#: a strategy spends "on budget" within this of it (a fraction)
SPEND_TOLERANCE = 0.005
#: the issue's bar: lower MAE than random on this share of the streams, and this mean reduction
WIN_SHARE, MEAN_REDUCTION = 4 / 5, 0.10

#: variants of the regression rules run at 5 and 10 %: the papers' rules alone, without the
#: quarter of the budget at an even pace (``even_share=0``; the committee's was the default
#: before), half of it at an even pace, and the density ratio with Kottke's slower balance
VARIANTS = (
    "interval_width[even_share=0]",
    "committee_variance[even_share=0]",
    "interval_width[even_share=0.5]",
    "density_ratio[even_share=0]",
    "density_ratio[tolerance=50]",
)
#: numbers standardised and strings one-hot encoded, in front of every model, so that a
#: stream with text columns (Mv; a CSV's text column) reaches any regressor
FRONT = (
    "(compose.SelectType(str) | preprocessing.OneHotEncoder()) + "
    "(compose.SelectType(int, float) | preprocessing.StandardScaler())"
)
#: candidate models, each behind :data:`FRONT`
MODELS = (
    f"{FRONT} | linear_model.LinearRegression()",
    f"{FRONT} | linear_model.BayesianLinearRegression()",
    f"{FRONT} | tree.HoeffdingAdaptiveTreeRegressor(seed=42)",
    f"{FRONT} | forest.ARFRegressor(seed=42)",
    f"{FRONT} | forest.ARFRegressor(leaf_prediction='mean', seed=42)",
    f"{FRONT} | ensemble.BaggingRegressor(linear_model.LinearRegression(), seed=42)",
)


def _numbers(pairs) -> list[Row]:
    """The rows of ``(x, y)`` pairs, targets as floats (a generator may give ints)."""
    return rows_of((x, float(y)) for x, y in pairs)


def _clock(x: dict) -> dict:
    """A timestamp as numbers a regressor can use: hour of day, day of week, days elapsed.

    >>> import datetime as dt
    >>> _clock({"Time": dt.datetime(2022, 3, 20, 11, 0)})
    {'hour': 11, 'weekday': 6, 'day': 19071.458333333332}
    """
    t = x["Time"]
    return {"hour": t.hour, "weekday": t.weekday(), "day": t.timestamp() / 86_400}


def _bundled(dataset, transform: Callable[[dict], dict] = dict) -> Callable[[int, int], list]:
    return lambda n, seed: _numbers((transform(x), y) for x, y in itertools.islice(dataset(), n))


def _synthetic(make) -> Callable[[int, int], list[Row]]:
    return lambda n, seed: _numbers(itertools.islice(make(n, seed), n))


def _friedman(kind: str) -> Callable[[int, int], list[Row]]:
    """FriedmanDrift with its drift points spread over the first ``n`` events.

    ``lea`` (local, expanding, abrupt) at n/4, n/2, 3n/4; ``gra`` (global,
    recurring, abrupt) at n/3 and back at 2n/3; ``gsg`` (global, slow,
    gradual) at n/4 and 3n/4, each a transition of n/10 events.
    """
    positions = {"lea": (1 / 4, 1 / 2, 3 / 4), "gra": (1 / 3, 2 / 3), "gsg": (1 / 4, 3 / 4)}

    def make(n: int, seed: int):
        position = tuple(max(1 + i, int(p * n)) for i, p in enumerate(positions[kind]))
        window = max(1, n // 10)
        return synth.FriedmanDrift(kind, position, transition_window=window, seed=seed)

    return _synthetic(make)


def _mixture(n: int, seed: int):
    """Inputs from five Gaussian clusters of unequal weight, each with its own linear target.

    A labeled sample should follow the clusters' weights; the rare clusters are where
    the model knows least.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(5, 4))
    weights = np.array([0.40, 0.25, 0.15, 0.12, 0.08])
    slopes = rng.normal(size=(5, 4))
    for _ in range(n):
        c = rng.choice(5, p=weights)
        x = centres[c] + rng.normal(size=4)
        y = slopes[c] @ x + 3.0 * c + rng.normal(scale=0.5)
        yield {f"x{i}": float(v) for i, v in enumerate(x)}, float(y)


def _heteroscedastic(n: int, seed: int):
    """``y = x sin x`` on ``x ~ U[0, 10]``, with noise of deviation ``0.05 + 0.1 x``, beside
    an irrelevant feature: the same error everywhere is not worth the same everywhere."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        x = rng.uniform(0.0, 10.0)
        y = math.sin(x) * x + rng.normal(scale=0.05 + 0.1 * x)
        yield {"x": x, "z": float(rng.normal())}, float(y)


def _daily(n: int, seed: int):
    """An hourly series: a slow trend, a daily season, noise in the afternoons only, and an
    irrelevant reading; time-ordered, as a soft sensor's stream is."""
    rng = np.random.default_rng(seed)
    for t in range(n):
        hour = t % 24
        noise = 2.0 * rng.normal() if hour > 12 else 0.0
        y = 0.01 * t + 5.0 * math.sin(2 * math.pi * hour / 24) + noise
        yield {"t": t, "hour": hour, "load": float(rng.normal())}, float(y)


def _skewed(n: int, seed: int):
    """Log-normal inputs (long right tails) and a category of shares 70, 20 and 10 %."""
    rng = np.random.default_rng(seed)
    shift = {"a": 0.0, "b": 5.0, "c": -8.0}
    for _ in range(n):
        x = rng.lognormal(size=3)
        kind = str(rng.choice(["a", "b", "c"], p=[0.7, 0.2, 0.1]))
        y = 10.0 * math.log1p(x[0]) + 3.0 * math.sqrt(x[1]) + shift[kind] + rng.normal()
        yield {"x0": float(x[0]), "x1": float(x[1]), "x2": float(x[2]), "kind": kind}, float(y)


def synth_of(name: str) -> Callable:
    """A maker of river's ``synth.NAME(seed=…)`` stream (whatever the length asked)."""
    return lambda n, seed: getattr(synth, name)(seed=seed)


#: name → (kind, builder(n_events, seed) -> rows); bundled streams ignore the seed
STREAMS: dict[str, tuple[str, Callable[[int, int], list[Row]]]] = {
    "TrumpApproval": ("bundled, 6 numeric", _bundled(datasets.TrumpApproval)),
    "ChickWeights": ("bundled, 3 numeric (chick id, diet, time)", _bundled(datasets.ChickWeights)),
    "WaterFlow": (
        "bundled, a timestamp (hour, weekday, day)",
        _bundled(datasets.WaterFlow, _clock),
    ),
    "Friedman lea": ("local expanding abrupt drift at n/4, n/2, 3n/4", _friedman("lea")),
    "Friedman gra": ("global recurring abrupt drift at n/3, back at 2n/3", _friedman("gra")),
    "Friedman gsg": ("global slow gradual drift at n/4, 3n/4 (n/10 wide)", _friedman("gsg")),
    "Planes2D": ("10 numeric in {-1, 0, 1}, piecewise linear", _synthetic(synth_of("Planes2D"))),
    "Mv": ("7 numeric, 3 categorical, dependent features", _synthetic(synth_of("Mv"))),
    "Friedman": ("10 uniform numeric (5 irrelevant), stationary", _synthetic(synth_of("Friedman"))),
    "Mixture": ("4 numeric from 5 clusters of 40 to 8 %, linear per cluster", _synthetic(_mixture)),
    "Heteroscedastic": (
        "x sin x, noise growing with x, 1 irrelevant",
        _synthetic(_heteroscedastic),
    ),
    "Daily": ("hourly: trend, daily season, afternoon noise, 1 irrelevant", _synthetic(_daily)),
    "Skewed": ("3 log-normal numeric, a category of 70/20/10 %", _synthetic(_skewed)),
}

# Filled in the parent before the workers fork, so the rows are shared, not pickled.
_ROWS: dict[tuple[str, int], list[Row]] = {}

#: one run's MAE, RMSE, R² and spent fraction, then its deployed-error estimate at the end
#: (estimate, low, high) and the true MAE over the estimate's window
Record = tuple[float, float, float, float, float, float, float, float]
#: the names of a :data:`Record`'s fields in the raw-runs JSON
RECORD_FIELDS = ("mae", "rmse", "r2", "spent", "estimate", "low", "high", "truth")
#: the fields of a task, in order, as the raw-runs JSON names them
TASK_FIELDS = ("stream", "seed", "strategy", "budget", "model")


def strategies_of(model: str) -> list[str]:
    """The regression strategies ``model`` can serve: committee variance needs an ensemble.

    >>> strategies_of(MODELS[0])
    ['random', 'periodic', 'leverage', 'interval_width', 'density_ratio']
    """
    ensemble = Model(model).is_committee
    return [s for s in strategies_for("regression") if ensemble or s != "committee_variance"]


def _run(task: tuple[str, int, str, float, str]) -> tuple[tuple, Record]:
    stream, seed, name, budget, model = task
    strategy, options = parse_variant(name)
    engine = settings_options(options)
    with decider_options(options):
        settings = EngineSettings(model, strategy, budget, seed=seed, task="regression", **engine)
        result = replay(_ROWS[stream, seed], ReplaySetup(settings))
    estimate = result.estimates[-1][2:] if result.estimates else [math.nan] * 4
    return task, (result.mae, result.rmse, result.r2, result.label_fraction, *estimate)


def run_all(tasks: list[tuple], jobs: int) -> dict[tuple, Record]:
    """``task →`` its :data:`Record`, the longest runs first for a balanced finish."""

    def cost(t: tuple) -> float:
        ensemble = "ARF" in t[4] or "Bagging" in t[4]
        return len(_ROWS[t[0], t[1]]) * (1 + 9 * ensemble) * (0.2 + t[3])

    tasks = sorted(tasks, key=lambda t: -cost(t))
    if jobs == 1:
        return dict(map(_run, tasks))
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        return dict(pool.imap_unordered(_run, tasks, chunksize=1))


def save_runs(raw: dict[tuple, Record], path: Path) -> None:
    """The raw runs as JSON rows, sorted, with the length of the stream each ran on."""
    rows = [
        dict(zip(TASK_FIELDS, t, strict=True))
        | dict(zip(RECORD_FIELDS, r, strict=True))
        | {"events": len(_ROWS[t[0], t[1]])}
        for t, r in sorted(raw.items(), key=str)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=0))


def load_runs(path: Path) -> dict[tuple, Record]:
    """Runs saved by :func:`save_runs` on streams of the length built now.

    Runs saved before the deployed-error estimate was recorded have NaN in its place.
    """
    runs = {}
    for r in json.loads(path.read_text()):
        task = tuple(r[f] for f in TASK_FIELDS)
        rows = _ROWS.get((task[0], task[1]))
        if rows is not None and r["events"] == len(rows):
            runs[task] = tuple(r.get(f, math.nan) for f in RECORD_FIELDS)
    return runs


def summarise(
    raw: dict[tuple, Record], streams: list[str], budgets: tuple, seeds: tuple, model: str
) -> dict:
    """Means over seeds per ``(stream, budget, strategy)``, and each strategy's criteria.

    ``cells[stream, budget, strategy]`` holds ``mae``, ``se``, ``rmse``, ``r2``,
    ``spent`` and ``reduction`` (``1 - MAE / MAE_random`` at the same budget);
    ``full[stream]`` the full-label cell. ``criteria[strategy]`` counts the
    streams with a lower MAE than random (``wins``), the mean reduction over
    streams, and the worst distance of the spent fraction from the budget.
    """
    strategies = [s for s in dict.fromkeys(t[2] for t in raw if t[4] == model and t[3] in budgets)]
    cells: dict[tuple, dict] = {}
    full: dict[str, dict] = {}
    for stream in streams:
        for b, strategy in [(1.0, FULL), *itertools.product(budgets, strategies)]:
            runs = [raw.get((stream, s, strategy, b, model)) for s in seeds]
            if None in runs:
                continue
            mae, se = mean_se([r[0] for r in runs])
            cell = {
                "mae": mae,
                "se": se,
                "rmse": statistics.fmean(r[1] for r in runs),
                "r2": statistics.fmean(r[2] for r in runs),
                "spent": statistics.fmean(r[3] for r in runs),
                "finite": all(math.isfinite(v) for r in runs for v in r[:3]),
            }
            if strategy == FULL:
                full[stream] = cell
            else:
                cells[stream, b, strategy] = cell
    for (stream, b, _), cell in cells.items():
        cell["reduction"] = 1.0 - cell["mae"] / cells[stream, b, "random"]["mae"]
    criteria = {}
    for strategy in strategies:
        row: dict = {}
        for b in budgets:
            got = [cells[s, b, strategy] for s in streams if (s, b, strategy) in cells]
            if len(got) < len(streams):
                continue
            row["wins", b] = sum(c["reduction"] > 0 for c in got)
            row["reduction", b] = statistics.fmean(c["reduction"] for c in got)
            row["off", b] = max(abs(c["spent"] - b) for c in got)
        if row:
            criteria[strategy] = row
    return {"cells": cells, "full": full, "criteria": criteria, "strategies": strategies}


def meets(row: dict, n_streams: int, budgets: tuple = CRITERIA_BUDGETS) -> bool:
    """Whether a strategy's criteria row clears the issue's bar at every one of ``budgets``.

    >>> row = {("wins", 0.05): 4, ("reduction", 0.05): 0.12, ("off", 0.05): 0.004}
    >>> meets(row, 5, (0.05,)), meets(row | {("wins", 0.05): 3}, 5, (0.05,))
    (True, False)
    """
    return all(
        row["wins", b] >= math.ceil(WIN_SHARE * n_streams)
        and row["reduction", b] >= MEAN_REDUCTION
        and row["off", b] <= SPEND_TOLERANCE + 1e-12
        for b in budgets
    )


def score(row: dict, budgets: tuple = CRITERIA_BUDGETS) -> float:
    """A strategy's mean reduction over random at ``budgets`` (its rank in the choice)."""
    return statistics.fmean(row["reduction", b] for b in budgets)


def choose(raw: dict, streams: list[str], seeds: tuple, models: tuple) -> dict:
    """The default model and strategy, from the aggregate over ``streams``.

    The model: the lowest mean over streams of its MAE relative to the best
    candidate's on that stream, with its best strategy at 5 and 10 % (each
    run finite). The strategy: with that model, the one of largest mean MAE
    reduction over random at 5 and 10 %, among those spending within half a
    point of the budget. Random and periodic are not candidates.
    """
    budgets = CRITERIA_BUDGETS
    summaries = {m: summarise(raw, streams, budgets, seeds, m) for m in models}
    best_mae = {}
    for stream, b in itertools.product(streams, budgets):
        best_mae[stream, b] = min(
            c["mae"]
            for s in summaries.values()
            for (st, bb, _), c in s["cells"].items()
            if st == stream and bb == b and c["finite"]
        )
    rows = {}
    for m, s in summaries.items():
        rules = {
            k: v
            for k, v in s["criteria"].items()
            if k not in ("random", "periodic") and "[" not in k  # rules, not their variants
        }
        # On budget if any is (a short stream's quantile filter may be off by more).
        candidates = {
            k: v for k, v in rules.items() if max(v["off", b] for b in budgets) <= SPEND_TOLERANCE
        } or rules
        strategy = max(candidates, key=lambda k: score(candidates[k]))
        finite = all(c["finite"] for c in s["cells"].values()) and all(
            c["finite"] for c in s["full"].values()
        )
        relative = statistics.fmean(
            s["cells"][st, b, strategy]["mae"] / best_mae[st, b]
            for st, b in itertools.product(streams, budgets)
        )
        rows[m] = {"strategy": strategy, "relative": relative, "finite": finite}
    fine = {m: r for m, r in rows.items() if r["finite"]}
    model = min(fine, key=lambda m: fine[m]["relative"])
    return {"model": model, "strategy": rows[model]["strategy"], "rows": rows}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _short(model: str) -> str:
    """A model's name without :data:`FRONT`.

    >>> _short(MODELS[2])
    'tree.HoeffdingAdaptiveTreeRegressor(seed=42)'
    """
    return model.removeprefix(FRONT + " | ")


def grid_tables(summary: dict, streams: list[str], budgets: tuple) -> str:
    """Per stream × budget: each strategy's MAE ± SE (spent %), then RMSE, R², reductions."""
    strategies = summary["strategies"]
    cells, full = summary["cells"], summary["full"]
    parts = []
    for b in budgets:
        rows = []
        for stream in streams:
            row = [stream]
            for strategy in strategies:
                c = cells.get((stream, b, strategy))
                row.append(
                    "—" if c is None else f"{c['mae']:.4g} ± {c['se']:.2g} ({_pct(c['spent'])})"
                )
            f = full.get(stream)
            row.append("—" if f is None else f"{f['mae']:.4g} ± {f['se']:.2g}")
            rows.append(row)
        header = ["stream", *strategies, "full labels"]
        parts.append(
            f"#### {b:.0%}: MAE ± standard error over seeds (spent %)\n\n"
            + markdown_table(header, rows)
        )
        rows = []
        for stream in streams:
            row = [stream]
            for strategy in strategies:
                c = cells.get((stream, b, strategy))
                row.append(
                    "—"
                    if c is None
                    else f"{c['rmse']:.4g} / {c['r2']:.3f} / {100 * c['reduction']:+.1f} %"
                )
            f = full.get(stream)
            row.append("—" if f is None else f"{f['rmse']:.4g} / {f['r2']:.3f}")
            rows.append(row)
        parts.append(
            f"#### {b:.0%}: RMSE / R² / MAE reduction over random\n\n"
            + markdown_table(header, rows)
        )
    return "\n\n".join(parts)


def criteria_table(summary: dict, streams: list[str], budgets: tuple) -> str:
    """Per strategy: wins over random, mean MAE reduction and worst spending per budget."""
    rows = []
    for strategy, row in summary["criteria"].items():
        if strategy == "random":
            continue
        cells = [strategy]
        for b in budgets:
            cells.append(
                f"{row['wins', b]}/{len(streams)}, {100 * row['reduction', b]:+.1f} %, "
                f"±{100 * row['off', b]:.2f} pt"
                if ("wins", b) in row
                else "—"
            )
        if all(b in budgets for b in CRITERIA_BUDGETS):
            cells.append("**yes**" if meets(row, len(streams)) else "no")
        rows.append(cells)
    rows += yardsticks(summary, streams, budgets)
    header = ["strategy", *(f"@{b:.0%}: wins, reduction, worst spend" for b in budgets)]
    if all(b in budgets for b in CRITERIA_BUDGETS):
        header.append("meets the bar @5 and 10 %")
        for row in rows[len(rows) - 2 :]:
            row.append("—")
    return markdown_table(header, rows)


def yardsticks(summary: dict, streams: list[str], budgets: tuple) -> list[list[str]]:
    """Two rows that scale the bar: in each stream the best of every rule run (random
    included), chosen in hindsight; and random sampling given twice the budget.

    >>> cells = {("s", b, n): {"mae": m} for (b, n), m in {(0.05, "random"): 4.0,
    ...     (0.05, "a"): 3.8, (0.05, "b"): 4.4, (0.1, "random"): 3.0, (0.1, "a"): 3.3}.items()}
    >>> for (_, b, _), c in cells.items():
    ...     c["reduction"] = 1 - c["mae"] / cells["s", b, "random"]["mae"]
    >>> for row in yardsticks({"cells": cells}, ["s"], (0.05, 0.1)):
    ...     print(row)
    ['*best rule per stream, in hindsight*', '1/1, +5.0 %', '0/1, +0.0 %']
    ['*random with twice the budget*', '1/1, +25.0 %', '—']
    """
    cells = summary["cells"]
    best, doubled = ["*best rule per stream, in hindsight*"], ["*random with twice the budget*"]
    for b in budgets:
        gains = [
            max(c["reduction"] for (st, bb, _), c in cells.items() if st == s and bb == b)
            for s in streams
        ]
        best.append(_wins_and_mean(gains))
        twice = [cells.get((s, round(2 * b, 6), "random")) for s in streams]
        if None in twice:
            doubled.append("—")
            continue
        gains = [
            1.0 - t["mae"] / cells[s, b, "random"]["mae"]
            for s, t in zip(streams, twice, strict=True)
        ]
        doubled.append(_wins_and_mean(gains))
    return [best, doubled]


def _wins_and_mean(reductions: list[float]) -> str:
    """``"wins/streams, mean reduction %"``.

    >>> _wins_and_mean([0.1, -0.02])
    '1/2, +4.0 %'
    """
    wins = sum(r > 0 for r in reductions)
    return f"{wins}/{len(reductions)}, {100 * statistics.fmean(reductions):+.1f} %"


def deployed_error_table(
    raw: dict, streams: list[str], budgets: tuple, seeds: tuple, model: str, strategy: str
) -> str:
    """The deployed-error estimate at the end of each run against the true MAE of its window.

    Per stream and budget: the true MAE over the estimator's exponential window,
    the estimate, the mean relative error ``|estimate - truth| / truth`` over the
    seeds, and how often the 95 % interval holds the truth.

    >>> run = (0.0, 0.0, 0.0, 0.1, 2.2, 1.8, 2.6, 2.0)
    >>> print(deployed_error_table({("s", 0, "r", 0.1, "m"): run}, ["s"], (0.1,), (0,), "m", "r"))
    | stream | budget | true MAE | estimate | mean relative error (%) | true in 95 % CI |
    |---|---|---|---|---|---|
    | s | 10% | 2 | 2.2 | 10.0 | 1/1 |
    """
    rows = []
    for stream, b in itertools.product(streams, budgets):
        runs = [raw.get((stream, seed, strategy, b, model)) for seed in seeds]
        runs = [r for r in runs if r is not None and math.isfinite(r[4])]
        if not runs:
            continue
        rows.append(
            [
                stream,
                f"{b:.0%}",
                f"{statistics.fmean(r[7] for r in runs):.4g}",
                f"{statistics.fmean(r[4] for r in runs):.4g}",
                _pct(statistics.fmean(abs(r[4] - r[7]) / r[7] for r in runs)),
                f"{sum(r[5] <= r[7] <= r[6] for r in runs)}/{len(runs)}",
            ]
        )
    header = ["stream", "budget", "true MAE", "estimate", "mean relative error (%)"]
    return markdown_table([*header, "true in 95 % CI"], rows)


def model_table(raw: dict, streams: list[str], seeds: tuple, choice: dict) -> str:
    """Per candidate model: its best strategy, MAE relative to the best, random and full."""
    rows = []
    for m, r in choice["rows"].items():
        s = summarise(raw, streams, CRITERIA_BUDGETS, seeds, m)
        row = s["criteria"][r["strategy"]]
        full = statistics.fmean(
            s["full"][st]["mae"] / s["cells"][st, 0.1, "random"]["mae"] for st in streams
        )
        rows.append(
            [
                ("**" + _short(m) + "**") if m == choice["model"] else _short(m),
                r["strategy"],
                f"{r['relative']:.3f}",
                " / ".join(f"{row['wins', b]}" for b in CRITERIA_BUDGETS),
                " / ".join(f"{100 * row['reduction', b]:+.1f}" for b in CRITERIA_BUDGETS),
                f"{full:.3f}",
                "yes" if r["finite"] else "**no**",
            ]
        )
    header = [
        "model (behind the numeric/text front)",
        "its best strategy",
        "MAE / best model's @5–10 %",
        f"wins of {len(streams)} @5 / 10 %",
        "reduction vs random @5 / 10 %",
        "full-label MAE / random @10 %",
        "every run finite",
    ]
    return markdown_table(header, rows)


def leave_one_out(raw: dict, streams: list[str], seeds: tuple, models: tuple) -> str:
    """Would the same default be chosen without each stream? One line per stream left out."""
    lines = []
    for out in streams if len(streams) > 1 else ():
        rest = [s for s in streams if s != out]
        c = choose(raw, rest, seeds, models)
        lines.append(f"- without {out}: `{_short(c['model'])}` with `{c['strategy']}`")
    return "\n".join(lines)


def strategy_leave_one_out(summary: dict, streams: list[str]) -> str:
    """The rule of largest mean reduction over random at 5-10 % without each stream."""
    rules = [
        k
        for k, row in summary["criteria"].items()
        if k not in ("random", "periodic") and "[" not in k and ("wins", 0.05) in row
    ]

    def mean_reduction(rule: str, kept: list[str]) -> float:
        cells = summary["cells"]
        return statistics.fmean(
            cells[s, b, rule]["reduction"] for s in kept for b in CRITERIA_BUDGETS
        )

    lines = []
    # A variants-only run has no rule of the main grid to rank.
    for out in streams if len(streams) > 1 and rules else ():
        kept = [s for s in streams if s != out]
        ranked = sorted(rules, key=lambda r: -mean_reduction(r, kept))
        lines.append(
            f"- without {out}: `{ranked[0]}` ({100 * mean_reduction(ranked[0], kept):+.1f} %; "
            f"then `{ranked[1]}` {100 * mean_reduction(ranked[1], kept):+.1f} %)"
            if len(ranked) > 1
            else f"- without {out}: `{ranked[0]}`"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short stream, one seed")
    parser.add_argument(
        "--streams", metavar="NAMES", help="comma-separated, of: " + ", ".join(STREAMS)
    )
    parser.add_argument(
        "--events", type=int, default=FULL_EVENTS, help="events per synthetic stream"
    )
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="seeds 0 … N-1")
    parser.add_argument("--budgets", help="comma-separated budgets of the main grid")
    parser.add_argument("--model", default=DEFAULT_REGRESSOR, help="the model of the main grid")
    parser.add_argument(
        "--strategies",
        metavar="NAMES",
        help="comma-separated strategies or variants "
        "(name[option=value,…]) of the main grid (default: every one the model serves)",
    )
    parser.add_argument(
        "--variants",
        metavar="NAMES",
        help="strategies or variants (name[option=value,…]) run at 5 and 10 %% only, "
        f"on the main model (default: {','.join(VARIANTS)})",
    )
    parser.add_argument("--skip-models", action="store_true", help="skip the model comparison")
    parser.add_argument(
        "--skip-full", action="store_true", help="no full-label runs (in a variants-only run)"
    )
    parser.add_argument("--model-seeds", type=int, default=3, help="seeds of the model comparison")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--reuse", metavar="JSON", help="raw runs of an earlier invocation")
    add_output_arguments(parser)
    parser.set_defaults(results=str(BENCHMARKS / "RESULTS_regression.md"))
    args = parser.parse_args(argv)  # fmt: skip
    results = Path(args.results) if args.results else None
    env = environment()

    if args.quick:
        streams, n, seeds, budgets = ["Friedman gra"], 600, (0,), (0.05, 0.10)
        model_seeds, models = (0,), (args.model,)
    else:
        streams, n, seeds, budgets = list(STREAMS), args.events, tuple(range(args.seeds)), BUDGETS
        model_seeds, models = tuple(range(args.model_seeds)), MODELS
    if args.streams:
        streams = [s.strip() for s in args.streams.split(",") if s.strip()]
        unknown = [s for s in streams if s not in STREAMS]
        if unknown:
            parser.error(f"--streams: unknown {unknown}; known: {', '.join(STREAMS)}")
    if args.budgets:
        budgets = tuple(float(b) for b in args.budgets.split(","))
    if args.skip_models:
        models = ()
    strategies = (
        re.split(r",(?![^\[]*\])", args.strategies)
        if args.strategies
        else strategies_of(args.model)
    )
    if "random" not in strategies:
        strategies.insert(0, "random")

    started = time.perf_counter()
    for stream, seed in itertools.product(streams, sorted({*seeds, *model_seeds})):
        _ROWS[stream, seed] = STREAMS[stream][1](n, seed)
    tasks = [
        (stream, seed, strategy, b, args.model)
        for stream, seed, strategy, b in itertools.product(streams, seeds, strategies, budgets)
    ]
    variants = [] if args.quick else list(VARIANTS)
    if args.variants is not None:
        variants = [v for v in re.split(r",(?![^\[]*\])", args.variants) if v]
    tasks += [
        (stream, seed, v, b, args.model)
        for stream, seed, v, b in itertools.product(streams, seeds, variants, CRITERIA_BUDGETS)
    ]
    if not args.skip_full:
        tasks += [(stream, seed, FULL, 1.0, args.model) for stream in streams for seed in seeds]
    for m in models:
        for stream, seed in itertools.product(streams, model_seeds):
            tasks += [(stream, seed, s, b, m) for s in strategies_of(m) for b in CRITERIA_BUDGETS]
            tasks.append((stream, seed, FULL, 1.0, m))
    tasks = list(dict.fromkeys(tasks))
    raw_path = Path(args.plots) / (
        "quality_regression_quick.json" if args.quick else "quality_regression_raw.json"
    )
    reused = load_runs(Path(args.reuse)) if args.reuse else {}
    todo = [t for t in tasks if t not in reused]
    raw = {t: reused[t] for t in tasks if t in reused} | run_all(todo, max(1, args.jobs))
    save_runs(reused | raw, raw_path)
    elapsed = time.perf_counter() - started
    runs_note = f"{len(todo)} runs in {elapsed:.0f} s on {args.jobs} workers" + (
        f" ({len(tasks) - len(todo)} more reused)" if len(tasks) > len(todo) else ""
    )

    summary = summarise(raw, streams, budgets, seeds, args.model)
    not_finite = [k for k, c in summary["cells"].items() if not c["finite"]]
    streams_text = markdown_table(
        ["stream", "kind", "events"],
        [[s, STREAMS[s][0], f"{len(_ROWS[s, seeds[0]]):,}"] for s in streams],
    )
    grid = grid_tables(summary, streams, budgets)
    default = EngineSettings(args.model, task="regression").strategy
    criteria = criteria_table(summary, streams, budgets)
    print(grid, criteria, sep="\n\n")
    models_text = ""
    if models:
        choice = choose(raw, streams, model_seeds, models)
        models_text = (
            f"### Candidate models at 5 and 10 % ({len(model_seeds)} seeds)\n\n"
            f"{model_table(raw, streams, model_seeds, choice)}\n\n"
            f"Chosen on all streams: `{_short(choice['model'])}` with "
            f"`{choice['strategy']}`. Leave one stream out:\n\n"
            f"{leave_one_out(raw, streams, model_seeds, models)}\n"
        )
        print(models_text)
    print(f"{runs_note}; non-finite cells: {len(not_finite)}")
    body = (
        f"Model `{args.model}` for every strategy; budgets "
        f"{', '.join(f'{b:.0%}' for b in budgets)}; seeds {', '.join(map(str, seeds))} (the "
        f"decider's, and the synthetic streams'); no label delay; replay batch size 16; full "
        f"labels = `{FULL}` at budget 1. {runs_note}. Cells with a non-finite MAE, RMSE or "
        f"R²: {len(not_finite)}.\n\n{streams_text}\n\n"
        f"### Criteria (issue 15): streams with a lower MAE than random, mean over streams of "
        f"1 − MAE/MAE_random, worst |spent − budget| over streams\n\n{criteria}\n\n"
        f"The rule of largest mean reduction at 5 and 10 % without each stream:\n\n"
        f"{strategy_leave_one_out(summary, streams)}\n\n"
        f"### Per stream\n\n{grid}\n\n"
        f"### The deployed-error estimate of `{default}` (streamal.deployed_error)\n\n"
        f"At the end of each run, against the true MAE over the estimator's window (10,000 "
        f"events, exponential):\n\n"
        f"{deployed_error_table(raw, streams, budgets, seeds, args.model, default)}\n\n"
        f"{models_text}\nRaw runs: `results/{raw_path.name}`.\n"
    )
    title = "Regression quality (quick)" if args.quick else "Regression quality"
    write_section(results, title, body, env)
    return {"summary": summary, "raw": raw}


if __name__ == "__main__":
    main()
