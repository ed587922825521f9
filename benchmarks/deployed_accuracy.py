"""Deployed-accuracy estimate against the truth, on stationary and drifting streams.

The daemon cannot know how often its predictions are right: it sees labels
only for the events it chose to ask about, the ones its model is least sure
of. ``streamal.deployed_accuracy`` estimates the accuracy on all events from
those labels; this benchmark replays streams with the default strategy,
model and budget, and compares the estimate with the true accuracy of the
predictions over the same exponential window, after 500 labels and at the
end, beside the accuracy of the labeled queries alone (what the old metric
showed).

    python benchmarks/deployed_accuracy.py [--seeds 5] [--events 20000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # quality, results_md from anywhere
from quality import STREAMS
from results_md import add_output_arguments, environment, markdown_table, write_section

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


def _one(task: tuple[str, int, int]) -> tuple[str, int, list[list[float]]]:
    stream, seed, events = task
    rows = STREAMS[stream][1](events, seed)
    result = replay(rows, ReplaySetup(EngineSettings(budget=BUDGET, seed=seed), curve_points=200))
    return stream, seed, result.estimates


def at_labels(estimates: list[list[float]], labels: int) -> list[float]:
    """The first point with at least ``labels`` labels (the last if the run spent fewer)."""
    return next((p for p in estimates if p[1] >= labels), estimates[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=2)
    add_output_arguments(parser)
    args = parser.parse_args()
    env = environment()
    tasks = [(s, seed, args.events) for s in CHOSEN for seed in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(_one, tasks))
    rows = []
    all_errors = []
    for stream in CHOSEN:
        mine = [estimates for s, _, estimates in runs if s == stream]
        for when, label in (("500 labels", LABELS), ("end", None)):
            points = [at_labels(e, LABELS) if label else e[-1] for e in mine]
            errors = [100 * (p[2] - p[5]) for p in points]
            covered = sum(p[3] <= p[5] <= p[4] for p in points)
            if label:
                all_errors += errors
            rows.append(
                [
                    stream,
                    when,
                    f"{statistics.mean(p[1] for p in points):.0f}",
                    f"{100 * statistics.mean(p[5] for p in points):.1f}",
                    f"{100 * statistics.mean(p[2] for p in points):.1f}",
                    f"{statistics.mean(abs(e) for e in errors):.1f}",
                    f"{max(abs(e) for e in errors):.1f}",
                    f"{covered}/{len(points)}",
                ]
            )
    table = markdown_table(
        ["stream", "when", "labels", "true %", "estimate %", "mean |error| (pt)",
         "max |error| (pt)", "true in 95 % CI"],
        rows,
    )  # fmt: skip
    within = sum(abs(e) <= 2.0 for e in all_errors)
    body = (
        f"Default strategy and model, budget {BUDGET:.0%}, {args.events} events, "
        f"{args.seeds} seeds per stream. 'true' is the accuracy of the predictions over the "
        "estimator's own exponential window (10,000 events).\n\n"
        f"{table}\n\nAfter {LABELS} labels the estimate is within 2 points of the truth in "
        f"{within} of {len(all_errors)} runs (mean |error| "
        f"{statistics.mean(abs(e) for e in all_errors):.2f} points).\n"
    )
    print(body)
    write_section(Path(args.results) if args.results else None, "Deployed accuracy", body, env)


if __name__ == "__main__":
    main()
