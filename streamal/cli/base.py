"""What every subcommand shares: the one-line usage error and the parser that raises it."""

from __future__ import annotations

import argparse

__all__ = ["Parser", "UsageError"]


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, not a usage block and exit."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")
