"""The daemon: APScheduler polls each feed on its interval; config reload; clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from watchers.app import App, compile_rules, open_app
from watchers.config import Config, load_config
from watchers.errors import ArmswatchError
from watchers.models import Feed

log = logging.getLogger("armswatch.schedule")

DELIVERY_TICK = 5.0
STOP_TIMEOUT = 2.0


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

    async def run(self) -> None:
        """Schedule every feed, deliver continuously, and wait for a stop signal."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop, sig.name)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload, "SIGHUP")
        self.scheduler.start()
        self.schedule_feeds(self.app.config.feeds)
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
        # In-flight polls are abandoned: nothing of theirs was stored yet, or all of it was
        # (one transaction per feed), so the next start redoes them safely.
        for task in (*self.polling, *tasks):
            task.cancel()
        await asyncio.wait((*self.polling, *tasks), timeout=STOP_TIMEOUT)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        log.info("event=stopped queued=%d", self.app.pipeline.store.undelivered_count())

    def stop(self, why: str = "") -> None:
        """Stop scheduling and end `run`."""
        log.info("event=stopping reason=%s", why or "request")
        self.stopping.set()

    def fail(self, why: str) -> None:
        """Stop because state can no longer be recorded (the database failed)."""
        log.error("event=fatal error=%r", why)
        self.fatal = why
        self.stop("fatal error")

    def schedule_feeds(self, feeds: tuple[Feed, ...]) -> None:
        """Add, reschedule or remove feed jobs to match the configured feeds."""
        wanted = {feed.url: feed for feed in feeds}
        for url in set(self.feeds) - set(wanted):
            self.scheduler.remove_job(url)
            log.info("event=feed_removed feed=%s", self.feeds.pop(url).name)
        for url, feed in wanted.items():
            if self.feeds.get(url) == feed:
                continue
            if url in self.feeds:
                self.scheduler.remove_job(url)
            self._add_job(feed, first=url not in self.feeds)
            self.feeds[url] = feed

    def _add_job(self, feed: Feed, first: bool) -> None:
        jitter = self.app.config.jitter
        spread = random.uniform(0, min(feed.interval, max(jitter, 1.0)))
        self.scheduler.add_job(
            self.poll_feed,
            IntervalTrigger(seconds=feed.interval, jitter=int(jitter) or None),
            args=[feed.url],
            id=feed.url,
            name=feed.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(max(1, feed.interval // 2)),
            next_run_time=datetime.now(UTC) + timedelta(seconds=spread),
        )
        if not first:
            log.info("event=feed_rescheduled feed=%s interval=%gs", feed.name, feed.interval)

    async def poll_feed(self, url: str) -> None:
        """The job of one feed: poll it, wake delivery when alerts were queued."""
        feed = self.feeds.get(url)
        task = asyncio.current_task()
        if feed is None or self.stopping.is_set() or task is None:
            return
        self.polling.add(task)
        try:
            result = await self.app.pipeline.poll(feed, time.time())
        except ArmswatchError as exc:  # the store failed: nothing can be recorded, stop
            self.fail(str(exc))
            return
        except asyncio.CancelledError:
            log.debug("event=poll_abandoned feed=%s", feed.name)
            return
        finally:
            self.polling.discard(task)
        if result.alerts:
            self.wake_delivery.set()

    async def deliver_forever(self) -> None:
        """Deliver the outbox whenever alerts are queued, and on a regular tick for retries."""
        while not self.stopping.is_set():
            try:
                await self.app.deliverer.deliver_due(until=time.time() + 3600)
            except ArmswatchError as exc:
                self.fail(str(exc))
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
        if config.storage_path != old.storage_path or config.telegram != old.telegram:
            log.warning("event=config_partial note='[storage] and [telegram] apply on restart'")
            config = replace(config, storage_path=old.storage_path, telegram=old.telegram)
        self.app.config = config
        self.app.pipeline.config = config
        self.app.pipeline.rules = rules
        self.schedule_feeds(config.feeds)
        log.info("event=config_reloaded feeds=%d rules=%d", len(config.feeds), len(config.rules))
        return True


async def run_daemon(config: Config) -> str | None:
    """`bot.py run`: the daemon until a stop signal; the fatal error if one stopped it."""
    async with open_app(config) as app:
        daemon = Daemon(app, config.path)
        await daemon.run()
        return daemon.fatal
