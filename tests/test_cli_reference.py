"""docs/cli.md is the reference the parsers write; it must not drift from them."""

from __future__ import annotations

from pathlib import Path

from streamal.cli.reference import render_reference

DOC = Path(__file__).parent.parent / "docs" / "cli.md"


def test_committed_reference_matches_the_parsers():
    assert DOC.read_text() == render_reference(), (
        "docs/cli.md is out of date: python -m streamal.cli.reference > docs/cli.md"
    )


def test_reference_lists_every_subcommand_and_contract_flag():
    text = render_reference()
    for section in ("replay", "serve", "rerun", "demo", "annotate"):
        assert f"## `streamal {section}`" in text
    for flag in ("--label-delay", "--report", "--kafka-option", "--snapshot-interval"):
        assert f"`{flag}`" in text
