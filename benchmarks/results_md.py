"""Where benchmark numbers go: the machine they were measured on and a section of RESULTS.md.

Every benchmark script ends by writing one section of ``benchmarks/RESULTS.md``
(replacing its previous version, so the file holds the latest numbers of each
benchmark) headed by the machine, the library versions, the date and the
exact command, because a throughput without its machine means nothing.

>>> text = replace_section("# R\\n\\n## a\\nold\\n\\n## b\\nkeep\\n", "a", "new\\n")
>>> print(text)
# R
<BLANKLINE>
## a
new
<BLANKLINE>
## b
keep
<BLANKLINE>
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import re
import shlex
import sys
from importlib import metadata
from pathlib import Path

__all__ = [
    "DEFAULT_RESULTS",
    "command_line",
    "environment",
    "markdown_table",
    "replace_section",
    "write_section",
]

BENCHMARKS = Path(__file__).resolve().parent
DEFAULT_RESULTS = BENCHMARKS / "RESULTS.md"
PLOTS = BENCHMARKS / "results"
_TITLE = "# streamal benchmarks\n\nEach section is rewritten by the script that produces it.\n"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict[str, str]:
    """The machine and the versions that a number depends on."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores (nproc), {_cpu_model()}, {_ram_gib():.1f} GiB RAM",
        "load average at start": load,
        "python": platform.python_version(),
        "versions": ", ".join(
            f"{p} {_version(p)}" for p in ("numpy", "numba", "river", "pandas", "streamal")
        ),
    }


def command_line() -> str:
    """The command as typed, relative to the repository root."""
    script = Path(sys.argv[0])
    with contextlib.suppress(ValueError):  # a script outside the repository keeps its path
        script = script.resolve().relative_to(BENCHMARKS.parent)
    return shlex.join(["python", str(script), *sys.argv[1:]])


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table; a ``|`` inside a cell (a pipeline spec) is escaped.

    >>> print(markdown_table(["a", "b"], [["1", "x | y"]]))
    | a | b |
    |---|---|
    | 1 | x \\| y |
    """

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    lines = [line(header), "|" + "---|" * len(header)]
    lines += [line(row) for row in rows]
    return "\n".join(lines)


def replace_section(text: str, title: str, body: str) -> str:
    """``text`` with the ``## title`` section's body replaced (or the section appended)."""
    section = f"## {title}\n{body.rstrip()}\n\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        return pattern.sub(lambda _: section, text, count=1)
    return text.rstrip("\n") + "\n\n" + section


def write_section(path: Path | None, title: str, body: str, env: dict[str, str]) -> None:
    """Write ``body`` under ``## title`` in ``path``, headed by ``env`` and the command."""
    if path is None:
        return
    head = "\n".join(f"- {k}: {v}" for k, v in env.items())
    full = f"{head}\n- command: `{command_line()}`\n\n{body.strip()}\n"
    text = path.read_text() if path.exists() else _TITLE
    path.write_text(replace_section(text, title, full))


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--results`` and ``--plots``, which every benchmark script takes."""
    parser.add_argument(
        "--results", default=str(DEFAULT_RESULTS), help="RESULTS.md to update ('' for none)"
    )
    parser.add_argument("--plots", default=str(PLOTS), help="directory of the PNG")
