"""How replay results are shown: a table a person reads and a PNG they would rather look at."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from streamal.replay import ReplayResult

__all__ = ["plot_results", "render_annotators", "render_table", "save_plot"]


def render_table(results: Sequence[ReplayResult]) -> str:
    """One line per run, best accuracy first (for a numeric target, least error first).

    >>> r = ReplayResult("split", 0.1, 0.8765, 120, 1000, 0.5)
    >>> print(render_table([r]))
    strategy  budget  accuracy  labels  spent   events/s
    split     10.0%   87.65%    120     12.00%  2000
    >>> r = ReplayResult("leverage", 0.1, float("nan"), 90, 1000, 0.5, mae=1.5, rmse=2.25, r2=0.7)
    >>> print(render_table([r]))
    strategy  budget  mae     rmse    r2      labels  spent  events/s
    leverage  10.0%   1.5000  2.2500  0.7000  90      9.00%  2000
    """
    if any(r.numeric for r in results):
        return _errors_table(results)
    header = ["strategy", "budget", "accuracy", "labels", "spent", "events/s"]
    with_cost = any(r.answers for r in results)
    if with_cost:
        header.append("cost")
    lines = [
        [
            r.name,
            f"{r.budget:.1%}",
            f"{r.accuracy:.2%}",
            str(r.labels),
            f"{r.label_fraction:.2%}",
            f"{r.events_per_second:.0f}",
        ]
        + ([f"{r.cost:.1f}"] if with_cost else [])
        for r in sorted(results, key=lambda r: (-r.accuracy, r.strategy, r.budget))
    ]
    return _columns(header, lines)


def _errors_table(results: Sequence[ReplayResult]) -> str:
    header = ["strategy", "budget", "mae", "rmse", "r2", "labels", "spent", "events/s"]
    lines = [
        [
            r.name,
            f"{r.budget:.1%}",
            f"{r.mae:.5g}" if r.mae >= 1e4 else f"{r.mae:.4f}",
            f"{r.rmse:.5g}" if r.rmse >= 1e4 else f"{r.rmse:.4f}",
            f"{r.r2:.4f}",
            str(r.labels),
            f"{r.label_fraction:.2%}",
            f"{r.events_per_second:.0f}",
        ]
        for r in sorted(results, key=lambda r: (r.mae, r.strategy, r.budget))
    ]
    return _columns(header, lines)


def render_annotators(results: Sequence[ReplayResult]) -> str:
    """Each simulated annotator's true, observed and estimated accuracy, per aggregated run.

    >>> r = ReplayResult("split", 0.1, 0.9, 120, 1000, 0.5, answers="aggregated")
    >>> r.annotators = [{"annotator": "bob", "accuracy": 0.7, "cost": 0.5, "answers": 60,
    ...                  "observed_accuracy": 0.683, "estimated_accuracy": 0.712}]
    >>> print(render_annotators([r]))
    run                 budget  annotator  cost  answers  true    observed  estimated
    split (aggregated)  10.0%   bob        0.5   60       70.00%  68.30%    71.20%
    """
    header = ["run", "budget", "annotator", "cost", "answers", "true", "observed", "estimated"]
    lines = [
        [
            r.name,
            f"{r.budget:.1%}",
            a["annotator"],
            f"{a['cost']:g}",
            str(a["answers"]),
            f"{a['accuracy']:.2%}",
            "-" if a["observed_accuracy"] is None else f"{a['observed_accuracy']:.2%}",
            f"{a['estimated_accuracy']:.2%}",
        ]
        for r in sorted(results, key=lambda r: (r.strategy, r.budget))
        if r.answers == "aggregated"
        for a in r.annotators
    ]
    return _columns(header, lines)


def _columns(header: list[str], lines: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *lines]
    )


def plot_results(results: Sequence[ReplayResult], title: str = ""):
    """A figure of learning curves (accuracy along the stream) and accuracy against labels spent.

    For a numeric target, the prequential mean absolute error instead of the accuracy.
    """
    from matplotlib.figure import Figure

    numeric = any(r.numeric for r in results)
    ylabel, short = ("prequential MAE", "MAE") if numeric else ("prequential accuracy", "Accuracy")
    fig = Figure(figsize=(13, 5), constrained_layout=True)
    along, spent = fig.subplots(1, 2)
    for r in sorted(results, key=lambda r: (r.strategy, r.budget)):
        events = [p[0] for p in r.curve]
        scores = [p[1] for p in r.curve]
        labels = [p[2] for p in r.curve]
        name = f"{r.name} @ {r.budget:.0%}"
        style = "--" if r.strategy == "random" else "-"
        (line,) = along.plot(events, scores, style, label=name)
        spent.plot(labels, scores, style, color=line.get_color(), label=name)
    along.set(xlabel="events", ylabel=ylabel, title="Learning curves")
    spent.set(xlabel="labels spent", ylabel=ylabel, title=f"{short} vs labels")
    for ax in (along, spent):
        ax.grid(alpha=0.3)
    spent.legend(fontsize="small", loc="upper right" if numeric else "lower right")
    if title:
        fig.suptitle(title)
    return fig


def save_plot(results: Sequence[ReplayResult], path: Path, title: str = "") -> None:
    """Write :func:`plot_results` as a PNG."""
    plot_results(results, title).savefig(path, dpi=110)
