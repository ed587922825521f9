"""Deployed-accuracy estimate against the truth, on stationary and drifting streams.

The daemon cannot know how often its predictions are right: it sees labels
only for the events it chose to ask about, the ones its model is least sure
of. ``streamal.deployed_accuracy`` estimates the accuracy on all events from
those labels; this benchmark replays streams with the default strategy,
model and budget, and compares the estimate with the true accuracy of the
predictions over the same exponential window, after 500 labels and at the
end. The yardstick is what a uniform random sample of as many labels would
give: its standard error ``√(a (1 - a) / m)``, which no estimate from ``m``
answers can be expected to beat by much.

    python benchmarks/deployed_accuracy.py [--seeds 5] [--events 20000]
        [--shares 0,0.1,0.2,0.3,0.4]

With ``--shares`` it also weighs the bandit's random share, the part of the
budget asked at random on which the estimate rests, against the model's
accuracy: the estimate's error against what the random labels cost.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # quality, results_md from anywhere
from quality import STREAMS, decider_options, parse_variant, settings_options
from results_md import add_output_arguments, environment, markdown_table, write_section

from streamal.decider import DEFAULT_STRATEGY
from streamal.decider.strategies.bandit import RANDOM_SHARE
from streamal.replay import ReplaySetup, replay
from streamal.settings import EngineSettings

#: streams without drift, and with each kind of drift
CHOSEN = (
    "Bananas",
    "Shuttle",
    "SEA abrupt",
    "Agrawal gradual",
    "Hyperplane incremental",
    "RBF gradual",
)
LABELS = 500
BUDGET = 0.1


def _one(task: tuple[str, int, int, str]) -> tuple[str, int, list[list[float]], float]:
    stream, seed, events, variant = task
    rows = STREAMS[stream][1](events, seed)
    strategy, options = parse_variant(variant)
    engine = settings_options(options)
    with decider_options(options):
        settings = EngineSettings(strategy=strategy, budget=BUDGET, seed=seed, **engine)
        result = replay(rows, ReplaySetup(settings, curve_points=200))
    return stream, seed, result.estimates, result.accuracy


def at_labels(estimates: list[list[float]], labels: int) -> list[float]:
    """The first point with at least ``labels`` labels (the last if the run spent fewer)."""
    return next((p for p in estimates if p[1] >= labels), estimates[-1])


def _errors_at(runs: list, labels: int) -> list[float]:
    """Estimate minus truth, in points, at the first point with ``labels`` labels of each run."""
    return [100 * (p[2] - p[5]) for p in (at_labels(e, labels) for _, _, e, _ in runs)]


def _table(runs: list) -> str:
    rows = []
    for stream in CHOSEN:
        mine = [estimates for s, _, estimates, _ in runs if s == stream]
        for when, label in (("500 labels", LABELS), ("end", None)):
            points = [at_labels(e, LABELS) if label else e[-1] for e in mine]
            errors = [100 * (p[2] - p[5]) for p in points]
            covered = sum(p[3] <= p[5] <= p[4] for p in points)
            sample = [100 * math.sqrt(p[5] * (1 - p[5]) / max(p[1], 1)) for p in points]
            rows.append(
                [
                    stream,
                    when,
                    f"{statistics.mean(p[1] for p in points):.0f}",
                    f"{100 * statistics.mean(p[5] for p in points):.1f}",
                    f"{100 * statistics.mean(p[2] for p in points):.1f}",
                    f"{statistics.mean(abs(e) for e in errors):.1f}",
                    f"{max(abs(e) for e in errors):.1f}",
                    f"{statistics.mean(sample):.1f}",
                    f"{covered}/{len(points)}",
                ]
            )
    return markdown_table(
        ["stream", "when", "labels", "true %", "estimate %", "mean |error| (pt)",
         "max |error| (pt)", "random sample's SE (pt)", "true in 95 % CI"],
        rows,
    )  # fmt: skip


def _summary(runs: list) -> tuple[int, int, float, float, float]:
    """Runs within 2 points after 500 labels, runs, mean |error|, mean accuracy, share in CI."""
    errors = _errors_at(runs, LABELS)
    covered = [p[3] <= p[5] <= p[4] for p in (at_labels(e, LABELS) for _, _, e, _ in runs)]
    return (
        sum(abs(e) <= 2.0 for e in errors),
        len(errors),
        statistics.mean(abs(e) for e in errors),
        statistics.mean(100 * a for *_, a in runs),
        sum(covered) / len(covered),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--shares",
        default="0,0.1,0.2,0.3,0.4",
        help="the bandit's random shares to weigh against each other ('' for none)",
    )
    add_output_arguments(parser)
    args = parser.parse_args()
    env = environment()
    shares = [float(x) for x in args.shares.split(",") if x.strip()]
    # The default's own share is the default run.
    swept = [
        DEFAULT_STRATEGY if x == RANDOM_SHARE else f"{DEFAULT_STRATEGY}[random_share={x:g}]"
        for x in shares
    ]
    variants = list(dict.fromkeys([DEFAULT_STRATEGY, *swept]))
    tasks = [
        (stream, seed, args.events, variant)
        for variant in variants
        for stream in CHOSEN
        for seed in range(args.seeds)
    ]
    with ProcessPoolExecutor(args.jobs) as pool:
        done = list(pool.map(_one, tasks))
    runs = {v: [r for t, r in zip(tasks, done, strict=True) if t[3] == v] for v in variants}
    within, count, error, accuracy, _ = _summary(runs[DEFAULT_STRATEGY])
    body = (
        f"Default strategy (`{DEFAULT_STRATEGY}`, random share {RANDOM_SHARE:g}) and model, "
        f"budget {BUDGET:.0%}, {args.events} events, {args.seeds} seeds per stream. 'true' is "
        "the accuracy of the predictions over the estimator's own exponential window "
        f"(10,000 events).\n\n{_table(runs[DEFAULT_STRATEGY])}\n\nAfter {LABELS} labels "
        f"the estimate is within 2 points of the truth in {within} of {count} runs (mean "
        f"|error| {error:.2f} points). Prequential accuracy over the runs: {accuracy:.2f} %.\n"
    )
    if shares:
        rows = []
        for share, variant in zip(shares, swept, strict=True):
            within, count, error, accuracy, covered = _summary(runs[variant])
            rows.append(
                [f"{share:g}", f"{error:.2f}", f"{within}/{count}", f"{covered:.0%}",
                 f"{accuracy:.2f}"]
            )  # fmt: skip
        table = markdown_table(
            ["random share", "mean |error| (pt)", "within 2 pt", "true in 95 % CI",
             "accuracy %"],
            rows,
        )  # fmt: skip
        body += (
            "\nThe random share against the estimate's error after 500 labels and the "
            f"model's prequential accuracy (the same streams and seeds):\n\n{table}\n"
        )
    print(body)
    write_section(Path(args.results) if args.results else None, "Deployed accuracy", body, env)


if __name__ == "__main__":
    main()
