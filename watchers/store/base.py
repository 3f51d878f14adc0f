"""The store's interface: what every stage may ask of the database, whichever it is
(SQLite in sqlite.py, PostgreSQL in postgres.py), and the values it hands back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from watchers.models import Alert, DigestEntry, EventRow, Item, StoryRow

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
STATE_BATCH = 200  # deferred feed states written together once this many wait


@dataclass(frozen=True)
class FeedState:
    """What we remember about a feed between polls."""

    url: str
    name: str = ""
    etag: str = ""
    last_modified: str = ""
    body_hash: str = ""
    status: str = "new"  # new | ok | not_modified | unchanged | error | gone
    error: str = ""
    failures: int = 0
    next_poll: float = 0.0
    last_poll: float = 0.0
    last_ok: float = 0.0
    polled_once: bool = False
    items_total: int = 0
    moved_to: str = ""  # where a permanent redirect pointed: fetched instead of url
    reported: bool = False  # the admin was told this feed keeps failing
    ttl: float = 0.0  # seconds the feed says it may be cached (<ttl>, sy:updatePeriod); 0: none


@dataclass(frozen=True)
class QueuedAlert:
    """An alert to put in the outbox."""

    item_id: str
    chat_id: str
    text: str
    kind: str = "send"  # send | edit | reply: see models.Alert
    target_item: str | None = None
    story_id: str | None = None


class Store(Protocol):
    """The state of armswatch. Methods raise StoreError (StoreUnavailable while the
    database cannot be reached); the times they take are wall-clock seconds."""

    shared: bool  # other instances may use the same database at once

    def close(self) -> None: ...
    def limit_size(self, max_bytes: int | None) -> int: ...

    # feeds: states, deferred writes, and (when shared) leases
    def feed_state(self, url: str) -> FeedState: ...
    def feed_states(self) -> list[FeedState]: ...
    def save_feed_state(self, state: FeedState) -> None: ...
    def defer_feed_state(self, state: FeedState) -> None: ...
    def flush_feed_states(self) -> int: ...
    def claim_feed(self, state: FeedState, now: float) -> FeedState | None: ...
    def adopt_feeds(self, now: float, limit: int = 100) -> list[str]: ...

    # items
    def unseen(self, items: Sequence[Item]) -> list[Item]: ...
    def known(self, sightings: Sequence[tuple[str, str, str]]) -> set[int]: ...
    def record_items(
        self,
        feed: str,
        items: Iterable[Item],
        alerts: Iterable[QueuedAlert],
        now: float,
        *,
        stories: Iterable[StoryRow] = (),
        digest: Iterable[DigestEntry] = (),
        events: Iterable[EventRow] = (),
        state: FeedState | None = None,
    ) -> int: ...

    # outbox
    def due_alerts(self, now: float, limit: int = 100) -> list[Alert]: ...
    def undelivered_count(self) -> int: ...
    def claim_chat(self, chat_id: str, now: float) -> bool: ...
    def claim_once(self, key: str, now: float) -> bool: ...
    def release_chat(self, chat_id: str) -> None: ...
    def mark_sending(self, alert_id: int, now: float) -> None: ...
    def mark_sent(self, alert_id: int, message_id: int | None, now: float) -> None: ...
    def mark_retry(self, alert_id: int, error: str, next_attempt: float) -> None: ...
    def mark_failed(self, alert_id: int, error: str) -> None: ...
    def sent_since(self, chat_id: str, since: float) -> list[float]: ...

    # events, digests, stories
    def events_since(self, since: float) -> list[EventRow]: ...
    def event_stories(self, since: float) -> dict[str, str]: ...
    def due_digests(self, now: float, periods: dict[str, float]) -> list[tuple[str, ...]]: ...
    def digest_lines(self, rule: str, chat_id: str, cadence: str) -> list[tuple[int, str]]: ...
    def queue_digest(self, alert: QueuedAlert, entry_ids: list[int], now: float) -> bool: ...
    def recent_stories(self, since: float) -> list[StoryRow]: ...
    # filing items into stories, then recording them, as one step across instances:
    # `filing()` spans both (one transaction when shared); `lock_stories()` inside it waits
    # until no other instance is filing, so the stories read next include all of theirs
    def filing(self) -> AbstractContextManager[None]: ...
    def lock_stories(self) -> None: ...
    def stories_changed(self, after: int) -> tuple[list[StoryRow], int]: ...
    def story_sources(self, story_id: str) -> list[tuple[str, str]]: ...
    def sent_alert(self, item_id: str, chat_id: str) -> tuple[str, int | None, str] | None: ...
    def settle_edits(self, target_item: str, chat_id: str, now: float) -> None: ...

    # admin commands and mutes
    def recent_alerts(self, limit: int = 10) -> list[dict]: ...
    def alerts_sent_since(self, since: float) -> int: ...
    def muted_rules(self, now: float) -> dict[str, float]: ...
    def mute_rule(self, rule: str, until: float, by: int, now: float) -> None: ...
    def unmute_rule(self, rule: str, now: float) -> bool: ...

    # tools and tests
    def query(self, sql: str, params: Sequence = ()) -> list[dict]: ...
    def schema_version(self) -> int: ...


def alert_row(alert: QueuedAlert, now: float) -> dict:
    """An outbox row of a new alert (its id is the table's), the same in both stores."""
    return {
        "kind": alert.kind,
        "target_item": alert.target_item,
        "story_id": alert.story_id,
        "item_id": alert.item_id,
        "chat_id": alert.chat_id,
        "text": alert.text,
        "status": PENDING,
        "attempts": 0,
        "error": "",
        "message_id": None,
        "created_at": now,
        "last_attempt": None,
        "sent_at": None,
        "next_attempt": 0.0,
    }
