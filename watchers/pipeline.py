"""Poll one feed end to end: fetch -> parse -> store (new only) -> match -> outbox.

This is the per-feed error boundary: whatever goes wrong with one feed is recorded in
its state (and logged once per change of state), and never reaches the other feeds.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from html import escape
from typing import TypeVar
from urllib.parse import urlsplit

import aiohttp

from watchers.config.load import Config
from watchers.detection.rules import RuleSet
from watchers.dispatch import Dispatcher
from watchers.errors import ArmswatchError, FeedGone, FetchError, StoreError, StoreUnavailable
from watchers.feeds.fetch import fetch_feed
from watchers.feeds.parse import declared_ttl, parse_feed, scoped_id
from watchers.feeds.prescan import Sighting, new_entries, parse_entries, scan_feed
from watchers.models import (
    Feed,
    Item,
)
from watchers.store.base import FeedState, QueuedAlert, Store
from watchers.stories.merge import StoryBook

log = logging.getLogger("armswatch.pipeline")
T = TypeVar("T")
INLINE_BYTES = 128 * 1024  # a body this small is scanned on the event loop (~1 ms)
INLINE_ENTRIES = 5  # and this many new entries parsed there (~0.4 ms each)


@dataclass(frozen=True)
class PollResult:
    """What one poll of one feed did."""

    feed: str
    # ok | not_modified | unchanged | error | gone | waiting (not due yet) |
    # deferred (the store could not record it: polled again on the next tick)
    status: str
    items: int = 0
    new: int = 0
    alerts: int = 0
    error: str = ""
    kind: str = ""  # of a failure: the FetchError kind or the exception's class


def poll_tick(feed: Feed, config: Config) -> float:
    """How often a feed's job wakes up: its interval, or min_interval when adaptive."""
    return min(feed.interval, config.min_interval or feed.interval)


class Pipeline:
    """Everything one poll needs, wired once: config, store, rules, HTTP client, parser pool."""

    def __init__(
        self,
        config: Config,
        store: Store,
        rules: RuleSet,
        client: aiohttp.ClientSession,
        executor: Executor | None = None,
        stories: StoryBook | None = None,
    ):
        self.config = config
        self.store = store
        self.rules = rules
        self.client = client
        self.executor = executor
        self.dispatch = Dispatcher(config, store, rules, stories)
        self.fetching = asyncio.Semaphore(config.fetch.concurrency)
        self.hosts: dict[str, asyncio.Semaphore] = {}  # per_host requests in flight to each
        self.unstored: dict[str, str] = {}  # feed url -> why its last poll could not be stored

    def configure(self, config: Config, rules: RuleSet) -> None:
        """Take a reloaded config and its compiled rules, for every poll from now on."""
        if config.fetch.per_host != self.config.fetch.per_host:
            self.hosts = {}  # polls in flight finish under the old limit
        self.config = self.dispatch.config = config
        self.rules = self.dispatch.rules = rules

    def _host_slots(self, url: str) -> asyncio.Semaphore:
        host = urlsplit(url).netloc.lower()  # host and port, as aiohttp's limit_per_host
        if host not in self.hosts:
            self.hosts[host] = asyncio.Semaphore(self.config.fetch.per_host)
        return self.hosts[host]

    async def poll(self, feed: Feed, now: float, force: bool = False) -> PollResult:
        """Poll a feed unless it is backing off; never raises for the feed's own faults."""
        state = self.store.feed_state(feed.url)
        if not force and state.status == "gone":
            return PollResult(feed.name, "gone", error=state.error)
        if not force and not self._due(feed, state, now):
            return PollResult(feed.name, "waiting", error=state.error)
        claimed = self.store.claim_feed(state, now)  # None: another instance polls it
        if claimed is None:
            return PollResult(feed.name, "waiting", error=state.error)
        state = claimed
        try:
            return self._stored(feed, await self._poll(feed, state, now))
        except StoreUnavailable as exc:
            return self._deferred(feed, exc)
        except StoreError:
            raise  # the database is everyone's problem, not this feed's
        except ArmswatchError as exc:
            result, state, notices = self._failed(feed, state, exc, now)
        except Exception as exc:  # a bug must not stop the other feeds either
            log.exception("event=poll_crashed feed=%s", feed.name)
            result, state, notices = self._failed(feed, state, exc, now)
        try:
            self._save(feed, state, notices, now)
        except StoreUnavailable as exc:
            return self._deferred(feed, exc)
        return self._stored(feed, result)

    def _stored(self, feed: Feed, result: PollResult) -> PollResult:
        """A poll that recorded what it had to: the feed no longer waits for the store."""
        if self.unstored.pop(feed.url, None) is not None:
            log.info(
                "event=poll_stored feed=%s note='stored after the database recovered'", feed.name
            )
        return result

    def _deferred(self, feed: Feed, exc: StoreUnavailable) -> PollResult:
        """A poll the store could not record: nothing of it was kept, its feed state
        included, so the feed is due again and its next poll reads the same items."""
        if feed.url not in self.unstored:
            log.warning("event=poll_deferred feed=%s error=%r", feed.name, str(exc))
        self.unstored[feed.url] = str(exc)
        self.dispatch.discard_unstored()  # stories filed in memory by this poll
        return PollResult(feed.name, "deferred", error=str(exc), kind="store")

    def _save(self, feed: Feed, state: FeedState, notices: list[QueuedAlert], now: float) -> None:
        """A poll that stored nothing else defers its state (see Store: a lost one only
        means a re-poll); admin notices commit with the state that records them."""
        if notices:
            self.store.record_items(feed.name, [], notices, now, state=state)
        else:
            self.store.defer_feed_state(state)

    async def _poll(self, feed: Feed, state: FeedState, now: float) -> PollResult:
        """Fetch, parse and store a feed; its state is stored with its items, or deferred."""
        url = state.moved_to or feed.url
        # a host's slot first, so feeds waiting on one busy host hold none of the others';
        # the deadline starts once both are taken
        async with self._host_slots(url), self.fetching:
            fetched = await fetch_feed(
                self.client,
                url,
                self.config.fetch,
                state.etag,
                state.last_modified,
                state.body_hash,
            )
        if fetched.moved_to and fetched.moved_to != state.moved_to:
            log.warning(
                "event=feed_moved feed=%s to=%s note='update its url in the config'",
                feed.name,
                fetched.moved_to,
            )
            state = replace(state, moved_to=fetched.moved_to)
        notices = self._report_recovery(feed, state, now)
        ok = replace(
            state,
            name=feed.name,
            failures=0,
            error="",
            reported=False,
            last_poll=now,
            last_ok=now,
            next_poll=self._next_poll(feed, state, fetched.fresh_for, now),
        )
        if fetched.not_modified:
            return self._quiet(feed, state, ok, "not_modified", notices, now)
        ok = replace(ok, etag=fetched.etag, last_modified=fetched.last_modified)
        if fetched.unchanged:
            return self._quiet(feed, state, ok, "unchanged", notices, now)
        items = await self._new_entries(feed, fetched.body, fetched.content_type, now)
        new = self.store.unseen(items)
        if state.status not in ("ok", "new", "not_modified", "unchanged"):
            log.info("event=feed_recovered feed=%s", feed.name)
        state = replace(state, ttl=declared_ttl(fetched.body) or 0.0)
        # a feed that posts goes back to the fastest tick, if the server and the feed allow
        ok = replace(ok, next_poll=self._next_poll(feed, state, fetched.fresh_for, now, bool(new)))
        ok = replace(
            ok,
            ttl=state.ttl,
            status="ok",
            body_hash=fetched.digest,
            polled_once=True,
            items_total=state.items_total + len(new),
        )
        if not new:
            self._save(feed, ok, notices, now)
            return PollResult(feed.name, "ok", len(items))
        # filing into stories and recording them are one step across instances (a shared
        # store's story lock is held from the first filing to the commit): no await here
        with self.store.filing():
            out = self.dispatch.alerts_for(self._alertable(new, state, now), now)
            self.store.record_items(
                feed.name,
                new,
                [*notices, *out.alerts],
                now,
                stories=out.stories,
                events=out.events,
                digest=out.digest,
                state=ok,  # with its items: a kill leaves both or neither
            )
        log.info(
            "event=poll feed=%s items=%d new=%d alerts=%d",
            feed.name,
            len(items),
            len(new),
            len(out.alerts),
        )
        return PollResult(feed.name, "ok", len(items), len(new), len(out.alerts))

    async def _new_entries(
        self, feed: Feed, body: bytes, content_type: str, now: float
    ) -> list[Item]:
        """Items of the body, parsing only entries not already stored when a scan allows.
        Small work runs inline: a thread hop costs more than scanning 100 KB or parsing a
        few entries, and only large documents would hold the event loop up."""
        scope = urlsplit(feed.url).hostname or ""
        fetched_at = datetime.fromtimestamp(now, UTC)
        small = len(body) <= INLINE_BYTES
        scan = scan_feed(body) if small else await self._in_thread(scan_feed, body)
        if scan is None:
            headers = {"content-type": content_type} if content_type else {}
            items = await self._in_thread(parse_feed, body, feed.name, headers, fetched_at)
        else:
            fresh = new_entries(scan, lambda sightings: self._known(sightings, scope))
            if not fresh:
                return []
            read = functools.partial(parse_entries, scan, fresh, feed.name, fetched_at)
            items = read() if len(fresh) <= INLINE_ENTRIES else await self._in_thread(read)
        return [replace(item, id=scoped_id(item.id, scope)) for item in items]

    async def _in_thread(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def _known(self, sightings: list[Sighting], scope: str) -> set[int]:
        """Indexes of the scanned entries that are stored items (their guid scoped as
        parse_feed's ids are, below)."""
        return self.store.known(
            [(scoped_id(s.guid, scope) if s.guid else s.link, s.link, s.title) for s in sightings]
        )

    def _due(self, feed: Feed, state: FeedState, now: float) -> bool:
        """Whether this tick is the one nearest the feed's next poll."""
        return state.next_poll - now <= poll_tick(feed, self.config) / 2

    def _next_poll(
        self,
        feed: Feed,
        state: FeedState,
        fresh_for: float | None,
        now: float,
        posted: bool = False,
    ) -> float:
        """When to poll next: after the fastest tick when the feed just posted; when it had
        nothing new, a wait that doubles up to its interval (feeds that post often stay
        fast). Never before the server says the feed may change (Cache-Control max-age,
        Expires), up to max_backoff, nor before the feed's own <ttl> (or sy:updatePeriod)
        says, up to its interval."""
        tick = poll_tick(feed, self.config)
        last_wait = state.next_poll - state.last_poll if state.next_poll > state.last_poll else 0
        wait = tick if posted else min(feed.interval, max(tick, 2 * last_wait))
        wait = max(wait, min(fresh_for or 0.0, self.config.fetch.max_backoff))
        wait = max(wait, min(state.ttl, feed.interval))  # the feed's <ttl>, within its interval
        return now + wait

    def _quiet(
        self,
        feed: Feed,
        old: FeedState,
        ok: FeedState,
        status: str,
        notices: list[QueuedAlert],
        now: float,
    ) -> PollResult:
        if old.status in ("error", "gone"):
            log.info("event=feed_recovered feed=%s", feed.name)
        log.debug("event=poll feed=%s status=%s", feed.name, status)
        self._save(feed, replace(ok, status=status), notices, now)
        return PollResult(feed.name, status)

    def _alertable(self, new: Sequence[Item], state: FeedState, now: float) -> list[Item]:
        """All new items, except on a feed's first poll: only those inside the backfill."""
        if state.polled_once:
            return list(new)
        cutoff = now - self.config.backfill
        return [i for i in new if i.published and i.published.timestamp() >= cutoff]

    def _failed(self, feed: Feed, state: FeedState, exc: Exception, now: float):
        kind = exc.kind if isinstance(exc, FetchError) else type(exc).__name__
        message = str(exc) or type(exc).__name__
        failures = state.failures + 1
        status = "gone" if isinstance(exc, FeedGone) else "error"
        delay = self._backoff(feed, failures, getattr(exc, "retry_after", None))
        if status != state.status or message != state.error:
            log.warning(
                "event=feed_failed feed=%s kind=%s failures=%d retry_in=%.0fs error=%r",
                feed.name,
                kind,
                failures,
                delay,
                message,
            )
        new_state = replace(
            state,
            name=feed.name,
            status=status,
            error=message,
            failures=failures,
            last_poll=now,
            next_poll=now + delay,
        )
        notices = self._report_failure(feed, new_state, now)
        if notices:
            new_state = replace(new_state, reported=True)
        return PollResult(feed.name, status, error=message, kind=kind), new_state, notices

    def _report_failure(self, feed: Feed, state: FeedState, now: float) -> list[QueuedAlert]:
        """The admin chat's notice, once, when a feed has failed report_after times in a row."""
        admin = self.config.telegram.admin_chat_id
        if not admin or state.reported or state.failures < self.config.fetch.report_after:
            return []
        text = (
            f"⚠️ Feed <b>{escape(feed.name)}</b> failed {state.failures} times in a row: "
            f"{escape(state.error)}\n{escape(feed.url)}"
        )
        return [QueuedAlert(f"feed-failing:{feed.url}:{int(now)}", admin, text)]

    def _report_recovery(self, feed: Feed, state: FeedState, now: float) -> list[QueuedAlert]:
        """The admin chat's notice when a feed it was told about works again."""
        admin = self.config.telegram.admin_chat_id
        if not admin or not state.reported:
            return []
        text = f"✅ Feed <b>{escape(feed.name)}</b> works again."
        return [QueuedAlert(f"feed-recovered:{feed.url}:{int(now)}", admin, text)]

    def _backoff(self, feed: Feed, failures: int, retry_after: float | None) -> float:
        """Exponential back-off from the feed's interval, capped; Retry-After wins if longer."""
        if failures <= 1:
            delay = 0.0  # one failure: just the next regular poll
        else:
            delay = min(self.config.fetch.max_backoff, feed.interval * 2 ** (failures - 2))
        return max(delay, retry_after or 0.0)
