"""How replay results are shown: a table a person reads and a PNG they would rather look at."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from streamal.replay import ReplayResult

__all__ = ["plot_results", "render_table", "save_plot"]


def render_table(results: Sequence[ReplayResult]) -> str:
    """One line per run, best accuracy first.

    >>> r = ReplayResult("split", 0.1, 0.8765, 120, 1000, 0.5)
    >>> print(render_table([r]))
    strategy  budget  accuracy  labels  spent   events/s
    split     10.0%   87.65%    120     12.00%  2000
    """
    header = ["strategy", "budget", "accuracy", "labels", "spent", "events/s"]
    lines = [
        [
            r.strategy,
            f"{r.budget:.1%}",
            f"{r.accuracy:.2%}",
            str(r.labels),
            f"{r.label_fraction:.2%}",
            f"{r.events_per_second:.0f}",
        ]
        for r in sorted(results, key=lambda r: (-r.accuracy, r.strategy, r.budget))
    ]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *lines]
    )


def plot_results(results: Sequence[ReplayResult], title: str = ""):
    """A figure of learning curves (accuracy along the stream) and accuracy against labels spent."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 5), constrained_layout=True)
    along, spent = fig.subplots(1, 2)
    for r in sorted(results, key=lambda r: (r.strategy, r.budget)):
        events = [p[0] for p in r.curve]
        accuracy = [p[1] for p in r.curve]
        labels = [p[2] for p in r.curve]
        name = f"{r.strategy} @ {r.budget:.0%}"
        style = "--" if r.strategy == "random" else "-"
        (line,) = along.plot(events, accuracy, style, label=name)
        spent.plot(labels, accuracy, style, color=line.get_color(), label=name)
    along.set(xlabel="events", ylabel="prequential accuracy", title="Learning curves")
    spent.set(xlabel="labels spent", ylabel="prequential accuracy", title="Accuracy vs labels")
    for ax in (along, spent):
        ax.grid(alpha=0.3)
    spent.legend(fontsize="small", loc="lower right")
    if title:
        fig.suptitle(title)
    return fig


def save_plot(results: Sequence[ReplayResult], path: Path, title: str = "") -> None:
    """Write :func:`plot_results` as a PNG."""
    plot_results(results, title).savefig(path, dpi=110)
