"""Decisions per second of every strategy, at batch sizes 1, 64 and 1024, on one core.

The rows are Dirichlet(1, …, 1) class probabilities, binary and 5-class. Each
strategy decides the same rows under a budget of 10 % with its own default
budget manager and measure; a fresh decider per repeat, so every repeat does
the same work, after a warm-up call (which also loads numba's cache). The
median of the repeats is reported.

Two rates are given: through ``Decider.decide`` (what the engine calls; it
also allocates the outputs and checks the input) and through the compiled
``decide_batch`` kernel on preallocated arrays, which is the decision work
alone. river's ``active.EntropySampler._ask_for_label`` on dict rows, timed in
the same run, is the baseline of the ratio column.

Run ``python benchmarks/decider_throughput.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from results_md import (
    add_output_arguments,
    environment,
    markdown_table,
    write_section,
)
from river import active

from streamal.decider import STRATEGIES, Decider
from streamal.decider.kernel import decide_batch

BATCH_SIZES = (1, 64, 1024)
CLASS_COUNTS = (2, 5)
BUDGET = 0.1
#: the issue's goal for the threshold rules at batch 1024
GOAL = 50e6
#: rules that compare a score with a threshold (no per-event quantile window)
THRESHOLD_RULES = (
    "fixed_uncertainty",
    "variable_uncertainty",
    "randomized_variable_uncertainty",
    "split",
    "selective_sampling",
    "entropy",
)


def probability_rows(n: int, classes: int, seed: int = 0) -> np.ndarray:
    """``n`` rows of class probabilities, uniform over the simplex."""
    return np.random.default_rng(seed).dirichlet(np.ones(classes), size=n)


def _median_rate(run, events: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return events / statistics.median(times)


def side_inputs(decider: Decider, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The features (density and PAL rules) or committee rows (``qbc``) a rule needs."""
    rng = np.random.default_rng(7)
    inputs = {}
    if decider.needs_features:
        inputs["features"] = rng.normal(size=(len(rows), decider.n_features))
    if decider.needs_committee:
        inputs["committee"] = rng.dirichlet(np.ones(rows.shape[1]), size=(len(rows), 5))
    return inputs


def decider_rate(strategy: str, rows: np.ndarray, batch_size: int, repeats: int) -> float:
    """Decisions/s through ``Decider.decide``, batch by batch."""
    inputs = side_inputs(Decider(strategy, BUDGET), rows)
    batches = [
        (rows[i : i + batch_size], {k: v[i : i + batch_size] for k, v in inputs.items()})
        for i in range(0, len(rows), batch_size)
    ]
    Decider(strategy, BUDGET).decide(*batches[0][:1], **batches[0][1])  # warm-up: compile

    def run() -> None:
        decide = Decider(strategy, BUDGET, seed=1).decide
        for batch, extra in batches:
            decide(batch, **extra)

    return _median_rate(run, len(rows), repeats)


def kernel_rate(strategy: str, rows: np.ndarray, batch_size: int, repeats: int) -> float:
    """Decisions/s of the compiled threshold-rule kernel alone, outputs preallocated."""
    queried = np.zeros(batch_size, dtype=np.bool_)
    scores = np.empty(batch_size)
    batches = [rows[i : i + batch_size] for i in range(0, len(rows) - batch_size + 1, batch_size)]

    def run() -> None:
        d = Decider(strategy, BUDGET, seed=1)
        for batch in batches:
            decide_batch(batch, d.codes, d.params, d.state, d.rng, queried, scores)

    run()
    return _median_rate(run, len(batches) * batch_size, repeats)


def river_rate(rows: np.ndarray, repeats: int) -> float:
    """Decisions/s of river's EntropySampler on the same rows as ``{class: p}`` dicts."""
    sampler = active.EntropySampler(classifier=None, seed=1)
    dicts = [dict(enumerate(row.tolist())) for row in rows]
    ask = sampler._ask_for_label

    def run() -> None:
        for d in dicts:
            ask(None, d)

    run()
    return _median_rate(run, len(dicts), repeats)


def plot(table: dict, path: Path) -> None:
    """Decisions/s at batch 1024 per strategy, binary and 5-class, with the goal and river."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(STRATEGIES)
    fig, ax = plt.subplots(figsize=(11, 4.5), constrained_layout=True)
    width = 0.4
    for j, classes in enumerate(CLASS_COUNTS):
        rates = [table["decide"][s, classes, 1024] / 1e6 for s in names]
        ax.bar(
            [i + (j - 0.5) * width for i in range(len(names))],
            rates,
            width,
            label=f"{classes} classes",
        )
        ax.axhline(
            table["river"][classes] / 1e6,
            ls=":",
            color=f"C{j}",
            label=f"river EntropySampler, {classes} classes",
        )
    ax.axhline(GOAL / 1e6, color="red", ls="--", label="goal (threshold rules)")
    ax.set_xticks(range(len(names)), names, rotation=25, ha="right")
    ax.set_ylabel("M decisions/s at batch 1024 (one core)")
    ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _rate(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.1f} M"
    return f"{x / 1e3:.0f} k"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rows, few repeats")
    parser.add_argument("--repeats", type=int, default=7)
    add_output_arguments(parser)
    args = parser.parse_args(argv)
    results = Path(args.results) if args.results else None
    env = environment()
    repeats = 2 if args.quick else args.repeats
    # Enough events that a repeat takes ~0.1 s at the fast rates; batch 1 pays a Python
    # call per event, so fewer events keep it short.
    events = {1: 2_000, 64: 16_384, 1024: 65_536} if args.quick else {}
    events = events or {1: 50_000, 64: 524_288, 1024: 2_097_152}

    table: dict = {"river": {}, "decide": {}, "kernel": {}}
    for classes in CLASS_COUNTS:
        rows = probability_rows(max(events.values()), classes)
        table["river"][classes] = river_rate(rows[: events[1] * 4], repeats)
        for strategy in STRATEGIES:
            plain = Decider(strategy, BUDGET)
            # Density, PAL and committee rules run at 10⁴–10⁶/s: fewer events keep them short.
            # A meta-strategy's decision is its rules' plus its own: no one kernel to time.
            rich = plain.needs_features or plain.needs_committee or bool(plain.arms)
            for b in BATCH_SIZES:
                n = min(events[b], 16_384) if rich else events[b]
                table["decide"][strategy, classes, b] = decider_rate(strategy, rows[:n], b, repeats)
            if not rich:
                table["kernel"][strategy, classes] = kernel_rate(
                    strategy, rows[: events[1024]], 1024, repeats
                )

    header = ["strategy", "classes", *[f"decide @{b}" for b in BATCH_SIZES]]
    header += ["kernel @1024", "×river @1024", "≥ 50 M/s @1024"]
    lines = []
    for classes in CLASS_COUNTS:
        for strategy in STRATEGIES:
            at = [table["decide"][strategy, classes, b] for b in BATCH_SIZES]
            kernel = table["kernel"].get((strategy, classes))
            meets = "yes" if at[-1] >= GOAL else "no"
            if strategy not in THRESHOLD_RULES:
                meets += " (not a threshold rule)"
            lines.append(
                [
                    strategy,
                    str(classes),
                    *[_rate(x) for x in at],
                    _rate(kernel) if kernel is not None else "(rich kernel)",
                    f"{at[-1] / table['river'][classes]:.1f}×",
                    meets,
                ]
            )
        river = ["river EntropySampler", str(classes), _rate(table["river"][classes])]
        lines.append(river + [""] * (len(header) - len(river)))
    text = markdown_table(header, lines)
    print(text)
    note = (
        f"Decisions/s, median of {repeats} repeats, budget {BUDGET:.0%}, Dirichlet(1…1) rows; "
        "`decide @B` goes through `Decider.decide` in batches of B; `kernel @1024` calls the "
        "compiled `decide_batch` on preallocated outputs; river's EntropySampler decides one "
        "dict row per call (its `_ask_for_label`), so its rate is the same at any batch size. "
        f"Goal: ≥ {GOAL / 1e6:.0f} M decisions/s at batch 1024 for the threshold rules."
    )
    png = Path(args.plots) / ("decider_quick.png" if args.quick else "decider_throughput.png")
    plot(table, png)
    note += f" Plot: `{png.name}`."
    write_section(results, "Decider throughput", note + "\n\n" + text, env)
    return table


if __name__ == "__main__":
    main()
