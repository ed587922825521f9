"""PAL tuning: which kernel bandwidth, posterior, M, prior and window make ``pal`` learn best.

Every variant of :data:`VARIANTS` runs on the streams of ``benchmarks/quality.py``
with the same base learner, replay and seeds, at budgets of 5 % and 10 %, next to
random sampling at the same budget and full labels (``random`` at a budget of 1).
The variants are the paper's defaults (written out, so they stay the paper's when
the defaults move), a grid of bandwidth × posterior mode, and one-at-a-time
changes of M, prior and labeled window around the candidate defaults. The
:data:`FINALISTS` (the best variants by mean gain over random at 5 % and 10 %, and
the paper's defaults) run again at 1 % and 20 %.

Run ``python benchmarks/pal_tuning.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from pathlib import Path

import quality
from quality import STREAMS, load_runs, parse_variant, run_all, save_runs
from results_md import add_output_arguments, environment, markdown_table, write_section

from streamal.model import DEFAULT_MODEL

#: Kottke, Krempl & Spiliopoulou's defaults, as ``pal`` had them before this tuning.
PAPER_PARAMETERS = {
    "bandwidth": 1.0,
    "m_max": 2.0,
    "prior": 0.001,
    "labeled_window_size": 500.0,
    "model_posterior": 0.0,
}


def variant(**changes: float) -> str:
    """The variant name of the paper's parameters with ``changes``, every parameter spelled out.

    Spelled out, a name keeps its meaning when ``pal``'s defaults move.

    >>> variant(bandwidth=8, model_posterior=1)
    'pal[bandwidth=8,m_max=2,prior=0.001,labeled_window_size=500,model_posterior=1]'
    """
    parameters = PAPER_PARAMETERS | changes
    return "pal[" + ",".join(f"{k}={v:g}" for k, v in parameters.items()) + "]"


PAPER = variant()
#: the candidate defaults that M, prior and window are varied around
CENTRE = {"bandwidth": 8.0, "model_posterior": 1.0}
#: bandwidth × posterior mode (nan: the mean criterion), then M, prior and window one at a time
VARIANTS = tuple(
    dict.fromkeys(
        [
            PAPER,
            *(
                variant(bandwidth=b, model_posterior=p)
                for p, b in itertools.product((0, 1), (0.5, 1, 2, 4, 8, 16, float("nan")))
            ),
            *(
                variant(**CENTRE, **{name: value})
                for name, values in (
                    ("m_max", (1, 3)),
                    ("prior", (0.01, 1)),
                    ("labeled_window_size", (100, 1000)),
                )
                for value in values
            ),
        ]
    )
)
BUDGETS = (0.05, 0.10)
FINALIST_BUDGETS = (0.01, 0.20)
SEEDS = (0, 1, 2)
#: variants run at :data:`FINALIST_BUDGETS` too, besides the paper's defaults
FINALISTS = 3


def _mean(values) -> float:
    return statistics.mean(list(values))


def aggregate(raw: dict, streams: list[str], seeds: tuple, name: str, budget: float) -> dict:
    """Mean accuracy, gain over random, wins, ratio to full labels and spend of one variant.

    Means are over streams of the mean over seeds, as in ``quality.py``.
    """

    def acc(strategy: str, b: float, stream: str, what: int = 0) -> float:
        return _mean(raw[stream, s, strategy, b, DEFAULT_MODEL][what] for s in seeds)

    mine = {st: acc(name, budget, st) for st in streams}
    rnd = {st: acc("random", budget, st) for st in streams}
    return {
        "acc": _mean(mine.values()),
        "gain": _mean(mine[st] - rnd[st] for st in streams),
        "gains": {st: mine[st] - rnd[st] for st in streams},
        "wins": sum(mine[st] > rnd[st] for st in streams),
        "ratio": _mean(mine[st] / acc("random", 1.0, st) for st in streams),
        "spent": _mean(acc(name, budget, st, 1) for st in streams),
    }


def best_variants(rows: dict, variants: tuple, budgets: tuple, k: int) -> list[str]:
    """The ``k`` variants of highest mean gain over the budgets (ties: first listed).

    >>> rows = {("a", 1): {"gain": 0.1}, ("b", 1): {"gain": 0.3}, ("c", 1): {"gain": 0.2}}
    >>> best_variants(rows, ("a", "b", "c"), (1,), 2)
    ['b', 'c']
    """
    score = {v: _mean(rows[v, b]["gain"] for b in budgets) for v in variants}
    return sorted(variants, key=lambda v: -score[v])[:k]


def _short(name: str) -> str:
    """How a variant differs from the paper's defaults.

    >>> _short(variant(bandwidth=8, m_max=3))
    'bandwidth=8, m_max=3'
    """
    options = parse_variant(name)[1]
    changed = [f"{k}={v:g}" for k, v in options.items() if f"{v}" != f"{PAPER_PARAMETERS[k]}"]
    return ", ".join(changed) or "paper's defaults"


def variant_table(rows: dict, variants: list[str], budgets: tuple, n_streams: int) -> str:
    head = ["variant"]
    for b in budgets:
        head += [f"acc @{b:.0%}", f"gain vs random @{b:.0%}", "wins", "ratio to full", "spent"]
    lines = []
    for v in variants:
        cells = [_short(v)]
        for b in budgets:
            r = rows[v, b]
            cells += [
                f"{100 * r['acc']:.1f}",
                f"{100 * r['gain']:+.2f}",
                f"{r['wins']}/{n_streams}",
                f"{r['ratio']:.3f}",
                f"{100 * r['spent']:.1f}",
            ]
        lines.append(cells)
    return markdown_table(head, lines)


def stream_table(rows: dict, variants: list[str], budget: float, streams: list[str]) -> str:
    head = ["variant", *streams]
    lines = [
        [_short(v), *(f"{100 * rows[v, budget]['gains'][st]:+.1f}" for st in streams)]
        for v in variants
    ]
    return markdown_table(head, lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two short streams, one seed")
    parser.add_argument("--events", type=int, default=15_000, help="events per synthetic stream")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--variants", nargs="+", metavar="VARIANT", help="run these instead of VARIANTS"
    )
    add_output_arguments(parser)
    parser.add_argument(
        "--reuse",
        metavar="JSON",
        help="raw runs of an earlier invocation (pal_tuning_raw.json): only missing runs are run",
    )
    args = parser.parse_args(argv)
    results = Path(args.results) if args.results else None
    env = environment()

    variants = tuple(args.variants) if args.variants else VARIANTS
    if args.quick:
        streams, n, seeds, variants = ["Phishing", "SEA abrupt"], 600, (0,), variants[:3]
    else:
        streams, n, seeds = list(STREAMS), args.events, SEEDS
    for name in variants:
        if parse_variant(name)[0] != "pal":
            raise SystemExit(f"not a pal variant: {name}")

    started = time.perf_counter()
    for stream, seed in itertools.product(streams, seeds):
        quality._ROWS[stream, seed] = STREAMS[stream][1](n, seed)

    def tasks_for(names, budgets) -> list[tuple]:
        return [
            (stream, seed, name, b, DEFAULT_MODEL)
            for stream, seed, name, b in itertools.product(streams, seeds, names, budgets)
        ]

    reused = load_runs(Path(args.reuse)) if args.reuse else {}
    raw: dict[tuple, tuple[float, float]] = {}

    def run(tasks: list[tuple]) -> None:
        raw.update({t: reused[t] for t in tasks if t in reused})
        raw.update(run_all([t for t in tasks if t not in reused], max(1, args.jobs)))

    run(tasks_for(("random", *variants), BUDGETS))
    run([(st, s, "random", 1.0, DEFAULT_MODEL) for st in streams for s in seeds])
    rows = {(v, b): aggregate(raw, streams, seeds, v, b) for v in variants for b in BUDGETS}
    finalists = [PAPER, *best_variants(rows, variants, BUDGETS, FINALISTS)]
    finalists = list(dict.fromkeys(v for v in finalists if v in variants))
    run(tasks_for(("random", *finalists), FINALIST_BUDGETS))
    for v, b in itertools.product(finalists, FINALIST_BUDGETS):
        rows[v, b] = aggregate(raw, streams, seeds, v, b)
    elapsed = time.perf_counter() - started
    ran = len(raw.keys() - reused.keys())
    runs_note = f"{ran} runs in {elapsed:.0f} s on {args.jobs} workers" + (
        f" ({len(raw) - ran} more reused from `{Path(args.reuse).name}`)" if reused else ""
    )

    raw_path = Path(args.plots) / ("pal_tuning_quick.json" if args.quick else "pal_tuning_raw.json")
    save_runs(raw, raw_path)

    order = sorted(variants, key=lambda v: -_mean(rows[v, b]["gain"] for b in BUDGETS))
    sweep = variant_table(rows, order, BUDGETS, len(streams))
    final = variant_table(rows, finalists, (*FINALIST_BUDGETS, *BUDGETS), len(streams))
    per_stream = stream_table(rows, finalists, 0.10, streams)
    best = order[0]
    headline = (
        f"Best mean gain over random at 5 % and 10 %: **{_short(best)}** ("
        + ", ".join(f"{100 * rows[best, b]['gain']:+.2f} pt @{b:.0%}" for b in BUDGETS)
        + f"; ratio to full labels @10 %: {rows[best, 0.10]['ratio']:.3f})"
    )
    if PAPER in variants:
        headline += "; the paper's defaults: " + ", ".join(
            f"{100 * rows[PAPER, b]['gain']:+.2f} pt @{b:.0%}" for b in BUDGETS
        )
        headline += f" ({rows[PAPER, 0.10]['ratio']:.3f})"
    headline += "."
    print(sweep, final, per_stream, headline, runs_note, sep="\n\n")
    body = (
        f"Model `{DEFAULT_MODEL}`; the streams of `quality.py` ({', '.join(streams)}); "
        f"seeds {', '.join(map(str, seeds))}; no label delay; gains in accuracy points over "
        "`random` at the same budget, means over streams of seed means; `wins` = streams "
        "where the variant beats random; ratio to full = accuracy over `random` at budget 1. "
        "`bandwidth=nan`: the mean criterion (Chaudhuri et al. 2017) over the labeled window. "
        f"{runs_note}. "
        f"Raw runs: `{raw_path.name}`.\n\n"
        f"{headline}\n\n"
        f"### Every variant at {' and '.join(f'{b:.0%}' for b in BUDGETS)} "
        "(best mean gain first)\n\n"
        f"{sweep}\n\n"
        f"### Finalists at every budget\n\n{final}\n\n"
        f"### Finalists' gain over random per stream at 10 % (accuracy points)\n\n{per_stream}\n"
    )
    write_section(results, "PAL tuning (quick)" if args.quick else "PAL tuning", body, env)
    return {"rows": rows, "finalists": finalists, "raw": raw}


if __name__ == "__main__":
    main()
