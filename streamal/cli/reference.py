"""The command-line reference (docs/cli.md), written from the parsers so it cannot drift.

``python -m streamal.cli.reference > docs/cli.md`` regenerates it; a test checks
that the committed file matches.
"""

from __future__ import annotations

import argparse

from streamal.cli import build_parser

__all__ = ["render_reference"]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def render_reference() -> str:
    """Markdown: one section per subcommand with its description and every option."""
    parser = build_parser()
    parts = [
        "# Command-line reference",
        "",
        "Generated from the code by `python -m streamal.cli.reference > docs/cli.md`;",
        "`tests/test_cli_reference.py` fails when it is out of date.",
    ]
    for name, sub in _subparsers(parser).items():
        parts += ["", f"## `streamal {name}`", ""]
        if sub.description:
            parts += [sub.description, ""]
        parts += ["| option | meaning |", "|---|---|"]
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            names = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.dest}`"
            if action.metavar and action.option_strings:
                names += f" `{action.metavar}`"
            text = (action.help or "").replace("|", "\\|").replace("\n", " ")
            if action.choices and not isinstance(action, argparse._SubParsersAction):
                text += f" (one of: {', '.join(map(str, action.choices))})"
            parts.append(f"| {names} | {text} |")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(render_reference(), end="")
