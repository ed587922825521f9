"""The benchmark scripts run end to end in their quick mode and print sane numbers.

Each script runs as a subprocess, as a person would run it, writing its
RESULTS.md section and its plot into a temporary directory rather than the
repository's.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import json
import math
import re
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def run_quick(script: str, tmp_path: Path, *extra: str, timeout: float = 120) -> tuple[str, str]:
    """Run ``benchmarks/script --quick``; return its stdout and the RESULTS.md it wrote."""
    results = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", "--results", str(results), *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    written = results.read_text()
    assert "- machine: " in written and "nproc" in written
    assert f"- command: `python benchmarks/{script} --quick" in written
    assert re.search(r"numba \d", written) and re.search(r"river \d", written)
    return done.stdout, written


def table_rows(text: str) -> list[list[str]]:
    """The cells of every markdown table row that is not a header separator."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def _rate(cell: str) -> float:
    number, unit = cell.split()
    return float(number) * {"M": 1e6, "k": 1e3}[unit]


def test_decider_throughput(tmp_path):
    out, written = run_quick("decider_throughput.py", tmp_path, "--plots", str(tmp_path))
    rows = [r for r in table_rows(out) if r[0] != "strategy"]
    strategies = {r[0] for r in rows}
    assert {"random", "variable_uncertainty", "river EntropySampler"} <= strategies
    for row in rows:
        if row[0] == "river EntropySampler":
            assert _rate(row[2]) > 0
            continue
        rates = [_rate(c) for c in row[2:5]]
        # Density, PAL and committee rules run in the rich kernel; the plain kernel is not timed.
        if row[5] != "(rich kernel)":
            rates.append(_rate(row[5]))
        assert all(r > 0 for r in rates)
        assert row[6].endswith("×") and float(row[6][:-1]) > 0
    assert "## Decider throughput" in written
    assert (tmp_path / "decider_quick.png").stat().st_size > 0


def test_replay_throughput(tmp_path):
    out, written = run_quick("replay_throughput.py", tmp_path, "--plots", str(tmp_path))
    rows = [r for r in table_rows(out) if r[0] != "model" and len(r) == 7]
    assert {r[0] for r in rows} == {"default", "mini-batch"}
    for _model, _run, _batch, rate, ratio, accuracy, labels in rows:
        assert float(rate.replace(",", "")) > 0
        assert float(ratio.rstrip("×")) > 0
        assert 0.0 <= float(accuracy.rstrip("%")) <= 100.0
        assert int(labels.split()[0]) >= 0
    assert any(r[1] == "river EntropySampler" for r in rows)
    assert "## Replay throughput" in written
    sweep = re.findall(r"(\d+\.\d+) \(([\d,]+)/s\)", out)  # accuracy % (events/s) per batch
    assert sweep and all(0 <= float(a) <= 100 and int(r.replace(",", "")) > 0 for a, r in sweep)
    assert (tmp_path / "replay_quick.png").stat().st_size > 0
    # `streamal replay --strategy all` at four budgets: model, runs, events, wall s, runs s, rate
    every = [r for r in table_rows(out) if len(r) == 6 and r[0] != "model"]
    assert [r[0] for r in every] == ["default", "mini-batch"]
    for _model, runs, events, wall, seconds, _rate in every:
        assert int(runs) > 40 and events == "2,000"
        assert float(wall) >= float(seconds) > 0
    assert "--strategy all --budget 0.01,0.05,0.1,0.2 --jobs 2" in written


def test_quality(tmp_path):
    out, written = run_quick("quality.py", tmp_path, "--plots", str(tmp_path))
    cells = re.findall(r"(\d+\.\d) \((\d+\.\d)\)", out)  # "accuracy (spent)" in percent
    assert cells
    for accuracy, spent in cells:
        assert 0.0 <= float(accuracy) <= 100.0
        assert 0.0 <= float(spent) <= 100.0
    assert re.search(r"\*\*\w+\*\* \(mean rank \d", out)  # a recommended strategy
    assert (tmp_path / "quality_quick.png").stat().st_size > 0
    assert "## Learning quality (quick)" in written
    # scikit-activeml only in the benchmark's own environment (make bench-quality)
    if importlib.util.find_spec("skactiveml") is None:
        assert out.count("scikit-activeml is not importable") == 1
        assert not (tmp_path / "quality_quick_skactiveml.png").exists()
    else:
        assert re.search(r"at least as accurate in \*\*\d+/\d+\*\* cells", written)
        assert (tmp_path / "quality_quick_skactiveml.png").stat().st_size > 0


def test_quality_regression(tmp_path):
    out, written = run_quick("quality_regression.py", tmp_path, "--plots", str(tmp_path))
    # "MAE ± standard error (spent %)" for every strategy at 5 and 10 %
    cells = re.findall(r"\| (\d+\.?\d*(?:e[+-]\d+)?) ± [\d.e+-]+ \((\d+\.\d)\)", out)
    assert len(cells) >= 2 * 4  # random, periodic and the regression rules, at two budgets
    for mae, spent in cells:
        assert 0.0 < float(mae) < 100.0  # Friedman's target spans about ±30
        assert 0.0 < float(spent) <= 20.0
    # the criteria: wins over random, mean reduction, worst spending, at each budget
    criteria = re.findall(r"(\d)/1, ([+-]\d+\.\d) %, ±(\d+\.\d\d) pt", out)
    assert criteria and all(int(w) <= 1 and abs(float(r)) < 100 for w, r, _ in criteria)
    assert "non-finite cells: 0" in out
    assert re.search(r"Chosen on all streams: `.+` with `\w+`", out)
    assert "## Regression quality (quick)" in written
    # the deployed-error estimate of the default strategy at the end of its runs
    estimate = r"\| Friedman gra \| {}% \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| [01]/1 \|"
    for budget in (5, 10):
        truth, value, relative = map(float, re.search(estimate.format(budget), written).groups())
        assert truth > 0 and value > 0
        assert relative == pytest.approx(100 * abs(value - truth) / truth, abs=0.2)
    runs = json.loads((tmp_path / "quality_regression_quick.json").read_text())
    assert {r["stream"] for r in runs} == {"Friedman gra"} and {r["seed"] for r in runs} == {0}
    assert all(math.isfinite(r["mae"]) and r["events"] == 600 for r in runs)
    full = [r for r in runs if r["budget"] == 1.0]
    assert full and all(r["spent"] == 1.0 for r in full)


@pytest.mark.parametrize(
    "module", ["results_md", "quality", "quality_regression", "default_variants"]
)
def test_doctests(module, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    failures, _ = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_default_variants(tmp_path):
    results = tmp_path / "RESULTS.md"
    variants = "bandit[catch_up=0];bandit[batch_size=1]"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "default_variants.py"), "--seeds", "2", "--events",
         "400", "--streams", "Phishing,SEA abrupt", "--budgets", "0.05,0.2", "--variants",
         variants, "--results", str(results), "--jobs", "1"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = results.read_text()
    assert "## Default strategy variants over more seeds" in written
    assert "2 streams of the quality grid (400 events at most), seeds 0–1" in written
    rows = [r for r in table_rows(written) if r[0].startswith("`")]
    assert [(r[0], r[1]) for r in rows] == [
        ("`bandit[catch_up=0]`", "5%"),
        ("`bandit[catch_up=0]`", "20%"),
        ("`bandit[batch_size=1]`", "5%"),
        ("`bandit[batch_size=1]`", "20%"),
    ]
    assert all(30 < float(r[2]) < 100 for r in rows)
    assert [r[3] for r in rows[:2]] == ["—", "—"]
    for r in rows[2:]:
        diff, se = r[3].split(" ± ")
        assert abs(float(diff)) < 30 and float(se) >= 0
        assert r[4] in ("0/2", "1/2", "2/2")
    # Every variant spends within a few labels of its budget on 400 events.
    assert all(0 <= float(r[5]) < 2 for r in rows)


def test_pal_tuning(tmp_path):
    (tmp_path / "RESULTS.md").write_text("# streamal benchmarks\n\n## Learning quality\nkept\n")
    _, written = run_quick("pal_tuning.py", tmp_path, "--plots", str(tmp_path), timeout=300)
    assert "## Learning quality\nkept\n" in written  # other sections are left alone
    assert "## PAL tuning (quick)" in written
    assert "| paper's defaults |" in written and "gain vs random @10%" in written
    assert (tmp_path / "pal_tuning_quick.json").stat().st_size > 0


def test_quality_checkpoints_runs_as_they_finish(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    quality = importlib.import_module("quality")
    monkeypatch.setitem(quality._ROWS, ("Phishing", 0), quality.STREAMS["Phishing"][1](300, 0))
    model = quality.DEFAULT_MODEL
    tasks = [("Phishing", 0, s, 0.1, model) for s in ("random", "split", "periodic")]
    snapshots: list[dict] = []
    out = quality.run_all(tasks, 1, checkpoint=lambda done: snapshots.append(dict(done)), every=0)
    assert [len(s) for s in snapshots] == [1, 2, 3]
    assert snapshots[-1] == out and set(out) == set(tasks)
    assert all(
        0.0 <= acc <= 1.0 and 0.0 < spent <= 0.2 and 0.0 <= balanced <= 1.0
        for acc, spent, balanced in out.values()
    )


def test_reused_runs_must_come_from_streams_of_the_same_length(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    quality = importlib.import_module("quality")
    model = quality.DEFAULT_MODEL
    monkeypatch.setitem(quality._ROWS, ("SEA abrupt", 0), quality.STREAMS["SEA abrupt"][1](300, 0))
    raw = {("SEA abrupt", 0, "random", 0.1, model): (0.7, 0.1, 0.65)}
    path = tmp_path / "raw.json"
    quality.save_runs(raw, path)
    assert '"events": 300' in path.read_text()
    assert quality.load_runs(path) == raw
    monkeypatch.setitem(quality._ROWS, ("SEA abrupt", 0), quality.STREAMS["SEA abrupt"][1](200, 0))
    assert quality.load_runs(path) == {}  # a 300-event run does not stand in for a 200-event one
    path.write_text(path.read_text().replace(',\n"events": 300', ""))  # written before the field
    assert quality.load_runs(path) == raw
    path.write_text(path.read_text().replace(',\n"balanced": 0.65', ""))  # and before this one
    assert quality.load_runs(path) == {("SEA abrupt", 0, "random", 0.1, model): (0.7, 0.1, None)}


@pytest.fixture
def quality(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("quality")


NEW_STREAMS = [
    "Agrawal imbalanced",
    "RBF 25 classes",
    "Hyperplane label noise",
    "Agrawal recurring",
]


@pytest.mark.parametrize("name", NEW_STREAMS)
def test_new_streams_are_deterministic_for_a_seed(quality, name):
    build = quality.STREAMS[name][1]
    first = build(3000, 1)
    assert len(first) == 3000
    assert [(r.x, r.y) for r in first] == [(r.x, r.y) for r in build(3000, 1)]
    assert [r.x for r in first] != [r.x for r in build(3000, 2)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_imbalanced_stream_has_a_rare_class_of_1_to_5_percent(quality, seed):
    rows = quality.STREAMS["Agrawal imbalanced"][1](quality.FULL_EVENTS, seed)
    counts = Counter(r.y for r in rows)
    assert set(counts) == {0, 1}
    share = counts[0] / len(rows)
    assert 0.01 <= share <= 0.05
    assert share == pytest.approx(quality.RARE_SHARE, abs=0.003)  # 2.5 binomial deviations


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_many_class_stream_has_at_least_20_classes(quality, seed):
    rows = quality.STREAMS["RBF 25 classes"][1](quality.FULL_EVENTS, seed)
    assert 20 <= len({r.y for r in rows}) <= 25


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noisy_stream_flips_labels_at_its_nominal_rate(quality, seed):
    n, rate = quality.FULL_EVENTS, quality.LABEL_NOISE
    noisy = quality.STREAMS["Hyperplane label noise"][1](n, seed)
    clean = quality._synthetic(quality._still_hyperplane)(n, seed)
    assert [r.x for r in noisy] == [r.x for r in clean]
    spread = 4 * math.sqrt(rate * (1 - rate) / n)
    flipped = [a.y != b.y for a, b in zip(noisy, clean, strict=True)]
    assert sum(flipped) / n == pytest.approx(rate, abs=spread)
    # As often in either class: a flip does not follow the features.
    for label in (0, 1):
        of_class = [f for f, r in zip(flipped, clean, strict=True) if r.y == label]
        assert sum(of_class) / len(of_class) == pytest.approx(rate, abs=2 * spread)


def test_recurring_stream_returns_to_its_first_concept(quality):
    from river import metrics, tree

    rows = quality.STREAMS["Agrawal recurring"][1](8000, 0)
    quarter = len(rows) // 4
    model = tree.HoeffdingTreeClassifier()
    for r in rows[:quarter]:  # concept A only
        model.learn_one(r.x, r.y)
    scores = []
    for k in range(1, 4):
        accuracy = metrics.Accuracy()
        for r in rows[k * quarter + 100 : (k + 1) * quarter]:  # past the switch
            accuracy.update(r.y, model.predict_one(r.x))
        scores.append(accuracy.get())
    b, a_again, b_again = scores
    assert a_again > 0.95
    assert b < 0.65 and b_again < 0.65


@pytest.mark.parametrize(
    "strategy", ["random[batch_size=1]", "skal:PeriodicSampling", "skal:StreamRandomSampling"]
)
def test_balanced_accuracy_of_a_run_on_a_hand_worked_stream(quality, monkeypatch, strategy):
    from streamal.replay import Row

    if strategy.startswith(quality.SKAL) and quality.skactiveml_adapter is None:
        pytest.skip("scikit-activeml lives in the benchmark's own environment")
    # Every label learned before the next event: the model predicts the label before.
    ys = [1, 0, 0, 0, 0, 1, 1, 0]
    rows = [Row(id=str(i), x={"a": 0.0}, ts=float(i), y=y) for i, y in enumerate(ys)]
    monkeypatch.setitem(quality._ROWS, ("hand", 0), rows)
    task = ("hand", 0, strategy, 1.0, "dummy.NoChangeClassifier()")
    _, (accuracy, spent, balanced) = quality._run(task)
    # predicted: None 1 0 0 0 0 1 1; right at events 2, 3, 4 (class 0) and 6 (class 1)
    assert (accuracy, spent) == (4 / 8, 1.0)
    assert balanced == pytest.approx((3 / 5 + 1 / 3) / 2)  # recall of 0: 3/5; of 1: 1/3


def test_streams_option_runs_those_streams_and_keeps_the_others_runs(
    quality, monkeypatch, tmp_path
):
    monkeypatch.setattr(quality, "_ROWS", {})
    model = quality.DEFAULT_MODEL
    elsewhere = {("LED abrupt", 0, "random", 0.1, model): (0.5, 0.1, 0.45)}
    # A run of Phishing this invocation does not ask for (--skip-variants) is kept as well.
    not_asked = {("Phishing", 0, "bandit[random_share=0]", 0.1, model): (0.8, 0.1, 0.7)}
    reuse = tmp_path / "reuse.json"
    quality.save_runs(elsewhere | not_asked, reuse)
    args = ["--quick", "--streams", "Phishing", "--skactiveml", "", "--skip-variants"]
    args += ["--skip-models", "--jobs", "1", "--reuse", str(reuse)]
    out = quality.main([*args, "--results", str(tmp_path / "R.md"), "--plots", str(tmp_path)])
    assert {t[0] for t in out["raw"]} == {"Phishing"}
    saved = quality.load_runs(tmp_path / "quality_quick.json")
    assert {t[0] for t in saved} == {"Phishing", "LED abrupt"}
    assert {t: r for t, r in saved.items() if t[0] == "LED abrupt"} == elsewhere
    assert {t: saved[t] for t in not_asked} == not_asked
    written = (tmp_path / "R.md").read_text()
    assert "| Phishing | bundled, binary | 600 |" in written and "SEA abrupt" not in written
    with pytest.raises(SystemExit):
        quality.main(["--quick", "--streams", "Phishing,Atlantis", "--results", ""])


@pytest.fixture
def regression_quality(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("quality_regression")


ADDED_REGRESSION_STREAMS = ["Friedman", "Mixture", "Heteroscedastic", "Daily", "Skewed"]


@pytest.mark.parametrize("name", ADDED_REGRESSION_STREAMS)
def test_added_regression_streams_are_deterministic_for_a_seed(regression_quality, name):
    build = regression_quality.STREAMS[name][1]
    first = build(2000, 1)
    assert len(first) == 2000 and all(math.isfinite(r.y) for r in first)
    assert [(r.x, r.y) for r in first] == [(r.x, r.y) for r in build(2000, 1)]
    assert [r.y for r in first] != [r.y for r in build(2000, 2)]


def test_skewed_stream_has_a_category_of_70_20_and_10_percent(regression_quality):
    rows = regression_quality.STREAMS["Skewed"][1](20_000, 0)
    counts = Counter(r.x["kind"] for r in rows)
    shares = [counts[k] / len(rows) for k in "abc"]
    assert shares == pytest.approx([0.7, 0.2, 0.1], abs=0.01)
    assert max(r.x["x0"] for r in rows) > 20 * sorted(r.x["x0"] for r in rows)[10_000]


def test_heteroscedastic_stream_is_noisier_where_x_is_larger(regression_quality):
    rows = regression_quality.STREAMS["Heteroscedastic"][1](20_000, 0)
    residuals = [(r.x["x"], r.y - math.sin(r.x["x"]) * r.x["x"]) for r in rows]
    low = [e for x, e in residuals if x < 2]
    high = [e for x, e in residuals if x > 8]
    # deviations 0.05 + 0.1 x: about 0.15 below 2, about 0.95 above 8
    assert statistics.pstdev(high) > 5 * statistics.pstdev(low)


def test_daily_stream_is_noisy_in_the_afternoon_only(regression_quality):
    rows = regression_quality.STREAMS["Daily"][1](2400, 0)
    assert [r.x["hour"] for r in rows[:26]] == [*range(24), 0, 1]

    def residual(r) -> float:
        return r.y - 0.01 * r.x["t"] - 5 * math.sin(2 * math.pi * r.x["hour"] / 24)

    assert all(abs(residual(r)) < 1e-9 for r in rows if r.x["hour"] <= 12)
    assert statistics.pstdev([residual(r) for r in rows if r.x["hour"] > 12]) > 1.5
