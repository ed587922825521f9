"""``streamal demo``: the whole loop on one machine, with a live status line.

An embedded Kafka-compatible broker, the daemon, a producer of a drifting
synthetic stream and a simulated annotator (random delay, a little label
noise), until ``--events`` have been scored or Ctrl-C. With ``--task
regression`` (or a river regressor as ``--model``) the stream's target is a
number: the annotator answers numbers (some as text, "12.5"), and the status
line shows the labeled and prequential absolute errors instead of accuracies. With
``--bootstrap-servers`` the demo joins an existing Kafka where a daemon of its
own already serves the topics (as in deploy/compose.yaml): it only produces
events, answers queries and scores predictions.
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import socket
import sys
import tempfile
import threading
import time

from streamal.cli.base import UsageError
from streamal.cli.serve import setup_logging
from streamal.config import ConfigError, load_config
from streamal.model import TASKS

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run broker, daemon, producer and annotator on this machine",
        description="Start an embedded broker, the daemon, a drifting synthetic stream and a "
        "simulated annotator, and show how the budget is spent and what the model learns.",
    )
    parser.add_argument(
        "--events", type=int, default=20_000, help="stop after this many (default 20000)"
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s (default 1000)")
    parser.add_argument("--budget", type=float, default=0.1, help="(default 0.1)")
    parser.add_argument(
        "--task",
        choices=TASKS,
        default=None,
        help="classes (a drifting hyperplane) or numbers (a drifting linear target); "
        "default: what --model predicts, classification without --model",
    )
    parser.add_argument("--strategy", default=None, help="(default: as streamal serve)")
    parser.add_argument("--model", default=None, help="(default: as streamal serve)")
    parser.add_argument(
        "--noise",
        type=float,
        default=0.05,
        help="fraction of wrong labels: the other class, or a number off by a normal error "
        "of deviation 5 (default 0.05)",
    )
    parser.add_argument("--metrics-port", type=int, default=9108, help="0 = off (default 9108)")
    parser.add_argument("--seed", type=int, default=0, help="(default 0)")
    parser.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT",
        help="use this Kafka, served by a separate `streamal serve`, instead of an embedded "
        "broker and daemon",
    )
    parser.set_defaults(func=run)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _shown(value: float | None, numeric: bool) -> str:
    if value is None or math.isnan(value):
        return "  n/a"
    return f"{value:5.2f}" if numeric else f"{value:5.1%}"


def _status(
    daemon, producer, annotator, scorekeeper, started: float, url: str, numeric: bool
) -> str:
    elapsed = max(time.monotonic() - started, 1e-9)
    # A numeric target is scored by its absolute error, classes by accuracy.
    prequential = (
        f"prequential MAE {_shown(scorekeeper.mae, True)}"
        if numeric
        else f"prequential acc {_shown(scorekeeper.accuracy, False)}"
    )
    if daemon is None:  # the daemon runs elsewhere: report what the topics show
        return (
            f"{producer.sent:>7} events sent {producer.sent / elapsed:>6.0f}/s | "
            f"labels {annotator.answered:>5} | {prequential}"
        )
    decider = daemon.engine.decider
    if numeric:
        estimate = daemon.metrics.value("streamal_deployed_absolute_error", bound="estimate")
        score = f"abs err est. {_shown(estimate, True)}"
    else:
        estimate = daemon.metrics.value("streamal_deployed_accuracy_ratio", bound="estimate")
        score = f"accuracy est. {_shown(estimate, False)}"
    return (
        f"{len(scorekeeper.seen):>7} events {len(scorekeeper.seen) / elapsed:>6.0f}/s | "
        f"labels {annotator.answered:>5} asked {decider.labels_spent:>5} "
        f"({decider.spent_fraction:5.1%} of {decider.budget:.0%} budget) | "
        f"{score} | {prequential}" + url
    )


#: With a daemon elsewhere, give up waiting for its predictions after this long without one.
_STALL_SECONDS = 15.0


def run(args: argparse.Namespace) -> int:
    from streamal.connectors.broker import GROUP_OPTIONS, BrokerError, EmbeddedBroker
    from streamal.connectors.daemon import Daemon
    from streamal.connectors.demo import Annotator, EventProducer, Scorekeeper
    from streamal.connectors.kafka import create_topics

    if args.events < 1 or not args.rate > 0 or not 0 <= args.noise <= 1:
        raise UsageError("--events and --rate must be positive and --noise in [0, 1]")
    if args.bootstrap_servers is None and args.metrics_port and not _port_free(args.metrics_port):
        raise UsageError(
            f"metrics port {args.metrics_port} is in use; pick another --metrics-port (0 = off)"
        )
    setup_logging("text")
    logging.getLogger("streamal").setLevel(logging.WARNING)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    interactive = sys.stdout.isatty()
    with tempfile.TemporaryDirectory(prefix="streamal-demo-") as state_dir:
        broker = None
        if args.bootstrap_servers is None:
            try:
                broker = EmbeddedBroker().start()
            except BrokerError as e:
                raise UsageError(str(e)) from None
        bootstrap_servers = args.bootstrap_servers or broker.bootstrap_servers
        try:
            flags = {
                "bootstrap_servers": bootstrap_servers,
                "state_dir": state_dir,
                "predictions_topic": "streamal.predictions",
                "budget": args.budget,
                "strategy": args.strategy,
                "task": args.task,
                "model": args.model,
                "metrics_port": args.metrics_port,
                "metrics_host": "127.0.0.1",
                "seed": args.seed,
                "snapshot_interval": 5.0,
            }
            try:
                config = load_config(flags, {}, GROUP_OPTIONS)
            except ConfigError as e:
                raise UsageError(str(e)) from None
            create_topics(config)
            daemon = serving = None
            if broker is not None:
                daemon = Daemon(config, environ={})
                serving = threading.Thread(target=daemon.run, name="daemon", daemon=True)
                serving.start()
            # The task as the daemon resolved it (a regressor as --model makes it numeric).
            task = config.engine.task
            numeric = task == "regression"
            producer = EventProducer(
                bootstrap_servers, config.events_topic, args.events, args.rate, args.seed, task
            )
            annotator = Annotator(
                bootstrap_servers,
                config.queries_topic,
                config.labels_topic,
                producer.truth,
                noise=args.noise,
                seed=args.seed,
            )
            scorekeeper = Scorekeeper(bootstrap_servers, config.predictions_topic, producer.truth)
            url = (
                f" | http://127.0.0.1:{config.metrics_port}/metrics"
                if config.metrics_port and daemon is not None
                else ""
            )
            target = "numbers" if numeric else "classes"
            print(
                f"broker on {bootstrap_servers}; {args.events} events at {args.rate:g}/s; "
                f"{target}, model {config.engine.model}, strategy {config.engine.strategy}"
            )
            for actor in (annotator, scorekeeper):
                actor.start()
            if daemon is not None:
                # Events sent while the daemon joins its group (seconds on the embedded broker)
                # would be scored in one backlog by a model that has learned nothing yet.
                while not daemon.reading.wait(0.1):
                    if stopping.is_set() or not serving.is_alive():
                        break
            producer.start()
            started = time.monotonic()
            shown = 0.0
            last_seen, last_growth = 0, started
            while not stopping.is_set() and len(scorekeeper.seen) < args.events:
                if serving is not None and not serving.is_alive():
                    raise UsageError("the daemon stopped unexpectedly; see the log above")
                now = time.monotonic()
                if len(scorekeeper.seen) != last_seen:
                    last_seen, last_growth = len(scorekeeper.seen), now
                elif (
                    daemon is None
                    and not producer.is_alive()
                    and now - last_growth > (_STALL_SECONDS)
                ):
                    print(
                        f"\nno predictions for {_STALL_SECONDS:.0f} s: does the daemon write "
                        f"--predictions-topic {config.predictions_topic}?",
                        file=sys.stderr,
                    )
                    break
                if now - shown >= (0.5 if interactive else 5.0):
                    line = _status(daemon, producer, annotator, scorekeeper, started, url, numeric)
                    print(f"\r{line}" if interactive else line, end="" if interactive else "\n")
                    sys.stdout.flush()
                    shown = now
                time.sleep(0.1)
            if not stopping.is_set():
                # The last queries are still with the annotator: let its answers out.
                stopping.wait(annotator.delay[1] + 0.5)
            final = _status(daemon, producer, annotator, scorekeeper, started, url, numeric)
            print(f"\r{final}" if interactive else final)
            for actor in (producer, annotator, scorekeeper):
                actor.stopping.set()
            if daemon is not None:
                daemon.stop()
                serving.join(timeout=30)
            for actor in (producer, annotator, scorekeeper):
                actor.join(timeout=10)
        finally:
            if broker is not None:
                broker.stop()
    print("demo stopped" + (" (interrupted)" if stopping.is_set() else ""))
    return 0
