"""Prometheus metrics and /healthz on a local HTTP endpoint (off unless [metrics] listen is set).

The daemon records what its stages report (a PollResult per poll, a DeliveryReport per
delivery pass) in a registry of its own; nothing here touches the stages or the database.
The endpoint runs in threads of its own, so /healthz still answers 503 when the event
loop itself is stuck and polls stop completing.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from watchers.errors import ConfigError
from watchers.models import Feed
from watchers.pipeline import PollResult
from watchers.telegram.deliver import DeliveryReport

log = logging.getLogger("armswatch.metrics")

FAILING = ("error", "gone")


class Metrics:
    """The daemon's counters and gauges in their own registry, and the health verdict."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        self.started = clock()
        self.last_poll: float | None = None
        self.stall_after: float | None = None  # None: no feeds, nothing can stall
        self.feed_status: dict[str, str] = {}
        self.store_trouble: str | None = None  # why writes fail, while they do
        self.store_failing_since: float | None = None
        self._define()

    def _define(self) -> None:
        reg = self.registry
        self.polls = Counter(
            "armswatch_polls", "Polls of feeds, by result", ["status"], registry=reg
        )
        self.fetch_errors = Counter(
            "armswatch_fetch_errors", "Failed polls, by kind of fault", ["kind"], registry=reg
        )
        self.items_parsed = Counter(
            "armswatch_items_parsed",
            "Feed entries parsed (entries already stored are skipped)",
            registry=reg,
        )
        self.items_new = Counter(
            "armswatch_items_new", "Items seen for the first time", registry=reg
        )
        self.alerts_queued = Counter(
            "armswatch_alerts_queued", "Alerts put in the outbox", registry=reg
        )
        self.alerts_sent = Counter(
            "armswatch_alerts_sent", "Messages Telegram accepted (alerts and edits)", registry=reg
        )
        self.alerts_failed = Counter(
            "armswatch_alerts_failed", "Alerts Telegram refused for good", registry=reg
        )
        self.outbox_depth = Gauge(
            "armswatch_outbox_depth", "Alerts waiting in the outbox", registry=reg
        )
        self.poll_seconds = Histogram(
            "armswatch_poll_duration_seconds",
            "Time of one poll, fetch to outbox",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60),
            registry=reg,
        )
        lag = Gauge(
            "armswatch_poll_lag_seconds", "Seconds since the last poll completed", registry=reg
        )
        lag.set_function(self.poll_lag)
        failing = Gauge("armswatch_feeds_failing", "Feeds whose last poll failed", registry=reg)
        failing.set_function(lambda: sum(s in FAILING for s in list(self.feed_status.values())))
        writable = Gauge(
            "armswatch_store_writable",
            "1 while the database takes writes, 0 while not",
            registry=reg,
        )
        writable.set_function(lambda: 0 if self.store_trouble else 1)

    def record_poll(self, result: PollResult, seconds: float) -> None:
        """Count one finished poll."""
        self.last_poll = self.clock()
        self.polls.labels(result.status).inc()
        if result.status in FAILING:
            self.fetch_errors.labels(result.kind or "other").inc()
        if result.status != "waiting":
            self.feed_status[result.feed] = result.status
            self.poll_seconds.observe(seconds)
        self.items_parsed.inc(result.items)
        self.items_new.inc(result.new)
        self.alerts_queued.inc(result.alerts)

    def record_delivery(self, report: DeliveryReport) -> None:
        """Count one delivery pass and the outbox left behind."""
        self.alerts_sent.inc(report.sent)
        self.alerts_failed.inc(report.failed)
        self.outbox_depth.set(report.waiting)

    def record_store(self, trouble: str | None) -> None:
        """Whether the database takes writes: None, or why not."""
        if trouble and not self.store_trouble:
            self.store_failing_since = self.clock()
        self.store_trouble = trouble

    def watch_feeds(self, feeds: Iterable[Feed], jitter: float, timeout: float) -> None:
        """Polling has stalled when no poll completed for 2 x the shortest interval + slack.

        The slack is what may legitimately delay a poll: its jitter and its fetch timeout.
        A feed backing off still completes a (skipped) poll on every interval.
        """
        feeds = list(feeds)
        names = {feed.name for feed in feeds}
        self.feed_status = {k: v for k, v in self.feed_status.items() if k in names}
        if not feeds:
            self.stall_after = None
            return
        shortest = min(feed.interval for feed in feeds)
        self.stall_after = 2 * shortest + jitter + timeout

    def poll_lag(self) -> float:
        """Seconds since the last poll completed (since the start before the first)."""
        return max(0.0, self.clock() - (self.last_poll or self.started))

    def health(self) -> tuple[bool, str]:
        """(alive, reason): alive while polls keep completing and the database takes writes."""
        trouble, since = self.store_trouble, self.store_failing_since
        if trouble:
            failing = self.clock() - (since or self.clock())
            return False, f"store: writes fail ({failing:.0f}s): {trouble}"
        lag, limit = self.poll_lag(), self.stall_after
        if limit is None:
            return True, "ok: no feeds to poll"
        if lag > limit:
            return False, f"stalled: no poll completed for {lag:.0f}s (limit {limit:.0f}s)"
        return True, f"ok: last poll completed {lag:.0f}s ago (limit {limit:.0f}s)"


def metrics_app(metrics: Metrics) -> Callable:
    """The WSGI app: /healthz, and the metrics on /metrics (and every other path)."""
    prometheus = make_wsgi_app(metrics.registry)

    def app(environ: dict, start_response: Callable) -> list[bytes]:
        if environ.get("PATH_INFO") != "/healthz":
            return prometheus(environ, start_response)
        alive, reason = metrics.health()
        status = "200 OK" if alive else "503 Service Unavailable"
        body = f"{reason}\n".encode()
        start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
        return [body]

    return app


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Scrapes are not worth a log line."""


class MetricsServer:
    """The HTTP endpoint in a thread; `close()` stops it."""

    def __init__(self, metrics: Metrics, host: str, port: int):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("Server", (ThreadingWSGIServer,), {"address_family": family})
        try:
            self.server = make_server(
                host, port, metrics_app(metrics), server_class, handler_class=_Quiet
            )
        except OSError as exc:
            raise ConfigError(
                f"[metrics] listen: cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from exc
        self.port = self.server.server_port
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )
        self.thread.start()
        log.info("event=metrics_listening address=%s:%d", host, self.port)

    def close(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()


def serve_metrics(metrics: Metrics, listen: tuple[str, int] | None) -> MetricsServer | None:
    """Start the endpoint when [metrics] listen is set; ConfigError when it cannot bind."""
    return MetricsServer(metrics, *listen) if listen else None
