"""The daemon: APScheduler polls each feed on its interval; config reload; clean shutdown.

Storage trouble (StoreUnavailable: the disk or [storage] max_bytes is full, the file stays
locked) does not stop it: polls that cannot be stored are polled again on their next
tick, deferred feed states wait in memory, delivery records what it can; the log, the
admin chat and /healthz say so once when writes start failing and once when they work
again (store_watch.py). Any other StoreError stops `run` with exit code 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from watchers.admin import start_admin
from watchers.app import App, open_app, read_token
from watchers.config.load import Config, load_config
from watchers.detection.rules import compile_rules
from watchers.errors import ArmswatchError, StoreUnavailable
from watchers.models import Feed
from watchers.ops.metrics import Metrics, serve_metrics
from watchers.ops.report import weekly_report
from watchers.pipeline import poll_tick
from watchers.store_watch import StoreWatch

log = logging.getLogger("armswatch.schedule")

DELIVERY_TICK = 5.0
STOP_TIMEOUT = 2.0
REPORT_JOB = "weekly-report"
FLUSH_JOB, FLUSH_TICK = "flush-feed-states", 5  # deferred feed states wait at most this (s)
ADOPT_JOB = "adopt-feeds"  # shared store: every lease/4 s, the feeds of dead instances
START_RATE = 20.0  # first polls per second at most, on average, when a daemon starts


class Daemon:
    """Runs until SIGTERM/SIGINT: polls on schedule, delivers, reloads config on change."""

    def __init__(self, app: App, config_path: Path):
        self.app = app
        self.config_path = config_path
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.stopping = asyncio.Event()
        self.wake_delivery = asyncio.Event()
        self.feeds: dict[str, Feed] = {}
        self.fatal: str | None = None  # why the daemon had to stop, if it had to
        self.polling: set[asyncio.Task] = set()
        self.busy: set[str] = set()  # feeds being polled: an adopted feed is not polled twice
        self.metrics = Metrics()
        self.store_watch = StoreWatch(app, self.metrics)

    async def run(self) -> None:
        """Schedule every feed, deliver continuously, and wait for a stop signal."""
        server = serve_metrics(self.metrics, self.app.config.metrics_listen)  # None when off
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop, sig.name)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload, "SIGHUP")
        self.scheduler.start()
        self.scheduler.add_job(
            self.flush_states,
            IntervalTrigger(seconds=FLUSH_TICK),
            id=FLUSH_JOB,
            name="flush feed states",
            coalesce=True,
            misfire_grace_time=FLUSH_TICK,
        )
        if self.app.pipeline.store.shared:
            every = max(1, int(self.app.config.lease / 4))
            self.scheduler.add_job(
                self.adopt_feeds,
                IntervalTrigger(seconds=every),
                id=ADOPT_JOB,
                name="adopt the feeds of dead instances",
                coalesce=True,
                misfire_grace_time=every,
            )
        self.schedule_feeds(self.app.config.feeds)
        self.schedule_report()
        admin = start_admin(self.app, read_token(self.app.config))  # None without admins
        tasks = [
            asyncio.create_task(self.deliver_forever(), name="deliver"),
            asyncio.create_task(self.watch_config(), name="watch-config"),
        ]
        log.info(
            "event=started feeds=%d rules=%d mode=%s",
            len(self.feeds),
            len(self.app.config.rules),
            "console" if self.app.console else "telegram",
        )
        await self.stopping.wait()
        self.scheduler.shutdown(wait=False)
        if admin:
            await asyncio.wait_for(admin.stop(), STOP_TIMEOUT)
        if server:
            server.close()
        # In-flight polls are abandoned: nothing of theirs was stored yet, or all of it was
        # (one transaction per feed), so the next start redoes them safely.
        for task in (*self.polling, *tasks):
            task.cancel()
        await asyncio.wait((*self.polling, *tasks), timeout=STOP_TIMEOUT)
        await self.flush_states()  # before SIGTERM is the default again (close() would too)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        try:
            queued = self.app.pipeline.store.undelivered_count()
        except StoreUnavailable:
            queued = -1  # unknown: the database is away
        log.info("event=stopped queued=%d", queued)

    def stop(self, why: str = "") -> None:
        """Stop scheduling and end `run`."""
        log.info("event=stopping reason=%s", why or "request")
        self.stopping.set()

    def fail(self, why: str) -> None:
        """Stop because state can no longer be recorded (the database failed)."""
        log.error("event=fatal error=%r", why)
        self.fatal = why
        self.stop("fatal error")

    async def flush_states(self) -> None:
        """Write the feed states that polls deferred (see Store); async, so that APScheduler
        runs it on the loop, not in a thread."""
        self._storing("feed states", self.app.pipeline.store.flush_feed_states)

    def _storing(self, job: str, write: Callable[[], object]) -> None:
        """Run a write of a job: a passing failure is noted (the job runs again), any
        other stops the daemon."""
        try:
            write()
        except StoreUnavailable as exc:
            self.store_watch.note(job, exc)
        except ArmswatchError as exc:  # the store failed for good: stop
            self.fail(str(exc))
        else:
            self.store_watch.note(job, None)

    async def adopt_feeds(self) -> None:
        """Take over the feeds whose owner is a lease late (it died) and poll them now."""
        try:
            urls = self.app.pipeline.store.adopt_feeds(time.time())
        except StoreUnavailable as exc:
            self.store_watch.note("polls", exc)
            return
        except ArmswatchError as exc:
            self.fail(str(exc))
            return
        for url in urls:
            if url in self.feeds:
                log.info("event=feed_adopted feed=%s", self.feeds[url].name)
                asyncio.create_task(self.poll_feed(url), name=f"adopted {url}")

    def schedule_feeds(self, feeds: tuple[Feed, ...]) -> None:
        """Add, reschedule or remove feed jobs to match the configured feeds."""
        wanted = {feed.url: feed for feed in feeds}
        for url in set(self.feeds) - set(wanted):
            self.scheduler.remove_job(url)
            self.app.pipeline.unstored.pop(url, None)  # no longer waits to be stored
            log.info("event=feed_removed feed=%s", self.feeds.pop(url).name)
        for url, feed in wanted.items():
            if self.feeds.get(url) == feed:
                continue
            if url in self.feeds:
                self.scheduler.remove_job(url)
            self._add_job(feed, first=url not in self.feeds, spread=len(wanted) / START_RATE)
            self.feeds[url] = feed
        config = self.app.config
        self.metrics.watch_feeds(self.feeds.values(), config.jitter, config.fetch.timeout)

    def _add_job(self, feed: Feed, first: bool, spread: float) -> None:
        """Schedule a feed; first polls spread out so many feeds never start at once."""
        jitter = self.app.config.jitter
        delay = random.uniform(0, min(feed.interval, max(jitter, 1.0, spread)))
        self.scheduler.add_job(
            self.poll_feed,
            IntervalTrigger(seconds=poll_tick(feed, self.app.config), jitter=int(jitter) or None),
            args=[feed.url],
            id=feed.url,
            name=feed.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(max(1, feed.interval // 2)),
            next_run_time=datetime.now(UTC) + timedelta(seconds=delay),
        )
        if not first:
            log.info("event=feed_rescheduled feed=%s interval=%gs", feed.name, feed.interval)

    async def poll_feed(self, url: str) -> None:
        """The job of one feed: poll it, wake delivery when alerts were queued."""
        feed = self.feeds.get(url)
        task = asyncio.current_task()
        if feed is None or self.stopping.is_set() or task is None or url in self.busy:
            return
        self.polling.add(task)
        self.busy.add(url)
        started = time.time()
        try:
            result = await self.app.pipeline.poll(feed, started)
        except StoreUnavailable as exc:  # its reads failed: the database server is away
            self.store_watch.note("polls", exc)
            return
        except ArmswatchError as exc:  # the store failed: nothing can be recorded, stop
            self.fail(str(exc))
            return
        except asyncio.CancelledError:
            log.debug("event=poll_abandoned feed=%s", feed.name)
            return
        finally:
            self.polling.discard(task)
            self.busy.discard(url)
        self.store_watch.note("polls", None)
        self.metrics.record_poll(result, time.time() - started)
        if result.alerts or self.store_watch.changed():
            self.wake_delivery.set()  # alerts to send, or news about the store to tell

    async def deliver_forever(self) -> None:
        """Deliver the outbox whenever alerts are queued, and on a regular tick for retries
        and for digests that have become due."""
        while not self.stopping.is_set():
            self._storing("digests", lambda: self.app.pipeline.dispatch.flush_digests(time.time()))
            try:
                report = await self.app.deliverer.deliver_due(until=time.time() + 3600)
                self.metrics.record_delivery(report)
                self.store_watch.note("delivery", None)
            except StoreUnavailable as exc:  # its reads failed for now
                self.store_watch.note("delivery", exc)
            except ArmswatchError as exc:
                self.fail(str(exc))
            await self.store_watch.report()
            self.wake_delivery.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake_delivery.wait(), DELIVERY_TICK)

    async def watch_config(self) -> None:
        """Reload the config whenever its file changes."""
        from watchfiles import awatch

        name = self.config_path.name

        def is_config(_change: object, path: str) -> bool:
            return Path(path).name == name

        # Watch the folder, not the file: editors replace the file on save.
        folder = self.config_path.resolve().parent
        async for _ in awatch(folder, watch_filter=is_config, stop_event=self.stopping):
            self.reload()

    def request_reload(self, why: str) -> None:
        log.info("event=reload_requested reason=%s", why)
        self.reload()

    def reload(self) -> bool:
        """Apply an edited config; an invalid one is logged and the running one stays."""
        try:
            config = load_config(self.config_path)
            rules = compile_rules(config)
        except ArmswatchError as exc:
            log.error("event=config_rejected error=%r (keeping the running config)", str(exc))
            return False
        old = self.app.config
        at_restart = ("storage_path", "storage_url", "lease", "telegram", "metrics_listen")
        if any(getattr(config, key) != getattr(old, key) for key in at_restart):
            log.warning(
                "event=config_partial note='[storage], [telegram] and [metrics] apply on restart'"
            )
            config = replace(config, **{key: getattr(old, key) for key in at_restart})
        if config.storage_max_bytes != old.storage_max_bytes:
            self.limit_size(config.storage_max_bytes)
        self.app.config = config
        self.app.pipeline.configure(config, rules)
        self.schedule_feeds(config.feeds)
        self.schedule_report()
        log.info("event=config_reloaded feeds=%d rules=%d", len(config.feeds), len(config.rules))
        return True

    def schedule_report(self) -> None:
        """Add, move or drop the weekly report job to match `[report] weekly` (UTC)."""
        if self.scheduler.get_job(REPORT_JOB):
            self.scheduler.remove_job(REPORT_JOB)
        if not self.app.config.report_weekly:
            return
        day, at = self.app.config.report_weekly.split()
        hour, minute = (int(part) for part in at.split(":"))
        self.scheduler.add_job(
            self.send_report,
            CronTrigger(day_of_week=day, hour=hour, minute=minute, timezone=UTC),
            id=REPORT_JOB,
            name="weekly report",
            coalesce=True,
            misfire_grace_time=3600,
        )

    def limit_size(self, max_bytes: int | None) -> None:
        """Apply an edited [storage] max_bytes to the open database."""
        try:
            limit = self.app.pipeline.store.limit_size(max_bytes)
        except ArmswatchError as exc:
            log.error("event=store_limit_failed error=%r", str(exc))
            return
        log.info("event=store_limited max_bytes=%s", limit if max_bytes else "none")

    async def send_report(self) -> None:
        """The weekly job: the last 7 days' chart to the channel (or to a file, no token)."""
        config, store, now = self.app.config, self.app.pipeline.store, time.time()
        try:
            if not store.claim_once(
                f"weekly-report:{time.strftime('%G-W%V', time.gmtime(now))}", now
            ):
                log.info("event=report_skipped reason='another instance sent it'")
                return
            await weekly_report(config, store, read_token(config), now)
        except StoreUnavailable as exc:  # its reads failed for now: skip this week's
            log.warning("event=report_skipped error=%r", str(exc))
        except ArmswatchError as exc:  # the store failed
            self.fail(str(exc))


async def run_daemon(config: Config) -> str | None:
    """`bot.py run`: the daemon until a stop signal; the fatal error if one stopped it."""
    async with open_app(config) as app:
        daemon = Daemon(app, config.path)
        await daemon.run()
        return daemon.fatal
