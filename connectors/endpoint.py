"""The daemon's HTTP endpoint: ``/metrics`` for Prometheus, ``/healthz`` for liveness probes.

Both are served from a thread of their own, so ``/metrics`` answers even when
the main loop is stuck; ``/healthz`` is what sees that. The loop beats a
:class:`Heartbeat` after each turn (and while it waits out a broker outage,
which is the broker's fault, not the loop's), and ``/healthz`` answers 503
once no beat has come for the timeout: a probe then restarts a daemon whose
loop hangs, which the metrics thread alone would hide.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = ["Heartbeat", "MetricsEndpoint"]


class Heartbeat:
    """When the loop last finished a turn; a start counts as one, for a grace period.

    >>> heartbeat = Heartbeat(timeout=60.0)
    >>> heartbeat.healthy()
    True
    >>> heartbeat.last -= 61.0
    >>> heartbeat.healthy(), round(heartbeat.age())
    (False, 61)

    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.last = time.monotonic()

    def beat(self) -> None:
        self.last = time.monotonic()

    def age(self) -> float:
        return time.monotonic() - self.last

    def healthy(self) -> bool:
        return self.age() <= self.timeout


class MetricsEndpoint:
    """Serve ``registry`` at ``/metrics`` and ``heartbeat`` at ``/healthz`` on ``host:port``."""

    def __init__(
        self, registry: CollectorRegistry, heartbeat: Heartbeat, host: str, port: int
    ) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._answer(200, generate_latest(registry), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    status, text = endpoint.health()
                    self._answer(status, text.encode(), "text/plain; charset=utf-8")
                else:
                    self._answer(404, b"not found: try /metrics or /healthz\n", "text/plain")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # a scrape every few seconds is no news

        self.heartbeat = heartbeat
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="metrics", daemon=True
        )

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def health(self) -> tuple[int, str]:
        age = self.heartbeat.age()
        if self.heartbeat.healthy():
            return 200, f"ok: the poll loop turned {age:.1f} s ago\n"
        return 503, (
            f"stuck: the poll loop has not turned for {age:.1f} s "
            f"(limit {self.heartbeat.timeout:g} s)\n"
        )

    def start(self) -> MetricsEndpoint:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
