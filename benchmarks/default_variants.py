"""The default strategy's variants on the quality streams, over more seeds than its grid.

The quality grid runs five seeds, too few to tell a change of a few tenths of a
point on the mean from seed noise; its variants table runs at 5 and 10 % only.
This runs the named variants (``strategy[param=value,…]``, as the grid names
them) on every stream of :mod:`quality` at every budget for as many seeds as
asked, and gives per budget the mean accuracy over streams and seeds, the
standard error of its difference from the first variant (over the seeds' means
across streams, paired), the streams where a variant beats the first, and the
worst gap between what a variant spent and the budget.

    python benchmarks/default_variants.py --seeds 10
"""

from __future__ import annotations

import argparse
import itertools
import statistics
from pathlib import Path

import quality
from results_md import add_output_arguments, environment, markdown_table, write_section

from streamal.decider import DEFAULT_STRATEGY
from streamal.model import DEFAULT_MODEL

#: the default, and the default without paying back owed labels (benchmarks/RESULTS.md,
#: "Paying back owed labels")
VARIANTS = (f"{DEFAULT_STRATEGY}[catch_up=0]", DEFAULT_STRATEGY)


def rows(runs: dict, variants: list[str], streams: list[str], budgets: tuple, seeds: range):
    """One table row per variant and budget, from ``runs``: task → (accuracy, spent, …).

    >>> runs = {("s", k, v, 0.1, DEFAULT_MODEL): (a, sp, None)
    ...         for k, v, a, sp in [(0, "a", 0.5, 0.09), (1, "a", 0.7, 0.1),
    ...                             (0, "b", 0.6, 0.1), (1, "b", 0.7, 0.1)]}
    >>> for row in rows(runs, ["a", "b"], ["s"], (0.1,), range(2)):
    ...     print(row)
    ['`a`', '10%', '60.00', '—', '—', '0.50']
    ['`b`', '10%', '65.00', '+5.00 ± 5.00', '1/1', '0.00']
    """

    def acc(v: str, st: str, b: float, s: int) -> float:
        return runs[st, s, v, b, DEFAULT_MODEL][0]

    def spent(v: str, st: str, b: float) -> float:
        return statistics.mean(runs[st, s, v, b, DEFAULT_MODEL][1] for s in seeds)

    out = []
    for v, b in itertools.product(variants, budgets):
        mean = statistics.mean(acc(v, st, b, s) for st in streams for s in seeds)
        first = variants[0]
        if v == first:
            diff, wins = "—", "—"
        else:
            gain, se = quality.mean_se(
                [
                    statistics.mean(acc(v, st, b, s) - acc(first, st, b, s) for st in streams)
                    for s in seeds
                ]
            )
            diff = f"{100 * gain:+.2f} ± {100 * se:.2f}"
            beats = sum(
                statistics.mean(acc(v, st, b, s) for s in seeds)
                > statistics.mean(acc(first, st, b, s) for s in seeds)
                for st in streams
            )
            wins = f"{beats}/{len(streams)}"
        worst = max(abs(spent(v, st, b) - b) for st in streams)
        out.append([f"`{v}`", f"{b:.0%}", f"{100 * mean:.2f}", diff, wins, f"{100 * worst:.2f}"])
    return out


def main(argv: list[str] | None = None) -> list[list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variants",
        default=";".join(VARIANTS),
        help="';'-separated variants, the first the reference (default: %(default)s)",
    )
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budgets", default=",".join(f"{b:g}" for b in quality.BUDGETS))
    parser.add_argument("--events", type=int, default=quality.FULL_EVENTS)
    parser.add_argument("--streams", help="comma-separated streams (default: all)")
    parser.add_argument("--jobs", type=int, default=2)
    add_output_arguments(parser)
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(";") if v.strip()]
    streams = args.streams.split(",") if args.streams else list(quality.STREAMS)
    unknown = [s for s in streams if s not in quality.STREAMS]
    if unknown or args.seeds < 1:
        parser.error(f"unknown streams {unknown}" if unknown else "--seeds must be at least 1")
    budgets = tuple(float(b) for b in args.budgets.split(","))
    seeds = range(args.seeds)
    env = environment()
    for stream, seed in itertools.product(streams, seeds):
        quality._ROWS[stream, seed] = quality.STREAMS[stream][1](args.events, seed)
    tasks = [
        (st, s, v, b, DEFAULT_MODEL)
        for st, s, v, b in itertools.product(streams, seeds, variants, budgets)
    ]
    runs = quality.run_all(tasks, max(1, args.jobs))
    table = rows(runs, variants, streams, budgets, seeds)
    head = [
        "variant",
        "budget",
        "accuracy %",
        f"vs `{variants[0]}` (pt) ± se",
        "wins",
        "worst |spent − budget| (pt)",
    ]
    text = markdown_table(head, table)
    print(text)
    write_section(
        Path(args.results) if args.results else None,
        "Default strategy variants over more seeds",
        f"{len(streams)} streams of the quality grid ({args.events} events at most), seeds "
        f"0–{args.seeds - 1}, the default model, replay batch size "
        f"{quality._default_batch_size()}. Accuracy: mean over streams and seeds. The "
        "difference from the first variant is paired by seed (mean over streams per seed; "
        "± its standard error over the seeds); wins: streams where the variant's mean over "
        "the seeds is higher; the worst spending gap is over the streams' means of the "
        f"seeds.\n\n{text}\n",
        env,
    )
    return table


if __name__ == "__main__":
    main()
