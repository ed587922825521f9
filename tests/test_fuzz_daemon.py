"""No record can stop ``streamal serve`` (docs/design.md, "Bad input never stops the daemon").

Every kind of ``benchmarks/hostile_records.py`` (malformed and hostile events
and labels, poison pills, a 2 MB record), shuffled among good events, goes
through a real daemon run as a subprocess, once per model family; the
harness is ``benchmarks/daemon_fuzz.py``, which the benchmark runs large.
"""

from __future__ import annotations

import doctest
import importlib
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from streamal.messages import InvalidRecord, decode_event, decode_label

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

#: Per family: about 500 records, every kind at least twice (the largest ones at most twice).
HOSTILE = 260
PLAIN = 180
WARMUP = 60
#: The reasons a record is refused before it reaches the engine; the others come from the
#: model (model_error) or from joining a label with the pending queries (and reading it
#: against the stream's classes or numbers).
NOT_DECODING = {"model_error", "unknown", "duplicate", "unknown_class", "not_a_number"}


@pytest.fixture(scope="module")
def benchmarks() -> tuple[ModuleType, ModuleType]:
    """``(daemon_fuzz, hostile_records)``, imported from benchmarks/ as the scripts are run."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))
        return importlib.import_module("daemon_fuzz"), importlib.import_module("hostile_records")


def test_hostile_records_doctests(benchmarks):
    _, hostile = benchmarks
    failures, tried = doctest.testmod(hostile, optionflags=doctest.ELLIPSIS)
    assert (failures, tried > 0) == (0, True)


def test_the_stream_holds_every_kind_and_is_seeded(benchmarks):
    fuzz, hostile = benchmarks

    def stream(seed: int, takes_strings: bool):
        return hostile.generate(
            seed,
            hostile=HOSTILE,
            plain=PLAIN,
            warmup=WARMUP,
            max_record_bytes=fuzz.MAX_RECORD_BYTES,
            takes_strings=takes_strings,
        )

    numeric = stream(0, takes_strings=False)
    records = numeric.warmup + numeric.events + numeric.labels
    assert 300 <= len(records) <= 600
    kinds = {r.kind for r in records}
    # The duplicate labels are made during the run, for ids the daemon has learned, and the
    # answers to asked queries for queries it left open.
    asked = {name for name, kind in hostile.KINDS.items() if kind.asked}
    assert len(asked) >= 8 and set(numeric.asked) == asked
    assert kinds == set(hostile.KINDS) - {"label_duplicate"} - asked | {"plain"}
    assert numeric.duplicates >= 2
    assert len({k.name for k in hostile.KINDS.values() if k.reason}) >= 25
    # Every kind at least twice, so a daemon cannot pass by luck on one record.
    assert min(sum(r.kind == k for r in records) for k in kinds) >= 2
    assert len({r.id for r in records if r.reason is None}) == sum(
        r.reason is None for r in records
    )
    for record in records:
        size = len(record.value or b"")
        assert (size > fuzz.MAX_RECORD_BYTES) == (record.reason == "oversized"), record.kind
    assert max(len(r.value or b"") for r in records) >= 2 * 1024 * 1024
    assert stream(0, takes_strings=False) == numeric
    assert stream(1, takes_strings=False).events != numeric.events
    strings = [r.reason for r in stream(0, takes_strings=True).events if r.kind == "string_feature"]
    assert set(strings) == {None}
    assert {r.reason for r in numeric.events if r.kind == "string_feature"} == {"model_error"}


def test_answers_to_asked_queries_are_judged_by_the_target(benchmarks):
    """A boolean stream and a numeric one refuse different answers, each with its reason."""
    _, hostile = benchmarks
    asked = [name for name, kind in hostile.KINDS.items() if kind.asked]

    def reasons(numeric: bool) -> dict[str, str | None]:
        answers = hostile.with_answers([], asked, ["q1", "q2", "q3", "q4"], numeric)
        return {r.kind.removeprefix("answer_"): r.reason for r in answers}

    assert reasons(numeric=True) == {
        "0.5": None, "7": None, "12.5": None, "_-3e2_": None,
        "abc": "not_a_number", "NaN": "not_a_number", "-inf": "not_a_number",
        "1e999": "not_a_number", "True": "not_a_number", "false": "not_a_number",
    }  # fmt: skip
    assert reasons(numeric=False) == {
        "0.5": "unknown_class", "7": "unknown_class", "12.5": "unknown_class",
        "_-3e2_": "unknown_class", "abc": "unknown_class", "NaN": "unknown_class",
        "-inf": "unknown_class", "1e999": "unknown_class", "True": None, "false": None,
    }  # fmt: skip


def test_the_decoders_give_each_kind_its_reason(benchmarks):
    """The refusals the decoders own, kind by kind: a precise list of what a daemon run finds."""
    fuzz, hostile = benchmarks
    stream = hostile.generate(
        0,
        hostile=len(hostile.KINDS),
        plain=1,
        max_record_bytes=fuzz.MAX_RECORD_BYTES,
        takes_strings=False,
    )
    wrong = {}
    for record in stream.events + stream.labels:
        decode = decode_event if record.topic == hostile.EVENTS else decode_label
        expected = None if record.reason in NOT_DECODING else record.reason
        try:
            decode(record.value or b"", default_ts=0.0, max_bytes=fuzz.MAX_RECORD_BYTES)
            found = None
        except InvalidRecord as e:
            found = e.reason.value
        except Exception as e:  # a decoder that raises anything else crashes the daemon
            found = f"raised {type(e).__name__}"
        if found != expected:
            wrong[record.kind] = f"expected {expected or 'accepted'}, found {found or 'accepted'}"
    assert wrong == {}, "\n".join(f"{kind}: {found}" for kind, found in wrong.items())


@pytest.mark.parametrize("family", ["tree", "scaler+logistic", "knn", "scaler+linear"])
def test_hostile_records_cannot_stop_the_daemon(benchmarks, broker, family, tmp_path, kafka_client):
    fuzz, hostile = benchmarks
    model = fuzz.FAMILIES[family]
    stream = hostile.generate(
        list(fuzz.FAMILIES).index(family),
        hostile=HOSTILE,
        plain=PLAIN,
        warmup=WARMUP,
        max_record_bytes=fuzz.MAX_RECORD_BYTES,
        takes_strings=model.takes_strings,
        numeric=model.numeric,
    )
    run = fuzz.run_family(
        broker.bootstrap_servers, model, stream, tmp_path / "state", kafka_client=kafka_client
    )
    diagnosis = run.diagnosis()

    assert [f"{i.what}: {i.detail}" for i in run.incidents] == [], diagnosis
    assert run.alive_at_end, diagnosis
    assert run.metrics is not None, diagnosis
    assert sum(r.record.kind == "label_duplicate" for r in run.sent) == stream.duplicates
    # Answers of every kind to asked queries were sent, to queries left open (each learned
    # one to its own: as many as the daemon asked).
    assert {r.record.kind for r in run.sent if r.record.kind in stream.asked} == set(stream.asked)
    wrong = {kind: found for kind, found in run.record_problems().items() if found}
    assert wrong == {}, diagnosis
    assert run.stray_problems() == [], diagnosis
    assert run.metric_problems() == [], diagnosis
    assert run.exit_code == 0, diagnosis


def test_the_benchmark_prints_its_tables():
    """The script end to end, small, on kinds a daemon has long handled: its numbers add up."""
    kinds = "null_key,truncated,label_unknown_id,label_duplicate"
    script = [sys.executable, str(BENCHMARKS / "daemon_fuzz.py"), "--families", "tree"]
    done = subprocess.run(
        [*script, "--kinds", kinds, "--hostile", "8", "--plain", "20", "--warmup", "40"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"- command: `python benchmarks/daemon_fuzz.py --families tree --kinds {kinds}" in out
    # 2 records of each kind; null_key is good, as are the 40 + 20 plain events.
    assert re.search(r"^\| tree \| 6 \| 6 \| 62 / 62 \| 0 \| 0 \| 0 \| \d+ s \|$", out, re.M), out
    assert "| label_duplicate | duplicate | 2 | 2 | 0 |" in out
    assert "| plain | predicted once | 60 | 60 | 0 |" in out
