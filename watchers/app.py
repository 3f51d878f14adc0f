"""Wiring shared by `run` and `once`: store, rules, HTTP client, pipeline and delivery."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TextIO

from watchers.config.load import Config
from watchers.detection.rules import RuleSet, compile_rules
from watchers.errors import ConfigError, StoreUnavailable
from watchers.feeds.fetch import make_client
from watchers.models import Feed
from watchers.pipeline import Pipeline, PollResult
from watchers.store.connect import open_configured
from watchers.stories.merge import StoryBook
from watchers.telegram.deliver import ConsoleSender, Deliverer, DeliveryReport, TelegramSender

log = logging.getLogger("armswatch")


def read_token(config: Config) -> str:
    """The bot token from the environment; '' means print alerts to the terminal."""
    token = os.environ.get(config.telegram.token_env, "").strip()
    if token and not config.telegram.chat_id:
        raise ConfigError(
            f"{config.path.name}: [telegram] chat_id is not set, but "
            f"{config.telegram.token_env} is: set the channel to post to"
        )
    return token


@dataclass
class App:
    """The wired daemon parts; use `open_app`."""

    config: Config
    pipeline: Pipeline
    deliverer: Deliverer
    console: bool

    async def poll_all(self, feeds: tuple[Feed, ...] | None = None) -> list[PollResult]:
        """Poll feeds concurrently (the pipeline bounds requests in flight), each behind its
        own error boundary."""
        now = time.time()
        polls = (self.pipeline.poll(f, now, force=True) for f in feeds or self.config.feeds)
        results = await asyncio.gather(*polls)
        try:
            self.pipeline.store.flush_feed_states()  # the cycle's deferred states, before delivery
        except StoreUnavailable as exc:  # they are polled again on the next run
            log.warning("event=states_not_written error=%r", str(exc))
        return results

    async def deliver_until(self, deadline: float) -> DeliveryReport:
        """Deliver the outbox until it is empty or the deadline passes."""
        total = DeliveryReport()
        while True:
            report = await self.deliverer.deliver_due(until=deadline)
            total.sent += report.sent
            total.failed += report.failed
            total.waiting = report.waiting
            if not report.waiting or time.time() >= deadline:
                return total
            await asyncio.sleep(min(1.0, max(0.0, deadline - time.time())))


EXIT_TERMINATED = 128 + signal.SIGTERM  # what a shell reports for a process TERM killed


@asynccontextmanager
async def open_app(config: Config, rules: RuleSet | None = None, out: TextIO | None = None):
    """Open the store, client and sender; close them all on exit, SIGTERM included (the
    store writes its deferred feed states on close)."""
    token = read_token(config)
    rules = rules or compile_rules(config)
    store = open_configured(config.storage_path, config.storage_url, config.lease)
    if config.storage_max_bytes:
        store.limit_size(config.storage_max_bytes)
    stories = None
    if config.merge_stories:
        since = time.time() - config.story_window
        stories = StoryBook(config.story_window, store.recent_stories(since))
    client = make_client(config.fetch)
    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="parse")
    if token:
        sender = TelegramSender(token, config.telegram)
        await sender.start()
    else:
        sender = ConsoleSender(out)
    per_minute = None if not token else config.telegram.per_minute
    terminated = _cancel_on_sigterm()
    try:
        yield App(
            config,
            Pipeline(config, store, rules, client, executor, stories),
            Deliverer(store, sender, per_minute),
            console=not token,
        )
    except asyncio.CancelledError:
        if terminated.is_set():  # ours: clean up below, then exit as a TERM-killed process
            raise SystemExit(EXIT_TERMINATED) from None
        raise
    finally:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
        try:
            store.close()  # first, as it writes the deferred feed states
        finally:
            if isinstance(sender, TelegramSender):
                await sender.close()
            await client.close()
            executor.shutdown(wait=True, cancel_futures=True)


def _cancel_on_sigterm() -> asyncio.Event:
    """Make SIGTERM cancel the running task (as asyncio.run does for Ctrl-C), so `finally`
    blocks run instead of the process dying at once; `run` replaces this with its own stop.
    The event tells that it happened."""
    terminated = asyncio.Event()
    task = asyncio.current_task()

    def cancel() -> None:
        terminated.set()
        if task is not None:
            task.cancel()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, cancel)
    return terminated
