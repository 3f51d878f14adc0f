"""Poll one feed end to end: fetch -> parse -> store (new only) -> match -> outbox.

This is the per-feed error boundary: whatever goes wrong with one feed is recorded in
its state (and logged once per change of state), and never reaches the other feeds.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from html import escape
from urllib.parse import urlsplit

import httpx

from watchers.config import Config
from watchers.digest import PERIODS, compose_digest, digest_line
from watchers.errors import ArmswatchError, FeedGone, FetchError, StoreError
from watchers.fetch import fetch_feed
from watchers.message import format_alert, weapon_names
from watchers.models import (
    Detection,
    DigestEntry,
    EventRow,
    Feed,
    Item,
    Match,
    StoryRow,
    Verdict,
)
from watchers.parse import parse_feed, scoped_id
from watchers.prescan import new_entries, reduced_document, scan_feed
from watchers.rules import RuleSet
from watchers.store import FeedState, QueuedAlert, Store
from watchers.stories import Filing, StoryBook, story_row

log = logging.getLogger("armswatch.pipeline")

CONSOLE_CHAT = "console"


@dataclass(frozen=True)
class PollResult:
    """What one poll of one feed did."""

    feed: str
    status: str  # ok | not_modified | unchanged | error | gone | waiting (not due yet)
    items: int = 0
    new: int = 0
    alerts: int = 0
    error: str = ""
    kind: str = ""  # of a failure: the FetchError kind or the exception's class


@dataclass
class Outgoing:
    """What matching new items produced: alerts to queue and stories to remember."""

    alerts: list[QueuedAlert] = field(default_factory=list)
    stories: list[StoryRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)  # one per alerted item
    digest: list[DigestEntry] = field(default_factory=list)  # collected for digests


def _queued(item_id: str, chat: str, text: str, filing: Filing | None) -> QueuedAlert:
    if filing is None or filing.kind == "send":
        story = filing.story.id if filing else None
        return QueuedAlert(item_id, chat, text, story_id=story)
    return QueuedAlert(item_id, chat, text, filing.kind, filing.story.first_item, filing.story.id)


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
        client: httpx.AsyncClient,
        executor: Executor | None = None,
        stories: StoryBook | None = None,
    ):
        self.config = config
        self.store = store
        self.rules = rules
        self.client = client
        self.executor = executor
        self.stories = stories
        self.fetching = asyncio.Semaphore(config.fetch.concurrency)

    async def poll(self, feed: Feed, now: float, force: bool = False) -> PollResult:
        """Poll a feed unless it is backing off; never raises for the feed's own faults."""
        state = self.store.feed_state(feed.url)
        if not force and state.status == "gone":
            return PollResult(feed.name, "gone", error=state.error)
        if not force and not self._due(feed, state, now):
            return PollResult(feed.name, "waiting", error=state.error)
        try:
            result, state = await self._poll(feed, state, now)
        except StoreError:
            raise  # the database is everyone's problem, not this feed's
        except ArmswatchError as exc:
            result, state = self._failed(feed, state, exc, now)
        except Exception as exc:  # a bug must not stop the other feeds either
            log.exception("event=poll_crashed feed=%s", feed.name)
            result, state = self._failed(feed, state, exc, now)
        self.store.save_feed_state(state)
        return result

    async def _poll(self, feed: Feed, state: FeedState, now: float):
        async with self.fetching:  # bounds requests in flight; the deadline starts after
            fetched = await fetch_feed(
                self.client,
                state.moved_to or feed.url,
                self.config.fetch,
                state.etag,
                state.last_modified,
            )
        if fetched.moved_to and fetched.moved_to != state.moved_to:
            log.warning(
                "event=feed_moved feed=%s to=%s note='update its url in the config'",
                feed.name,
                fetched.moved_to,
            )
            state = replace(state, moved_to=fetched.moved_to)
        self._report_recovery(feed, state, now)
        ok = replace(
            state,
            name=feed.name,
            failures=0,
            error="",
            last_poll=now,
            last_ok=now,
            next_poll=self._next_poll(feed, state, fetched.fresh_for, now),
        )
        if fetched.not_modified:
            return self._quiet(feed, state, ok, "not_modified")
        digest = hashlib.sha256(fetched.body).hexdigest()
        ok = replace(ok, etag=fetched.etag, last_modified=fetched.last_modified)
        if digest == state.body_hash:
            return self._quiet(feed, state, ok, "unchanged")
        items = await self._new_entries(feed, fetched.body, fetched.content_type, now)
        new = self.store.unseen(items)
        out = self.alerts_for(self._alertable(new, state, now), now)
        queued = self.store.record_items(
            feed.name,
            new,
            out.alerts,
            now,
            stories=out.stories,
            events=out.events,
            digest=out.digest,
        )
        if state.status not in ("ok", "new", "not_modified", "unchanged"):
            log.info("event=feed_recovered feed=%s", feed.name)
        if new:
            log.info(
                "event=poll feed=%s items=%d new=%d alerts=%d",
                feed.name,
                len(items),
                len(new),
                queued,
            )
        if new:  # a feed that posts: back to the fastest tick, if the server allows
            ok = replace(ok, next_poll=self._next_poll(feed, state, fetched.fresh_for, now, True))
        ok = replace(
            ok,
            status="ok",
            body_hash=digest,
            polled_once=True,
            items_total=state.items_total + len(new),
        )
        return PollResult(feed.name, "ok", len(items), len(new), queued), ok

    async def _new_entries(
        self, feed: Feed, body: bytes, content_type: str, now: float
    ) -> list[Item]:
        """Items of the body, parsing only entries not already stored when a scan allows."""
        loop = asyncio.get_running_loop()
        scope = urlsplit(feed.url).hostname or ""
        scan = await loop.run_in_executor(self.executor, scan_feed, body)
        headers = {"content-type": content_type} if content_type else {}
        if scan is not None:
            fresh = new_entries(scan, lambda keys: self._known(keys, scope))
            if not fresh:
                return []
            body = await loop.run_in_executor(self.executor, reduced_document, scan, fresh)
            headers = {"content-type": "application/xml; charset=utf-8"}
        fetched_at = datetime.fromtimestamp(now, UTC)
        items = await loop.run_in_executor(
            self.executor, parse_feed, body, feed.name, headers, fetched_at
        )
        return [replace(item, id=scoped_id(item.id, scope)) for item in items]

    def _known(self, keys: list[str], scope: str) -> set[str]:
        """The keys (as the feed writes them) that name stored items."""
        scoped = {scoped_id(key, scope): key for key in keys}
        return {scoped[key] for key in self.store.known(list(scoped))}

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
        Expires), up to max_backoff."""
        tick = poll_tick(feed, self.config)
        last_wait = state.next_poll - state.last_poll if state.next_poll > state.last_poll else 0
        wait = tick if posted else min(feed.interval, max(tick, 2 * last_wait))
        wait = max(wait, min(fresh_for or 0.0, self.config.fetch.max_backoff))
        return now + wait

    def _quiet(self, feed: Feed, old: FeedState, ok: FeedState, status: str):
        if old.status in ("error", "gone"):
            log.info("event=feed_recovered feed=%s", feed.name)
        log.debug("event=poll feed=%s status=%s", feed.name, status)
        return PollResult(feed.name, status), replace(ok, status=status)

    def _alertable(self, new: Sequence[Item], state: FeedState, now: float) -> list[Item]:
        """All new items, except on a feed's first poll: only those inside the backfill."""
        if state.polled_once:
            return list(new)
        cutoff = now - self.config.backfill
        return [i for i in new if i.published and i.published.timestamp() >= cutoff]

    def alerts_for(self, items: Sequence[Item], now: float) -> Outgoing:
        """Match items against the rules; one alert per item and chat, filed into stories."""
        out = Outgoing()
        muted = self.store.muted_rules(now)  # /mute: these rules' matches are not alerted
        for item in items:
            seen = self.rules.read(item)
            verdict = self.rules.verdict(item, seen)
            kept = tuple(m for m in verdict.matches if m.rule not in muted)
            verdict = replace(verdict, matches=tuple(m for m in kept if not m.digest))
            chats = self._by_chat(verdict)
            collected = self._collect(item, verdict.detection, kept, chats, now)
            out.digest.extend(collected)
            if not chats:
                if collected:
                    out.events.append(event_row(item, replace(verdict, matches=kept), now))
                continue
            out.events.append(event_row(item, verdict, now))
            filing = None
            if self.stories is not None:
                filing = self.stories.file(item, seen.text, seen.mentions, verdict.detection, now)
                out.stories.append(story_row(filing.story))
            for chat, matches in chats.items():
                text = format_alert(item, matches, verdict.detection, self.rules.gazetteer.flag)
                out.alerts.append(_queued(item.id, chat, text, filing))
        return out

    def _collect(
        self,
        item: Item,
        detection: Detection,
        matches: tuple[Match, ...],
        alerted: dict[str, tuple[Match, ...]],
        now: float,
    ) -> list[DigestEntry]:
        """Digest rules' matches, except in chats the item alerts in anyway."""
        default = self.config.telegram.chat_id or CONSOLE_CHAT
        entries = []
        for match in matches:
            chat = match.chat_id or default
            if match.digest and chat not in alerted:
                line = digest_line(item, detection, self.rules.gazetteer.flag)
                entries.append(DigestEntry(match.rule, chat, match.digest, item.id, line, now))
        return entries

    def flush_digests(self, now: float) -> int:
        """Queue every digest whose oldest item has waited its period; how many were queued."""
        due = self.store.due_digests(now, PERIODS)
        for rule, chat, cadence in due:
            entries = self.store.digest_lines(rule, chat, cadence)
            text = compose_digest(rule, cadence, [line for _, line in entries])
            alert = QueuedAlert(f"digest:{rule}:{cadence}:{int(now)}", chat, text)
            self.store.queue_digest(alert, [entry_id for entry_id, _ in entries], now)
            log.info("event=digest_queued rule=%s chat=%s items=%d", rule, chat, len(entries))
        return len(due)

    def _by_chat(self, verdict: Verdict) -> dict[str, tuple[Match, ...]]:
        default = self.config.telegram.chat_id or CONSOLE_CHAT
        chats: dict[str, tuple[Match, ...]] = {}
        for match in verdict.matches:
            chat = match.chat_id or default
            chats[chat] = (*chats.get(chat, ()), match)
        return chats

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
        if self._report_failure(feed, new_state, now):
            new_state = replace(new_state, reported=True)
        return PollResult(feed.name, status, error=message, kind=kind), new_state

    def _report_failure(self, feed: Feed, state: FeedState, now: float) -> bool:
        """Tell the admin chat once when a feed has failed report_after times in a row."""
        admin = self.config.telegram.admin_chat_id
        if not admin or state.reported or state.failures < self.config.fetch.report_after:
            return False
        text = (
            f"⚠️ Feed <b>{escape(feed.name)}</b> failed {state.failures} times in a row: "
            f"{escape(state.error)}\n{escape(feed.url)}"
        )
        key = f"feed-failing:{feed.url}:{int(now)}"
        self.store.record_items(feed.name, [], [QueuedAlert(key, admin, text)], now)
        return True

    def _report_recovery(self, feed: Feed, state: FeedState, now: float) -> None:
        """Tell the admin chat when a feed it was told about works again."""
        admin = self.config.telegram.admin_chat_id
        if admin and state.reported:
            text = f"✅ Feed <b>{escape(feed.name)}</b> works again."
            key = f"feed-recovered:{feed.url}:{int(now)}"
            self.store.record_items(feed.name, [], [QueuedAlert(key, admin, text)], now)

    def _backoff(self, feed: Feed, failures: int, retry_after: float | None) -> float:
        """Exponential back-off from the feed's interval, capped; Retry-After wins if longer."""
        if failures <= 1:
            delay = 0.0  # one failure: just the next regular poll
        else:
            delay = min(self.config.fetch.max_backoff, feed.interval * 2 ** (failures - 2))
        return max(delay, retry_after or 0.0)


def event_row(item: Item, verdict: Verdict, now: float) -> EventRow:
    """The detector's reading of an alerted item, to store beside it."""
    found = verdict.detection
    return EventRow(
        item_id=item.id,
        seen_at=now,
        published=item.published.isoformat() if item.published else None,
        source=item.source,
        title=item.title,
        link=item.link,
        supplier=found.supplier,
        recipient=found.recipient,
        weapons=tuple(weapon_names(found)),
        categories=tuple(dict.fromkeys(w.category for w in found.weapons)),
        status=found.status,
        rules=tuple(m.rule for m in verdict.matches),
        score=found.score,
    )
