"""``streamal replay``: evaluate strategies × budgets on a recorded stream."""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import orjson

from streamal.classes import parse_classes
from streamal.cli.base import CLASS_WEIGHT_HELP, UsageError
from streamal.decider import (
    ALL_STRATEGIES,
    BUDGET_MANAGERS,
    DEFAULT_REGRESSION_STRATEGY,
    DEFAULT_STRATEGY,
    Decider,
    check_strategy,
    strategies_for,
)
from streamal.decider.strategies.bandit import RANDOM_SHARE
from streamal.decider.strategies.utility_threshold import EVEN_SHARE
from streamal.model import (
    CLASS_WEIGHTS,
    DEFAULT_MODEL,
    DEFAULT_MODELS,
    DEFAULT_REGRESSOR,
    TASKS,
    Model,
    ModelRefused,
    ModelSpecError,
    task_of_spec,
)
from streamal.replay import (
    LabelDelay,
    ReplayResult,
    ReplaySetup,
    Row,
    SimulatedAnnotator,
    read_labels,
    replay,
)
from streamal.report import render_annotators, render_table, save_plot
from streamal.settings import (
    SHARES,
    EngineSettings,
    SettingsError,
    build_engine,
    default_strategy,
)

__all__ = ["register"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "replay",
        help="replay a recorded stream and score strategies prequentially",
        description="Replay a recorded, labeled stream (CSV, TSV or JSON Lines, optionally "
        "gzipped, or river:NAME for a dataset bundled with river) through the engine with a "
        "simulated oracle that reveals only queried labels, after a delay. A CSV or TSV column "
        "is numeric when every non-empty cell is a number and text when none is; a column "
        "with both, a row with more or fewer cells than the header, or an empty label, id or "
        "time cell is an error naming the line; an empty feature cell is a missing value "
        "(JSON Lines values keep their own types). Labels are read as the daemon reads "
        "answers: 'True' is the class True on a boolean stream.",
    )
    p.add_argument(
        "input",
        help="recorded stream: FILE.csv[.gz], FILE.jsonl[.gz], river:NAME, or "
        "kafka://HOST:PORT/EVENTS_TOPIC[?start=N&end=M] (labels from --labels-topic)",
    )
    p.add_argument("--target", default="y", help="label column (default: y)")
    p.add_argument(
        "--labels-topic",
        default="streamal.labels",
        help="with a kafka:// input: the topic of the labels, on the same broker "
        "(default: streamal.labels)",
    )
    p.add_argument("--id", dest="id_column", metavar="COL", help="event id column")
    p.add_argument("--time", dest="time_column", metavar="COL", help="event time column")
    p.add_argument(
        "--task",
        choices=TASKS,
        help="classification (labels are classes) or regression (labels are numbers); "
        "default: what --model predicts, classification without --model",
    )
    p.add_argument(
        "--model",
        help=f"river model spec (default: {DEFAULT_MODEL}; for regression {DEFAULT_REGRESSOR})",
    )
    p.add_argument(
        "--strategy",
        help=f"NAME[,NAME…] or 'all' (default: {DEFAULT_STRATEGY}; for regression "
        f"{DEFAULT_REGRESSION_STRATEGY}); one of "
        f"{', '.join(ALL_STRATEGIES)} that is for the task",
    )
    p.add_argument("--budget", default="0.1", help="B[,B…], each in (0, 1] (default: 0.1)")
    p.add_argument(
        "--budget-manager",
        choices=list(BUDGET_MANAGERS),
        help="override the strategy's budget manager",
    )
    p.add_argument(
        "--hard-cap",
        action="store_true",
        help="never spend more than floor(b·n)+1 labels in the first n events "
        "(the bandit and the regression rules always hold it)",
    )
    p.add_argument(
        "--drift-aware",
        action="store_true",
        help="ADWIN on the labeled errors; after a drift, restart the thresholds and spend "
        "faster for a window, paid back later under the hard cap",
    )
    p.add_argument(
        "--delay-aware",
        type=int,
        nargs="?",
        const=-1,
        default=0,
        metavar="N",
        help="for N events after a query (default: the --label-delay, which it waits for "
        "its label), do not ask about events within 0.5 standardised units of it; as "
        "serve's --delay-aware N",
    )
    p.add_argument(
        "--random-share",
        type=float,
        metavar="F",
        help=f"bandit: share of the budget asked uniformly at random (default: {RANDOM_SHARE:g}); "
        "the deployed-accuracy estimate's error shrinks as 1/√F",
    )
    p.add_argument(
        "--even-share",
        type=float,
        metavar="F",
        help=f"regression rules: share of the budget asked at an even pace whatever the "
        f"utility (default: {EVEN_SHARE:g}; 0: the papers' rules alone); the deployed-error "
        "estimate rests on those answers",
    )
    p.add_argument(
        "--class-weight",
        choices=list(CLASS_WEIGHTS),
        default="none",
        help=CLASS_WEIGHT_HELP,
    )
    p.add_argument(
        "--label-delay",
        default="0",
        help="events before a queried label arrives (N), or with --time a duration (30s, 5m)",
    )
    p.add_argument(
        "--annotators",
        metavar="SPEC",
        help="simulated annotators instead of the recorded labels: accuracies (0.95,0.85,0.7) "
        "or NAME=ACCURACY[:COST],… (alice=0.95:1,bob=0.7:0.2); each answer comes from one "
        "at random, a wrong one is another class seen so far. Runs each setup twice: "
        "learning the first answer as is, and aggregating answers by estimated reliability "
        "with a second label when their vote is unsure (one answer of an annotator "
        "estimated below 0.75, or a split vote)",
    )
    p.add_argument(
        "--labels-per-query",
        type=int,
        metavar="N",
        help="with --annotators: answers per query, from different annotators (so at most "
        "their number), in the aggregated run (the first-answer run asks one); each is one "
        "label of the budget, so N answers ask 1/N as many events; default 1",
    )
    p.add_argument(
        "--cost-budget",
        type=float,
        metavar="C",
        help="spend at most C cost units per event (unknown costs count 1) instead of "
        "--budget; the decider paces for min(1, C / mean cost)",
    )
    p.add_argument(
        "--classes",
        metavar="A,B,…",
        help="the stream's classes (true,false: booleans; 0,1,2: integers): labels are read "
        "as these and any other is refused, as serve's --classes (default: learned)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the decider (default: 0)")
    p.add_argument("--batch-size", type=int, default=16, help="events per decision batch")
    p.add_argument("--report", type=Path, metavar="PATH", help="write a JSON report")
    p.add_argument("--plot", type=Path, metavar="PATH", help="write a PNG of the learning curves")
    p.add_argument(
        "--queries",
        type=Path,
        metavar="PATH",
        help='write the queried events as JSON Lines: {"strategy", "budget", "id"} per query, '
        "in stream order (compare with a daemon's queries topic)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--jobs", type=int, help="parallel runs, at least 1 (default: one per core, at most 2)"
    )
    p.set_defaults(func=run)


def _strategies(text: str, task: str) -> list[str]:
    if text.strip() == "all":
        return strategies_for(task)
    names = [s.strip() for s in text.split(",") if s.strip()]
    for name in names:
        try:
            check_strategy(name, task)
        except ValueError as e:
            raise UsageError(str(e)) from None
    if not names:
        raise UsageError("--strategy needs at least one name")
    return list(dict.fromkeys(names))


def _budgets(text: str) -> list[float]:
    budgets = []
    for part in text.split(","):
        try:
            b = float(part)
        except ValueError:
            raise UsageError(f"--budget: {part.strip()!r} is not a number") from None
        if not 0.0 < b <= 1.0:
            raise UsageError(f"--budget: {b:g} is outside (0, 1]")
        budgets.append(b)
    return list(dict.fromkeys(budgets))


def parse_annotators(text: str) -> tuple[SimulatedAnnotator, ...]:
    """``--annotators``: accuracies, or ``NAME=ACCURACY[:COST]`` items, comma-separated.

    >>> [(a.name, a.accuracy, a.cost) for a in parse_annotators("0.9,0.6")]
    [('a1', 0.9, 1.0), ('a2', 0.6, 1.0)]
    >>> parse_annotators("alice=0.95:2,bob=0.7")[0]
    SimulatedAnnotator(name='alice', accuracy=0.95, cost=2.0)
    >>> parse_annotators("alice=0.95:cheap")
    Traceback (most recent call last):
    ...
    streamal.cli.base.UsageError: --annotators: 'alice=0.95:cheap' is not ACCURACY or NAME=...
    """
    annotators = []
    for i, item in enumerate(text.split(","), start=1):
        name, sep, rest = item.strip().rpartition("=")
        accuracy, _, cost = rest.partition(":")
        try:
            annotator = SimulatedAnnotator(
                name.strip() if sep else f"a{i}", float(accuracy), float(cost or 1.0)
            )
        except ValueError as e:
            if "must be" in str(e):
                raise UsageError(f"--annotators: {e}") from None
            raise UsageError(
                f"--annotators: {item.strip()!r} is not ACCURACY or NAME=ACCURACY[:COST]"
            ) from None
        if not annotator.name:
            raise UsageError(f"--annotators: {item.strip()!r} has an empty name")
        annotators.append(annotator)
    names = [a.name for a in annotators]
    if len(set(names)) < len(names):
        raise UsageError(f"--annotators: a name is given twice in {text!r}")
    return tuple(annotators)


def parse_delay(text: str, in_time: bool) -> LabelDelay:
    """``--label-delay``: a whole number of events, or with ``--time`` a duration in seconds.

    >>> parse_delay("250", in_time=False), parse_delay("1.5m", in_time=True).amount
    (LabelDelay(amount=250.0, in_time=False), 90.0)
    """
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"--label-delay: {text!r} is not a delay (e.g. 100, or 30s with --time)")
    amount, unit = float(match.group(1)), match.group(2)
    if in_time:
        return LabelDelay(amount * _UNIT_SECONDS[unit or "s"], in_time=True)
    if unit is not None:
        raise UsageError("--label-delay: a duration needs --time COL (the events' time column)")
    if not amount.is_integer():
        raise UsageError(f"--label-delay: {text!r} events is not a whole number")
    return LabelDelay(amount)


def _read(args: argparse.Namespace) -> list[Row]:
    from streamal.connectors.records import RecordingError, read_recording, read_river_dataset

    if args.input.startswith("kafka://"):
        return _read_kafka(args.input, args.labels_topic)
    try:
        if args.input.startswith("river:"):
            return read_river_dataset(args.input.removeprefix("river:"))
        return read_recording(
            args.input,
            target=args.target,
            id_column=args.id_column,
            time_column=args.time_column,
        )
    except RecordingError as e:
        raise UsageError(str(e)) from None


def _read_kafka(url: str, labels_topic: str) -> list[Row]:
    """Events of a topic range with their labels from the labels topic (a daemon's record)."""
    from kafka.errors import KafkaError

    from streamal.connectors.kafka_recording import KafkaRange, read_labeled_rows

    try:
        events = KafkaRange.parse(url)
        labels = KafkaRange(events.bootstrap_servers, labels_topic)
        rows, unlabeled = read_labeled_rows(events, labels)
    except ValueError as e:
        raise UsageError(str(e)) from None
    except KafkaError as e:
        raise UsageError(f"{url}: {e.__class__.__name__}: {e}") from None
    if unlabeled:
        print(f"{unlabeled} events without a label on {labels_topic} left out", file=sys.stderr)
    if not rows:
        raise UsageError(f"{url}: no events with a label on {labels_topic}")
    return rows


# Set before the worker processes fork, so the rows are shared, not pickled per run.
_ROWS: list[Row] = []
_PROGRESS = None


def _report_progress(n: int) -> None:
    with _PROGRESS.get_lock():
        _PROGRESS.value += n


def _run_one(setup: ReplaySetup) -> ReplayResult:
    return replay(_ROWS, setup, _report_progress if _PROGRESS is not None else None)


def run(args: argparse.Namespace) -> int:
    global _ROWS, _PROGRESS
    task = args.task or (task_of_spec(args.model) if args.model else None) or TASKS[0]
    args.model = args.model or DEFAULT_MODELS[task]
    args.strategy = args.strategy or default_strategy(task)
    strategies = _strategies(args.strategy, task)
    budgets = _budgets(args.budget)
    annotators = parse_annotators(args.annotators) if args.annotators else ()
    if annotators and task == "regression":
        raise UsageError("--annotators answer with classes: not for --task regression")
    if args.cost_budget is not None:
        if not (args.cost_budget > 0 and args.cost_budget < float("inf")):
            raise UsageError(f"--cost-budget: {args.cost_budget:g} is not a positive number")
        budgets = budgets[:1]  # the decider's label fraction comes from the cost budget
    delay = parse_delay(args.label_delay, in_time=args.time_column is not None)
    if args.labels_per_query is None:
        args.labels_per_query = 1  # left unset by argparse to tell it from an explicit 1
    elif not annotators:
        raise UsageError("--labels-per-query needs --annotators (the recorded label is one answer)")
    elif not 1 <= args.labels_per_query <= len(annotators):
        raise UsageError(
            f"--labels-per-query {args.labels_per_query}: must be 1 to {len(annotators)}, "
            "the number of --annotators (each answer is from a different one)"
        )
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be at least 1 (leave it out for one per core)")
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    delay_aware = args.delay_aware
    if delay_aware == -1:
        if delay.in_time or delay.amount < 1:
            raise UsageError(
                "--delay-aware without N needs --label-delay N, a delay of N >= 1 events"
            )
        delay_aware = int(delay.amount)
    elif delay_aware < 0:
        raise UsageError(f"--delay-aware: {delay_aware} events is negative")
    try:
        model = Model(args.model)
    except ModelSpecError as e:
        raise UsageError(f"--model: {e}") from None
    if model.task != task:
        raise UsageError(f"--model {args.model!r} does not predict for --task {task}")
    if args.strategy.strip() == "all" and not model.is_committee:
        # 'all' means all that this model can run: committee rules need an ensemble.
        strategies = [s for s in strategies if not Decider(s, task=task).needs_committee]
    for name in strategies:
        try:
            decider = Decider(name, budgets[0], budget_manager=args.budget_manager, task=task)
        except ValueError as e:
            raise UsageError(str(e)) from None
        if decider.needs_committee and not model.is_committee:
            example = (
                "ensemble.BaggingRegressor(linear_model.LinearRegression(), n_models=5)"
                if task == "regression"
                else "ensemble.BaggingClassifier(tree.HoeffdingTreeClassifier(), n_models=5)"
            )
            raise UsageError(f"--strategy {name} needs an ensemble --model, e.g. '{example}'")

    try:
        classes = parse_classes(args.classes) if args.classes else ()
    except ValueError as e:
        raise UsageError(f"--classes: {e}") from None
    # A share given applies to the strategies that take it, and a strategy that does not
    # keeps its default; given for none of the strategies, it is a mistake.
    shares: dict[str, dict[str, float]] = {s: {} for s in strategies}
    for name, _, whose in SHARES:
        given = getattr(args, name)
        takers = [s for s in strategies if name in ALL_STRATEGIES[s].parameters]
        if given is not None and not takers:
            raise UsageError(f"--{name.replace('_', '-')} is a setting of {whose}")
        for s in takers if given is not None else ():
            shares[s][name] = given
    settings = [
        EngineSettings(
            model=args.model,
            strategy=s,
            budget=b,
            budget_manager=args.budget_manager,
            hard_cap=args.hard_cap,
            drift_aware=args.drift_aware,
            delay_aware=delay_aware,
            **shares[s],
            cost_budget=args.cost_budget or 0.0,
            labels_per_query=args.labels_per_query,
            seed=args.seed,
            classes=classes,
            class_weight=args.class_weight,
            task=task,
        )
        for s, b in itertools.product(strategies, budgets)
    ]
    for one in settings:
        try:
            one.check()
        except SettingsError as e:
            raise UsageError(str(e)) from None

    try:
        # Read once here, as each run reads them, to refuse a label in one line before any run.
        rows = read_labels(_read(args), build_engine(settings[0]).schema)
    except ValueError as e:
        raise UsageError(str(e)) from None
    setups = [
        ReplaySetup(
            one,
            delay=delay,
            batch_size=args.batch_size,
            annotators=annotators,
            aggregate=aggregate,
        )
        for one, aggregate in itertools.product(settings, (False, True) if annotators else (False,))
    ]
    jobs = args.jobs or min(2, os.cpu_count() or 1)
    jobs = max(1, min(jobs, len(setups)))
    show_progress = not args.no_progress and sys.stderr.isatty()

    _ROWS = rows
    _PROGRESS = multiprocessing.get_context("fork").Value("q", 0) if show_progress else None
    started = time.perf_counter()
    try:
        if jobs == 1:
            results_iter = map(_run_one, setups)
            results = _drive(results_iter, len(rows) * len(setups), show_progress)
        else:
            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
                results = _drive(pool.map(_run_one, setups), len(rows) * len(setups), show_progress)
    except ModelRefused as e:
        # The daemon dead-letters such an example; a replay of a model that cannot learn
        # the stream's labels measures nothing.
        raise UsageError(f"--model: {e}") from None
    elapsed = time.perf_counter() - started

    print(render_table(results))
    if annotators:
        print()
        print(render_annotators(results))
    print(f"{len(rows)} events × {len(setups)} runs in {elapsed:.1f} s", file=sys.stderr)
    if args.report:
        report = {
            "input": args.input,
            "model": args.model,
            "task": task,
            "seed": args.seed,
            "label_delay": {"amount": delay.amount, "in_time": delay.in_time},
            "cost_budget": args.cost_budget,
            "annotators": [
                {"annotator": a.name, "accuracy": a.accuracy, "cost": a.cost} for a in annotators
            ],
            "runs": [r.to_dict() for r in results],
        }
        _write(args.report, orjson.dumps(report, option=orjson.OPT_INDENT_2))
    if args.queries:
        lines = [
            orjson.dumps({"strategy": r.name, "budget": r.budget, "id": query_id})
            for r in results
            for query_id in r.queried
        ]
        _write(args.queries, b"".join(line + b"\n" for line in lines))
    if args.plot:
        try:
            args.plot.parent.mkdir(parents=True, exist_ok=True)
            save_plot(results, args.plot, title=args.input)
        except OSError as e:
            raise UsageError(f"--plot: cannot write {args.plot}: {e.strerror}") from None
    return 0


def _drive(results_iter, total: int, show_progress: bool) -> list[ReplayResult]:
    """Collect the results, drawing a progress bar from the shared counter meanwhile."""
    if not show_progress:
        return list(results_iter)
    import threading

    from tqdm import tqdm

    done = threading.Event()
    bar = tqdm(total=total, unit="ev", unit_scale=True, file=sys.stderr, leave=False)

    def watch() -> None:
        while not done.wait(0.2):
            bar.n = _PROGRESS.value
            bar.refresh()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        return list(results_iter)
    finally:
        done.set()
        watcher.join()
        bar.close()


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
