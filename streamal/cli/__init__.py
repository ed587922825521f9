"""The ``streamal`` command: one subcommand per module in this package.

Every user error (bad flag, missing file, bad model spec, bad budget…) ends
as one readable line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from streamal import __version__
from streamal.cli import annotate, demo, label_studio, replay, rerun, serve
from streamal.cli.base import Parser, UsageError

__all__ = ["main"]

#: Subcommand modules; each has ``register(subparsers)`` setting ``func`` on its parser.
COMMANDS = (replay, serve, rerun, demo, annotate, label_studio)


def build_parser() -> Parser:
    parser = Parser(prog="streamal", description="Stream-based online active learning.")
    parser.add_argument("--version", action="version", version=f"streamal {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
