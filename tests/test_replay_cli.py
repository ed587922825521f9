"""`streamal replay` run as a user runs it: a subprocess on real files."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from river.datasets import synth

from streamal.decider import STRATEGIES, Decider

STREAMAL = [sys.executable, "-m", "streamal"]


def streamal(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*STREAMAL, *args], capture_output=True, text=True, timeout=300)


def run(*args: str) -> subprocess.CompletedProcess:
    return streamal("replay", *args)


@pytest.fixture(scope="module")
def drifting_csv(tmp_path_factory) -> Path:
    """3 000 events of SEA with an abrupt concept change in the middle, with ids and times."""
    path = tmp_path_factory.mktemp("data") / "sea.csv.gz"
    stream = synth.ConceptDriftStream(
        synth.SEA(variant=0, seed=1), synth.SEA(variant=3, seed=2), position=1500, width=50, seed=3
    )
    with gzip.open(path, "wt") as f:
        f.write("event,when,a,b,c,colour,label\n")
        for i, (x, y) in enumerate(stream.take(3000)):
            colour = "red" if x[0] > 5 else "blue"
            f.write(f"e{i},{i * 0.5},{x[0]:.4f},{x[1]:.4f},{x[2]:.4f},{colour},{int(y)}\n")
    return path


def test_replay_end_to_end_with_report_and_plot(drifting_csv, tmp_path):
    report, plot = tmp_path / "r.json", tmp_path / "p.png"
    result = run(
        str(drifting_csv),
        "--target", "label", "--id", "event", "--time", "when",
        "--strategy", "variable_uncertainty,random",
        "--budget", "0.05,0.2",
        "--label-delay", "10s",
        "--seed", "7",
        "--report", str(report),
        "--plot", str(plot),
        "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["strategy", "budget", "accuracy", "labels", "spent", "events/s"]
    assert len(lines) == 5
    data = json.loads(report.read_text())
    assert data["input"] == str(drifting_csv) and data["seed"] == 7
    runs = {(r["strategy"], r["budget"]): r for r in data["runs"]}
    assert set(runs) == {
        ("variable_uncertainty", 0.05),
        ("variable_uncertainty", 0.2),
        ("random", 0.05),
        ("random", 0.2),
    }
    for (_, budget), r in runs.items():
        assert r["events"] == 3000
        assert r["labels"] == round(r["label_fraction"] * 3000)
        assert r["label_fraction"] <= budget + 0.02
        assert 0.5 < r["accuracy"] <= 1.0
        assert r["events_per_second"] > 0
        assert r["curve"][-1][0] == 3000 and r["curve"][-1][1] == pytest.approx(r["accuracy"])
        assert r["curve"][-1][2] == r["labels"]
    # More labels buy accuracy; the uncertainty rule beats random at the same small budget.
    assert runs[("variable_uncertainty", 0.2)]["accuracy"] > runs[("random", 0.05)]["accuracy"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_replay_is_deterministic_and_parallel_equals_serial(drifting_csv, tmp_path):
    def runs(jobs: str) -> list:
        report = tmp_path / f"r{jobs}.json"
        common = ["--target", "label", "--strategy", "split,entropy", "--budget", "0.1"]
        result = run(str(drifting_csv), *common, "--jobs", jobs, "--report", str(report))
        assert result.returncode == 0, result.stderr
        return [
            (r["strategy"], r["accuracy"], r["labels"], r["curve"])
            for r in json.loads(report.read_text())["runs"]
        ]

    assert runs("1") == runs("2")


#: Runs the CLI with a Python audit hook that prints every opening of the input file, in
#: the parent and in the forked workers alike (they inherit the hook and stderr).
_COUNT_OPENS = """
import sys
from pathlib import Path

target = Path(sys.argv[1]).resolve()

def hook(event, args):
    if event == "open" and isinstance(args[0], str) and Path(args[0]).resolve() == target:
        print("OPENED", file=sys.stderr, flush=True)

sys.addaudithook(hook)
from streamal.cli import main
raise SystemExit(main(["replay", *sys.argv[1:]]))
"""


def test_all_strategies_and_budgets_read_the_input_once(drifting_csv, tmp_path):
    report = tmp_path / "all.json"
    args = ["--target", "label", "--strategy", "all", "--budget", "0.01,0.05,0.1,0.2"]
    result = subprocess.run(
        [sys.executable, "-c", _COUNT_OPENS, str(drifting_csv), *args, "--jobs", "2",
         "--report", str(report), "--no-progress"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    runs = json.loads(report.read_text())["runs"]
    # Every strategy the default (single-tree) model can run, at each of the four budgets.
    expected = [s for s in STRATEGIES if not Decider(s).needs_committee]
    assert len(runs) == 4 * len(expected) > 40
    assert {(r["strategy"], r["budget"]) for r in runs} == {
        (s, b) for s in expected for b in (0.01, 0.05, 0.1, 0.2)
    }
    assert result.stderr.count("OPENED") == 1


def test_label_delay_costs_accuracy(drifting_csv, tmp_path):
    accuracy = {}
    for delay in ("0", "1000"):
        report = tmp_path / f"d{delay}.json"
        result = run(
            str(drifting_csv), "--target", "label", "--budget", "0.2",
            "--label-delay", delay, "--report", str(report),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        accuracy[delay] = json.loads(report.read_text())["runs"][0]["accuracy"]
    assert accuracy["1000"] < accuracy["0"]


def test_jsonl_and_river_inputs(tmp_path):
    path = tmp_path / "s.jsonl"
    rows = [
        {"id": f"r{i}", "x": {"v": i % 7, "k": "ab"[i % 2]}, "y": i % 7 > 3} for i in range(400)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    result = run(str(path), "--id", "id", "--strategy", "all", "--budget", "0.3", "--no-progress")
    assert result.returncode == 0, result.stderr
    # 'all' leaves out the committee strategies: the default model is not an ensemble.
    runnable = [s for s in STRATEGIES if not Decider(s).needs_committee]
    assert "qbc" not in runnable
    assert len(result.stdout.strip().splitlines()) == 1 + len(runnable)
    result = run("river:Phishing", "--strategy", "periodic", "--budget", "0.1")
    assert result.returncode == 0, result.stderr
    assert " 125 " in result.stdout  # periodic: exactly floor(0.1 · 1250) labels


@pytest.mark.parametrize(
    ("make_input", "args", "message"),
    [
        (None, [], "no such file"),
        (lambda p: p.write_text(""), [], "empty file"),
        (lambda p: p.write_text("a,y\n"), [], "no records"),
        (lambda p: p.write_text("a,b\n1,2\n"), [], "no label column 'y' (the header has: a, b)"),
        (lambda p: p.write_text("a,y,a\n1,0,2\n"), [], "column 'a' appears twice in the header"),
        (
            lambda p: p.write_text("a,b,y\n1,2,0\n\n3,1\n"),
            [],
            "in.csv:4: 2 cells, the header has 3",
        ),
        (lambda p: p.write_text("a,y\n1,0\n3,1,1\n"), [], "in.csv:3: 3 cells, the header has 2"),
        (lambda p: p.write_text("a,y\n1,0\n2,\n"), [], "in.csv:3: empty label in column 'y'"),
        (lambda p: p.write_text("a,t,y\n1,,0\n"), ["--time", "t"], "empty time in column 't'"),
        (lambda p: p.write_text("a,y\nnan,0\n"), [], "feature 'a' is nan"),
        (lambda p: p.write_text("a,y\n1,0\n"), ["--strategy", "best"], "unknown strategy 'best'"),
        (lambda p: p.write_text("a,y\n1,0\n"), ["--budget", "0"], "0 is outside (0, 1]"),
        (lambda p: p.write_text("a,y\n1,0\n"), ["--budget", "1.5"], "1.5 is outside (0, 1]"),
        (lambda p: p.write_text("a,y\n1,0\n"), ["--budget", "ten"], "'ten' is not a number"),
        (lambda p: p.write_text("a,y\n1,0\n"), ["--model", "os.system('x')"], "--model:"),
        (
            lambda p: p.write_text("a,y\n1,0\n"),
            ["--model", "tree.HoeffdingTreeClassifier(grace_period='x')"],
            "--model: tree.HoeffdingTreeClassifier: grace_period takes int, not str ('x')",
        ),
        (
            lambda p: p.write_text("a,y\n1,0\n"),
            ["--model", "tree.HoeffdingTreeClassifier(gracе_period=200)"],  # a Cyrillic е
            "has no argument 'grac\\u0435_period'; did you mean 'grace_period'?",
        ),
        (lambda p: p.write_text("a,y\n1,0\n"), ["--label-delay", "soon"], "is not a delay"),
        (lambda p: p.write_text("a,y\n1,0\n"), ["--label-delay", "30s"], "needs --time"),
        (lambda p: p.write_text("a,y\n1,0\n"), ["--label-delay", "-3"], "is not a delay"),
        (lambda p: p.write_text("a,y\n1,0\n"), ["--seed", "x"], "invalid int value"),
        (lambda p: p.write_text("a,y\n1,0\n"), ["--id", "key"], "no id column 'key'"),
        (lambda p: p.write_text("a,y\n1,0\n"), ["--strategy", "qbc"], "needs an ensemble"),
        (lambda p: p.write_text("a,y\n1,0\n"), ["--delay-aware"], "needs --label-delay N"),
        (lambda p: p.write_text("a,y\n1,0\n"), ["--jobs", "0"], "--jobs 0: must be at least 1"),
        (lambda p: p.write_text("a,y\n1,0\n"), ["--jobs", "-2"], "--jobs -2: must be at least 1"),
        (
            lambda p: p.write_text("a,y\n1,0\n"),
            ["--labels-per-query", "2"],
            "--labels-per-query needs --annotators",
        ),
        (
            lambda p: p.write_text("a,y\n" + "".join(f"{i},{'xyz'[i % 3]}\n" for i in range(60))),
            ["--model", "linear_model.LogisticRegression()", "--budget", "1"],
            "--model: linear_model.LogisticRegression() tells two classes apart, 'x' and 'y', "
            "and cannot learn a third, 'z'",
        ),
        (
            lambda p: p.write_text("a,y\n1,tall\n2,short\n"),
            ["--task", "regression"],
            "event 0: label 'tall' is not a number (a finite number, e.g. 2.5)",
        ),
        (
            lambda p: p.write_text("a,y\n1,2.5\n"),
            ["--task", "regression", "--strategy", "variable_uncertainty"],
            "strategy 'variable_uncertainty' is not made for regression (choose from: random, ",
        ),
        (
            lambda p: p.write_text("a,y\n1,2.5\n"),
            ["--model", "linear_model.LinearRegression()", "--strategy", "committee_variance"],
            "needs an ensemble --model, e.g. 'ensemble.BaggingRegressor(",
        ),
        (
            lambda p: p.write_text("a,y\n1,2.5\n"),
            ["--task", "regression", "--model", "naive_bayes.GaussianNB()"],
            "does not predict for --task regression",
        ),
        (
            lambda p: p.write_text("a,y\n1,2.5\n"),
            ["--task", "regression", "--annotators", "0.9,0.8"],
            "--annotators answer with classes",
        ),
        (
            lambda p: p.write_text("a,y\n1,2.5\n"),
            ["--task", "regression", "--classes", "1,2"],
            "a numeric target has none",
        ),
        (
            lambda p: p.write_text("a,y\n1,0\n"),
            ["--even-share", "0.5"],
            "--even-share is a setting of the regression rules",
        ),
        (
            lambda p: p.write_text("a,y\n1,2.5\n"),
            ["--task", "regression", "--random-share", "0.5"],
            "--random-share is a setting of the bandit",
        ),
        (
            lambda p: p.write_text("a,y\n1,2.5\n"),
            ["--task", "regression", "--even-share", "1"],
            "even_share must be in [0, 1), got 1",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, make_input, args, message):
    path = tmp_path / "in.csv"
    if make_input is not None:
        make_input(path)
    result = run(str(path), *args)
    assert result.returncode == 2
    assert result.stdout == ""
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            ["x1,0", "1,1", "2,0"],
            "in.csv:3: column 'a' mixes numbers and text: '1' here, 'x1' on line 2",
        ),
        (
            ["1,0", "2,1", "x1,0"],
            "in.csv:4: column 'a' mixes numbers and text: 'x1' here, '1' on line 2",
        ),
    ],
    ids=["text first", "text later"],
)
def test_a_column_of_numbers_and_text_is_refused_wherever_the_text_is(tmp_path, rows, message):
    path = tmp_path / "in.csv"
    path.write_text("\n".join(["a,y", *rows]) + "\n")
    result = run(str(path), "--no-progress")
    assert result.returncode == 2
    hint = "(a CSV column is all numbers or all text; leave a missing value empty)"
    assert result.stderr.strip() == f"error: {tmp_path}/{message} {hint}"


def test_csv_cells_empty_features_are_missing_and_ids_and_times_stay_text(tmp_path):
    # Imported here: ruff's isort cannot yet tell that streamal.connectors is first-party.
    from streamal.connectors.records import read_recording

    path = tmp_path / "in.csv"
    path.write_text("id,t,n,c,y\n01,5,,a,1\n1,6,2.5,b,0\n")
    rows = read_recording(path, id_column="id", time_column="t")
    assert [(r.id, r.ts, r.x, r.y) for r in rows] == [
        ("01", 5.0, {"c": "a"}, 1),
        ("1", 6.0, {"n": 2.5, "c": "b"}, 0),
    ]


def test_labels_per_query_is_at_most_the_number_of_annotators():
    result = run("river:Phishing", "--annotators", "0.9,0.8", "--labels-per-query", "3")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --labels-per-query 3: must be 1 to 2, the number of --annotators "
        "(each answer is from a different one)"
    )


def test_bad_subcommand_and_missing_input():
    for args in ([], ["replay"], ["frobnicate"]):
        result = streamal(*args)
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1


def test_simulated_annotators_with_and_without_aggregation_under_a_cost_budget(tmp_path):
    report = tmp_path / "a.json"
    spec = "alice=0.95:1,bob=0.85:0.5,carol=0.6:0.2"
    result = run(
        "river:Phishing", "--strategy", "random", "--annotators", spec, "--cost-budget", "0.1",
        "--seed", "3", "--report", str(report), "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "random (aggregated)" in result.stdout and "random (first answer)" in result.stdout
    data = json.loads(report.read_text())
    assert data["cost_budget"] == 0.1 and [a["annotator"] for a in data["annotators"]] == [
        "alice",
        "bob",
        "carol",
    ]
    runs = {r["answers"]: r for r in data["runs"]}
    assert set(runs) == {"first answer", "aggregated"}
    # The decider paces for 0.1 / mean cost (0.567) of the events; the engine holds the cost.
    for r in runs.values():
        assert r["budget"] == pytest.approx(0.1 / ((1 + 0.5 + 0.2) / 3))
        assert r["cost"] <= 0.1 * 1250 + 1.0
        assert r["labels"] == sum(a["answers"] for a in r["annotators"])
        observed = {a["annotator"]: a["observed_accuracy"] for a in r["annotators"]}
        assert observed["alice"] > observed["bob"] > observed["carol"]
    estimated = {a["annotator"]: a["estimated_accuracy"] for a in runs["aggregated"]["annotators"]}
    assert estimated["alice"] > estimated["bob"] > estimated["carol"]
    assert estimated["carol"] == pytest.approx(0.6, abs=0.1)
    assert all(a["estimated_accuracy"] is None for a in runs["first answer"]["annotators"])


def test_redundant_answers_spend_the_budget_are_estimated_in_order_and_right_more_often(
    drifting_csv, tmp_path
):
    """Two answers per query on SEA with a drift: what they cost, and the estimates, measured."""
    report = tmp_path / "r.json"
    result = run(
        str(drifting_csv), "--target", "label", "--id", "event", "--strategy", "random",
        "--budget", "0.2", "--annotators", "alice=0.95,bob=0.85,carol=0.6",
        "--labels-per-query", "2", "--seed", "4", "--report", str(report), "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    runs = {r["answers"]: r for r in json.loads(report.read_text())["runs"]}
    aggregated, first = runs["aggregated"], runs["first answer"]
    # The budget counts answers: two to a query, and the re-asks, never more than 20 % of
    # 3,000 events (595 with seed 4); the first-answer run asks one each (612: a coin a query).
    assert 0.19 * 3000 <= aggregated["labels"] <= 0.2 * 3000
    assert sum(a["answers"] for a in aggregated["annotators"]) == aggregated["labels"]
    estimated = {a["annotator"]: a["estimated_accuracy"] for a in aggregated["annotators"]}
    assert estimated["alice"] > estimated["bob"] > estimated["carol"]
    for a in aggregated["annotators"]:  # ~200 answers each: 0.82, 0.74, 0.56 with seed 4
        assert a["estimated_accuracy"] == pytest.approx(a["observed_accuracy"], abs=0.15), a
    # The aggregated labels are right far more often (0.93 against 0.77 with seed 4), for
    # half as many events asked: on this stream the model gains nothing from it (77.8 %
    # against 80.2 %), so the aggregation is judged on its labels.
    assert aggregated["label_accuracy"] >= first["label_accuracy"] + 0.1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--annotators", "0.9,lots"], "'lots' is not ACCURACY or NAME=ACCURACY[:COST]"),
        (["--annotators", "ann=1.5"], "ann: accuracy must be in [0, 1], got 1.5"),
        (["--annotators", "ann=0.9:-1"], "ann: cost must be a number >= 0, got -1"),
        (["--annotators", "a=0.9,a=0.8"], "a name is given twice"),
        (["--cost-budget", "0"], "--cost-budget: 0 is not a positive number"),
    ],
)
def test_bad_annotators_or_cost_budget_is_one_line_and_exit_2(args, message):
    result = run("river:Phishing", *args)
    assert result.returncode == 2
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and message in err, err


def test_a_numeric_target_end_to_end(tmp_path):
    """Regression from a CSV: the report carries the errors, 'all' is the task's strategies."""
    path, report = tmp_path / "friedman.csv", tmp_path / "r.json"
    stream = synth.FriedmanDrift(drift_type="gra", position=(1000, 2000), seed=4)
    with path.open("w") as f:
        f.write(",".join(f"x{j}" for j in range(10)) + ",target\n")
        for x, y in stream.take(3000):
            f.write(",".join(f"{v:.5f}" for v in x.values()) + f",{y:.5f}\n")
    result = run(
        str(path), "--target", "target", "--task", "regression", "--strategy", "all",
        "--model", "preprocessing.StandardScaler() | linear_model.LinearRegression()",
        "--budget", "0.1", "--report", str(report), "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.strip().splitlines()
    assert header.split() == ["strategy", "budget", "mae", "rmse", "r2", "labels", "spent",
                              "events/s"]  # fmt: skip
    data = json.loads(report.read_text())
    runs = {r["strategy"]: r for r in data["runs"]}
    # committee_variance needs an ensemble, which this model is not.
    assert set(runs) == {"random", "periodic", "leverage", "interval_width", "density_ratio"}
    assert data["task"] == "regression"
    for r in runs.values():
        assert {"mae", "rmse", "r2"} <= r.keys() and "accuracy" not in r
        assert 0 < r["mae"] <= r["rmse"] and abs(r["label_fraction"] - 0.1) < 0.01
        assert r["curve"][-1][0] == 3000 and r["curve"][-1][1] == pytest.approx(r["mae"])
    assert [line.split()[0] for line in lines] == sorted(runs, key=lambda s: runs[s]["mae"])


def test_balanced_class_weight_learns_a_rare_class(tmp_path):
    # 6,000 events, 4 % of them "fraud", shifted by 1.5 standard deviations in each of three
    # features. Learning every label alike, the default tree never predicts the rare class
    # (balanced accuracy 0.50); weighting each label by the inverse of its class's share, it
    # does (0.85 in a run by hand), at a few points of plain accuracy.
    rng = np.random.default_rng(5)
    path = tmp_path / "fraud.csv"
    lines = ["f0,f1,f2,label"]
    for _ in range(6000):
        rare = rng.random() < 0.04
        x = rng.normal(1.5 if rare else 0.0, 1.0, size=3)
        lines.append(",".join(f"{v:.5f}" for v in x) + (",fraud" if rare else ",ok"))
    path.write_text("\n".join(lines) + "\n")
    results = {}
    for weight in ("none", "balanced"):
        report = tmp_path / f"{weight}.json"
        done = run(str(path), "--target", "label", "--class-weight", weight, "--report",
                   str(report), "--no-progress")  # fmt: skip
        assert done.returncode == 0, done.stderr
        (results[weight],) = json.loads(report.read_text())["runs"]
    assert results["none"]["balanced_accuracy"] < 0.6
    assert results["balanced"]["balanced_accuracy"] > 0.75
    assert results["balanced"]["accuracy"] < results["none"]["accuracy"]
    refused = run(str(path), "--target", "label", "--class-weight", "balanced",
                  "--model", "naive_bayes.GaussianNB()")  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "error: class_weight balanced needs a model that learns with a weight (its learn_one "
        "takes w, as river's trees and linear models do): 'naive_bayes.GaussianNB()' does not"
    ]


def test_text_labels_are_scored_as_the_classes_the_model_learns(tmp_path):
    # Every CSV cell is text: the engine reads the answer "True" as True, so the model
    # predicts True, and the file's "True" must be scored as that (it scored 0 % before).
    from river.datasets import Phishing

    from streamal.replay import ReplaySetup, Row, replay
    from streamal.settings import EngineSettings

    stream = list(Phishing())
    path, report = tmp_path / "phishing.csv", tmp_path / "r.json"
    names = list(stream[0][0])
    lines = [",".join([*names, "label"])]
    lines += [",".join([*(repr(x[k]) for k in names), str(y)]) for x, y in stream]
    path.write_text("\n".join(lines) + "\n")
    result = run(str(path), "--target", "label", "--report", str(report), "--no-progress")
    assert result.returncode == 0, result.stderr
    scored = json.loads(report.read_text())["runs"][0]
    rows = [Row(id=str(i), x=x, ts=float(i), y=y) for i, (x, y) in enumerate(stream)]
    typed = replay(rows, ReplaySetup(EngineSettings()))
    assert scored["labels"] == typed.labels
    assert scored["accuracy"] == pytest.approx(typed.accuracy) and typed.accuracy > 0.8


def test_a_label_outside_the_given_classes_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("a,y\n1,spam\n2,ham\n3,eggs\n")
    result = run(str(path), "--classes", "spam,ham", "--no-progress")
    assert result.returncode == 2
    assert result.stderr == "error: event 2: label 'eggs' is none of the classes: 'spam', 'ham'\n"
