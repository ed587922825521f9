"""benchmarks/pal_tuning.py runs end to end in its quick mode and writes its section."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_pal_tuning_quick(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# streamal benchmarks\n\n## Learning quality\nkept\n")
    script = str(BENCHMARKS / "pal_tuning.py")
    done = subprocess.run(
        [sys.executable, script, "--quick", "--results", str(results), "--plots", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    written = results.read_text()
    assert "## Learning quality\nkept\n" in written  # other sections are left alone
    assert (
        "## PAL tuning (quick)" in written
        and "- command: `python benchmarks/pal_tuning.py" in written
    )
    assert "| paper's defaults |" in written and "gain vs random @10%" in written
    assert (tmp_path / "pal_tuning_quick.json").stat().st_size > 0
