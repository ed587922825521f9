"""Replay events/s against river's ``progressive_val_score`` with an ``EntropySampler``.

Both sides run the same river model on the same binary stream (a rotating
hyperplane, ``synth.Hyperplane``) in the same process, interleaved repeat by
repeat so that a busy neighbour slows both alike; the ratio of their median
times is the headline. river's side is its canonical active-learning loop::

    evaluate.progressive_val_score(stream, active.EntropySampler(model), metrics.Accuracy())

streamal's side is :func:`streamal.replay.replay` (engine, decider, pending
queries, simulated oracle with no delay) at several ``batch_size``: labels are
learned at batch boundaries, so a larger batch is cheaper per event but its
predictions are staler. Two streamal runs per setting:

* ``entropy`` at the budget river's sampler happened to spend (same rule,
  same number of labels, so the same learning work);
* the default strategy at a 10 % budget, what a user gets out of the box.

Learning dominates the cost of a model, so the labels each side used are
reported next to its rate.

Both sides start from the same model, already trained on the 200 events that
precede the measured stream: river's sampler asks with probability
``H(p̂)^3`` and a fresh Hoeffding tree predicts nothing (``{}``, entropy 0), so
from a cold start river would never ask, never learn and score nothing.

Last, ``streamal replay --strategy all`` at four budgets is timed as a user runs it
(a subprocess) on a CSV of 100,000 events of the same stream, once per model: every
strategy the model can run × every budget, the input read and parsed once for all runs.

Run ``python benchmarks/replay_throughput.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import copy
import csv
import itertools
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_md import (
    add_output_arguments,
    environment,
    markdown_table,
    write_section,
)
from river import active, base, evaluate, metrics
from river.datasets import synth

from streamal.decider import DEFAULT_STRATEGY
from streamal.model import DEFAULT_MODEL, Model
from streamal.replay import ReplaySetup, Row, replay
from streamal.settings import EngineSettings

MODELS = {
    "default": DEFAULT_MODEL,
    "mini-batch": "preprocessing.StandardScaler() | linear_model.LogisticRegression()",
}
BATCH_SIZES = (1, 16, 64, 256, 1024)
#: binary streams of the quality benchmark used for the batch-size sweep
SWEEP_STREAMS = ["Phishing", "Bananas", "SEA abrupt", "Agrawal gradual", "Hyperplane incremental"]
#: events the model learns before the measured stream (see the module docstring)
WARM_UP = 200
#: the multi-run replay timed by :func:`all_strategies`: its events, budgets and workers
ALL_EVENTS = 100_000
ALL_BUDGETS = "0.01,0.05,0.1,0.2"
ALL_JOBS = 2


class CountingEntropySampler(active.EntropySampler):
    """river's EntropySampler, counting the labels it learns (and surviving a river bug)."""

    def __init__(self, classifier, discount_factor: float = 3, seed=None):
        super().__init__(classifier, discount_factor=discount_factor, seed=seed)
        self.labels = 0

    def _p(self, y_pred):
        # river divides by log2(number of non-zero classes) and raises ZeroDivisionError when
        # a single class has 0 < p < 1 (a tree leaf's unnormalised votes); that row is certain.
        try:
            return super()._p(y_pred)
        except ZeroDivisionError:
            return 0.0

    def learn_one(self, x, y, **kwargs):
        self.labels += 1
        self.classifier.learn_one(x, y)


def stream(n: int, seed: int = 42) -> list[tuple[dict, bool]]:
    """A binary stream with gradual drift: 10 features, 5 of them drifting.

    Features are renamed ``x0``…``x9``: river's generator names them by int, and
    streamal's mini-batch path cannot take int column names (see RESULTS.md).
    """
    data = synth.Hyperplane(seed=seed, n_features=10, n_drift_features=5, mag_change=0.001)
    return [({f"x{k}": v for k, v in x.items()}, y) for x, y in itertools.islice(data, n)]


def warm_model(spec: str, pairs: list[tuple[dict, bool]]) -> base.Classifier:
    """The model of ``spec`` after learning ``pairs``."""
    model = Model(spec).estimator
    for x, y in pairs:
        model.learn_one(x, y)
    return model


def river_run(pairs: list[tuple[dict, bool]], model: base.Classifier) -> tuple[float, float, int]:
    """Seconds, accuracy and labels of river's progressive validation with an EntropySampler."""
    model = CountingEntropySampler(copy.deepcopy(model), seed=0)
    started = time.perf_counter()
    metric = evaluate.progressive_val_score(pairs, model, metrics.Accuracy())
    return time.perf_counter() - started, metric.get(), model.labels


def streamal_run(rows: list[Row], setup: ReplaySetup) -> tuple[float, float, int]:
    """Seconds, accuracy and labels of a streamal replay."""
    started = time.perf_counter()
    result = replay(rows, setup)
    return time.perf_counter() - started, result.accuracy, result.labels


def all_strategies(events: int) -> tuple[str, list[list[str]]]:
    """Time ``streamal replay --strategy all --budget ALL_BUDGETS`` on a CSV, per model.

    Returns the command (with ``SPEC`` for the model) and a table row per model:
    runs, wall time of the whole command (start-up and reading the input included)
    and the time of its runs as the command reports it.
    """
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "hyperplane.csv"
        with path.open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow([f"x{k}" for k in range(10)] + ["y"])
            # 0/1 labels: a CSV's text "False" would be a class name, which river reads as true.
            out.writerows([*x.values(), int(y)] for x, y in stream(events))
        options = ["--strategy", "all", "--budget", ALL_BUDGETS, "--jobs", str(ALL_JOBS)]
        for name, spec in MODELS.items():
            command = [sys.executable, "-m", "streamal", "replay", str(path), "--model", spec]
            started = time.perf_counter()
            done = subprocess.run(
                [*command, *options, "--no-progress"], capture_output=True, text=True, check=True
            )
            wall = time.perf_counter() - started
            n, runs, seconds = re.search(
                r"(\d+) events × (\d+) runs in ([\d.]+) s", done.stderr
            ).groups()
            rows.append(
                [name, runs, f"{int(n):,}", f"{wall:.1f}", seconds,
                 f"{int(n) * int(runs) / wall:,.0f}"]
            )  # fmt: skip
    shown = f"streamal replay hyperplane.csv --model SPEC {' '.join(options)} --no-progress"
    return shown, rows


def batch_size_sweep(
    events: int, batch_sizes: tuple[int, ...], streams: list[str]
) -> dict[tuple[str, str, int], tuple[float, float]]:
    """``(model, stream, batch) → (events/s, accuracy)`` of the default strategy at 10 %.

    The streams are the binary ones of the quality benchmark (the mini-batch
    logistic regression is binary), cold-started as a user's replay would be.
    """
    from quality import STREAMS

    out = {}
    for stream_name in streams:
        rows = STREAMS[stream_name][1](events, 0)
        for (name, spec), b in itertools.product(MODELS.items(), batch_sizes):
            result = replay(rows, ReplaySetup(EngineSettings(spec), batch_size=b))
            out[name, stream_name, b] = (result.events_per_second, result.accuracy)
    return out


def plot(numbers: dict, sweep: dict, batch_sizes: tuple, path: Path) -> None:
    """Speed-up over river and accuracy against the replay batch size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (speed, accuracy) = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    for name in MODELS:
        for strategy in ("entropy", DEFAULT_STRATEGY):
            ratios = [numbers[name][strategy, b][3] for b in batch_sizes]
            speed.plot(batch_sizes, ratios, marker="o", label=f"{name}: {strategy}")
        streams = sorted({k[1] for k in sweep if k[0] == name})
        for stream_name in streams:
            ys = [100 * sweep[name, stream_name, b][1] for b in batch_sizes]
            accuracy.plot(
                batch_sizes,
                ys,
                marker="o",
                ls="-" if name == "default" else "--",
                label=f"{name}: {stream_name}",
            )
    speed.axhline(3.0, color="grey", ls=":", label="goal 3×")
    speed.axhline(1.0, color="black", lw=0.8)
    speed.set(xscale="log", xlabel="replay batch size", ylabel="× river (time ratio)")
    speed.set_title("Replay vs river progressive_val_score + EntropySampler")
    accuracy.set(xscale="log", xlabel="replay batch size", ylabel="prequential accuracy %")
    accuracy.set_title(f"{DEFAULT_STRATEGY} @ 10 %: staleness cost")
    for ax in (speed, accuracy):
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short stream, one repeat")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    add_output_arguments(parser)
    args = parser.parse_args(argv)
    results = Path(args.results) if args.results else None
    env = environment()
    n = 1_000 if args.quick else args.events
    repeats = 1 if args.quick else args.repeats
    batch_sizes = (1, 64) if args.quick else BATCH_SIZES

    warm, pairs = stream(WARM_UP)[:WARM_UP], stream(WARM_UP + n)[WARM_UP:]
    rows = [Row(id=str(i), x=x, ts=float(i), y=y) for i, (x, y) in enumerate(pairs)]
    replay(rows[:100], ReplaySetup(EngineSettings("naive_bayes.GaussianNB()")))  # warm-up

    lines = []
    numbers: dict = {}
    for name, spec in MODELS.items():
        model = warm_model(spec, warm)
        river_times: list[float] = []
        river_accuracy, river_labels = 0.0, 0
        ours: dict[tuple[str, int], list[tuple[float, float, int]]] = {}
        for _ in range(repeats):
            seconds, river_accuracy, river_labels = river_run(pairs, model)
            river_times.append(seconds)
            matched = max(river_labels / n, 1e-3)
            for b in batch_sizes:
                for strategy, budget in (("entropy", matched), (DEFAULT_STRATEGY, 0.1)):
                    # ReplaySetup takes a spec string; Model() also accepts an estimator,
                    # which is how both sides start from the same warm model.
                    warm_copy = copy.deepcopy(model)
                    setup = ReplaySetup(
                        EngineSettings(warm_copy, strategy, min(budget, 1.0)), batch_size=b
                    )
                    ours.setdefault((strategy, b), []).append(streamal_run(rows, setup))
        river_seconds = statistics.median(river_times)
        numbers[name] = {"river": (n / river_seconds, river_accuracy, river_labels)}
        lines.append(
            [
                name,
                "river EntropySampler",
                "—",
                f"{n / river_seconds:,.0f}",
                "1.00×",
                f"{river_accuracy:.2%}",
                f"{river_labels} ({river_labels / n:.1%})",
            ]
        )
        for (strategy, b), runs in ours.items():
            seconds = statistics.median(r[0] for r in runs)
            _, accuracy, labels = runs[-1]
            ratio = river_seconds / seconds
            numbers[name][strategy, b] = (n / seconds, accuracy, labels, ratio)
            budget = f"{labels / n:.1%}" if strategy == "entropy" else "10%"
            lines.append(
                [
                    name,
                    f"streamal {strategy} @ {budget}",
                    str(b),
                    f"{n / seconds:,.0f}",
                    f"{ratio:.2f}×",
                    f"{accuracy:.2%}",
                    f"{labels} ({labels / n:.1%})",
                ]
            )
    header = ["model", "run", "batch", "events/s", "× river", "accuracy", "labels"]
    text = markdown_table(header, lines)
    print(text)
    models = "; ".join(f"{k}: `{v}`" for k, v in MODELS.items())
    note = (
        f"{n:,} events of `synth.Hyperplane(seed=42, n_features=10, n_drift_features=5)`, "
        f"after {WARM_UP} warm-up events that both sides' model learned first, no label "
        f"delay, median of {repeats} interleaved repeats; events/s is wall time of the whole"
        f" prequential run (predict, decide, learn, score). Models: {models}. "
        "`× river` is river's time over streamal's (higher is faster). The `entropy` runs "
        "use the fraction of labels river's sampler spent as their budget, so both sides "
        "learn about as many labels. Goal: ≥ 3×."
    )
    sweep_streams = SWEEP_STREAMS[:1] if args.quick else SWEEP_STREAMS
    sweep = batch_size_sweep(min(n, 10_000), batch_sizes, sweep_streams)
    sweep_lines = []
    for name in MODELS:
        for stream_name in sweep_streams:
            cells = [sweep[name, stream_name, b] for b in batch_sizes]
            sweep_lines.append(
                [name, stream_name, *[f"{100 * a:.2f} ({r:,.0f}/s)" for r, a in cells]]
            )
        means = [
            statistics.mean(sweep[name, st, b][1] for st in sweep_streams) for b in batch_sizes
        ]
        sweep_lines.append([name, "**mean**", *[f"**{100 * m:.2f}**" for m in means]])
    sweep_text = markdown_table(
        ["model", "stream", *[f"batch {b}" for b in batch_sizes]], sweep_lines
    )
    print(sweep_text)
    png = Path(args.plots) / ("replay_quick.png" if args.quick else "replay_throughput.png")
    plot(numbers, sweep, batch_sizes, png)
    sweep_note = (
        f"### Accuracy (events/s) against the replay batch size\n\n`{DEFAULT_STRATEGY}` at 10 %, "
        f"seed 0, first {min(n, 10_000):,} events of each binary stream of the quality "
        "benchmark, cold start. Labels are learned at batch boundaries, so the batch size "
        f"is also the longest a label waits. Plot: `{png.name}`."
    )
    all_events = 2_000 if args.quick else ALL_EVENTS
    command, all_rows = all_strategies(all_events)
    all_text = markdown_table(
        ["model", "runs", "events", "wall s", "runs s", "events × runs / wall s"], all_rows
    )
    print(all_text)
    all_note = (
        f"### Every strategy at four budgets: `streamal replay --strategy all`\n\n"
        f"`{command}` on a CSV of the first {all_events:,} events of the stream above "
        f"(10 numeric features, 0/1 label); SPEC is each model. Every strategy the model can "
        f"run (committee rules need an ensemble) × budgets {ALL_BUDGETS}, on {ALL_JOBS} worker "
        "processes forked after the input was read and parsed, once for all runs. `wall s` is "
        "the whole command (start-up and reading included), `runs s` the runs alone, as the "
        "command reports them."
    )
    body = f"{note}\n\n{text}\n\n{sweep_note}\n\n{sweep_text}\n\n{all_note}\n\n{all_text}"
    write_section(results, "Replay throughput", body, env)
    return numbers


if __name__ == "__main__":
    main()
