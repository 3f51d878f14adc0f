"""The store: seen items, feed state and the alert outbox (SQLite, WAL); its tables and rows
are in tables.py."""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import sqlite_utils

from watchers.errors import StoreError
from watchers.models import Alert, DigestEntry, EventRow, Item, StoryRow
from watchers.store.tables import (
    SCHEMA,
    add_missing_columns,
    event_from_row,
    event_to_row,
    insert_rows,
    item_row,
    story_from_row,
    story_to_row,
)

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


def _guarded(method: Callable) -> Callable:
    """Turn SQLite errors into StoreError naming the database file."""

    @functools.wraps(method)
    def guarded(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {method.__name__} failed: {exc}") from exc

    return guarded


class Store:
    """SQLite state of armswatch; open with open_store()."""

    def __init__(self, db: sqlite_utils.Database, path: Path):
        self.db = db
        self.path = path
        self._states: dict[str, FeedState] | None = None  # every feed's state, read once
        self._pending: dict[str, FeedState] = {}  # deferred: in _states, not yet in SQLite

    def close(self) -> None:
        """Write the deferred feed states, then close the database."""
        try:
            self.flush_feed_states()
        finally:
            self.db.close()

    # feeds ------------------------------------------------------------------
    # Feed states are read once, then kept in memory (only this class writes them; a
    # `once` run beside the daemon is seen at the daemon's next start). A poll that stored
    # nothing else defers its state: deferred states are written in one transaction with
    # the next items (record_items), at STATE_BATCH, by flush_feed_states (the daemon's
    # timer, the end of a `once` cycle) and by close().
    # A kill before that write is safe: the file keeps an older state, so the next start
    # polls those feeds again (older validators: a 200 for a 304; an older hash: a parse
    # for a skip). No item is lost, as items commit with their feed's state; none is
    # alerted twice, as re-read items are deduplicated against the items table, which is
    # always committed, and an admin notice commits with the `reported` state it sets.
    @_guarded
    def feed_state(self, url: str) -> FeedState:
        """The state of a feed, or a fresh one."""
        return self._all_states().get(url) or FeedState(url=url)

    @_guarded
    def feed_states(self) -> list[FeedState]:
        """All feed states."""
        return list(self._all_states().values())

    @_guarded
    def save_feed_state(self, state: FeedState) -> None:
        """Write a feed's state now (with any deferred ones)."""
        with self.db.atomic():
            self._write_states([state])
        self._settle_states([state])

    @_guarded
    def defer_feed_state(self, state: FeedState) -> None:
        """Keep a feed's state, to be written with the next batch (see above)."""
        self._all_states()[state.url] = state
        self._pending[state.url] = state
        if len(self._pending) >= STATE_BATCH:
            self.flush_feed_states()

    @_guarded
    def flush_feed_states(self) -> int:
        """Write the deferred feed states in one transaction; how many there were."""
        count = len(self._pending)
        if count:
            with self.db.atomic():
                self._write_states([])
            self._settle_states([])
        return count

    def _all_states(self) -> dict[str, FeedState]:
        if self._states is None:
            rows = self._select("select * from feeds")
            self._states = {row["url"]: _state_from_row(row) for row in rows}
        return self._states

    def _write_states(self, states: list[FeedState]) -> None:
        """Write the deferred states and these, inside the caller's transaction."""
        rows = [_state_row(s) for s in (*self._pending.values(), *states)]
        if rows:
            self.db.conn.executemany(_SAVE_STATE, rows)

    def _settle_states(self, states: list[FeedState]) -> None:
        """After the commit: the deferred states are written and these are current."""
        self._pending.clear()
        known = self._all_states()
        for state in states:
            known[state.url] = state

    def _select(self, sql: str, params: Sequence = ()) -> list[dict]:
        """Rows of a read as dicts (db.query's savepoint guard is for unknown SQL)."""
        cursor = self.db.conn.execute(sql, params)
        keys = [column[0] for column in cursor.description]
        return [dict(zip(keys, row, strict=True)) for row in cursor]

    # items ------------------------------------------------------------------
    @_guarded
    def unseen(self, items: Sequence[Item]) -> list[Item]:
        """The items whose id and link were never stored (the new ones), in order."""
        if not items:
            return []
        seen = self._seen_keys([i.id for i in items], [i.link for i in items if i.link])
        new, batch = [], set()
        for item in items:
            keys = {item.id, item.link} - {""}
            if keys & seen or keys & batch:
                continue
            batch |= keys
            new.append(item)
        return new

    @_guarded
    def known(self, keys: list[str]) -> set[str]:
        """Those of the keys that are the id or the link of a stored item."""
        return self._seen_keys(keys, keys)

    def _seen_keys(self, ids: list[str], links: list[str]) -> set[str]:
        found: set[str] = set()
        for column, values in (("id", ids), ("link", links)):
            for start in range(0, len(values), 500):
                chunk = values[start : start + 500]
                marks = ",".join("?" * len(chunk))
                sql = f"select {column} from items where {column} in ({marks})"
                found |= {row[column] for row in self._select(sql, chunk)}
        return found

    @_guarded
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
    ) -> int:
        """Store new items, their alerts and stories, and the feed's state, in one
        transaction; return alerts queued."""
        item_rows = [item_row(item, feed, now) for item in items]
        alert_rows = [_alert_row(alert, now) for alert in alerts]
        story_rows = [story_to_row(s) for s in stories]
        digest_rows = [asdict(e) for e in digest]
        event_rows = [event_to_row(e) for e in events]
        states = [state] if state else []
        with self.db.atomic():
            insert_rows(self.db, "items", item_rows)
            insert_rows(self.db, "outbox", alert_rows)
            insert_rows(self.db, "stories", story_rows, upsert="id")
            insert_rows(self.db, "digest", digest_rows)
            insert_rows(self.db, "events", event_rows)
            self._write_states(states)
        self._settle_states(states)
        return len(alert_rows)

    # outbox -----------------------------------------------------------------
    @_guarded
    def due_alerts(self, now: float, limit: int = 100) -> list[Alert]:
        """Alerts not yet accepted by Telegram whose next attempt is due, oldest first."""
        sql = (
            "select id, item_id, chat_id, text, attempts, kind, target_item, story_id from outbox "
            "where status in (?, ?) and next_attempt <= ? order by id limit ?"
        )
        return [Alert(**row) for row in self._select(sql, [PENDING, SENDING, now, limit])]

    @_guarded
    def undelivered_count(self) -> int:
        """How many alerts wait in the outbox."""
        sql = "select count(*) as n from outbox where status in (?, ?)"
        return self._select(sql, [PENDING, SENDING])[0]["n"]

    @_guarded
    def mark_sending(self, alert_id: int, now: float) -> None:
        """Record an attempt before it is made, so a crash mid-send is visible."""
        self._update(alert_id, status=SENDING, attempts_inc=True, last_attempt=now)

    @_guarded
    def mark_sent(self, alert_id: int, message_id: int | None, now: float) -> None:
        """Telegram accepted the alert."""
        self._update(alert_id, status=SENT, message_id=message_id, sent_at=now, error="")

    @_guarded
    def mark_retry(self, alert_id: int, error: str, next_attempt: float) -> None:
        """The attempt failed for a passing reason; try again later."""
        self._update(alert_id, status=PENDING, error=error, next_attempt=next_attempt)

    @_guarded
    def mark_failed(self, alert_id: int, error: str) -> None:
        """Telegram refused the alert for good."""
        self._update(alert_id, status=FAILED, error=error)

    @_guarded
    def sent_since(self, chat_id: str, since: float) -> list[float]:
        """Times of sends (and attempts) to a chat since a moment, for pacing."""
        sql = (
            "select coalesce(sent_at, last_attempt) as t from outbox where chat_id = ? "
            "and coalesce(sent_at, last_attempt) >= ? order by t"
        )
        return [row["t"] for row in self._select(sql, [chat_id, since])]

    def _update(self, alert_id: int, attempts_inc: bool = False, **values: object) -> None:
        with self.db.atomic():
            if attempts_inc:
                self.db.execute(
                    "update outbox set attempts = attempts + 1 where id = ?", [alert_id]
                )
            self.db["outbox"].update(alert_id, values)

    # events -----------------------------------------------------------------
    @_guarded
    def events_since(self, since: float) -> list[EventRow]:
        """Events of items seen since a moment, oldest first."""
        sql = "select * from events where seen_at >= ? order by seen_at, item_id"
        return [event_from_row(row) for row in self._select(sql, [since])]

    @_guarded
    def event_stories(self, since: float) -> dict[str, str]:
        """Item id -> story id, for events seen since a moment whose item joined a story."""
        sql = (
            "select distinct e.item_id, o.story_id from events e join outbox o "
            "on o.item_id = e.item_id where e.seen_at >= ? and o.story_id is not null"
        )
        return {row["item_id"]: row["story_id"] for row in self._select(sql, [since])}

    # digests ----------------------------------------------------------------
    @_guarded
    def due_digests(self, now: float, periods: dict[str, float]) -> list[tuple[str, ...]]:
        """(rule, chat_id, cadence) of collected digests whose oldest item waited a period."""
        sql = (
            "select rule, chat_id, cadence, min(created) as oldest from digest "
            "where sent_in is null group by rule, chat_id, cadence"
        )
        return [
            (row["rule"], row["chat_id"], row["cadence"])
            for row in self._select(sql)
            if now - row["oldest"] >= periods.get(row["cadence"], 0.0)
        ]

    @_guarded
    def digest_lines(self, rule: str, chat_id: str, cadence: str) -> list[tuple[int, str]]:
        """(id, line) of the items collected for one digest, oldest first."""
        sql = (
            "select id, line from digest where sent_in is null and rule = ? and chat_id = ? "
            "and cadence = ? order by id"
        )
        return [(row["id"], row["line"]) for row in self._select(sql, [rule, chat_id, cadence])]

    @_guarded
    def queue_digest(self, alert: QueuedAlert, entry_ids: list[int], now: float) -> None:
        """Queue a digest message and mark its items as sent in it, in one transaction."""
        with self.db.atomic():
            self.db["outbox"].insert(_alert_row(alert, now), ignore=True)
            marks = ",".join("?" * len(entry_ids))
            self.db.execute(
                f"update digest set sent_in = ? where id in ({marks})", [alert.item_id, *entry_ids]
            )

    # stories ----------------------------------------------------------------
    @_guarded
    def recent_stories(self, since: float) -> list[StoryRow]:
        """Stories that started since a moment, oldest first."""
        sql = "select * from stories where started >= ? order by started"
        return [story_from_row(row) for row in self._select(sql, [since])]

    @_guarded
    def story_sources(self, story_id: str) -> list[tuple[str, str]]:
        """The (source, link) pairs that joined a story after its first item."""
        rows = self._select("select sources from stories where id = ?", [story_id])
        return [tuple(pair) for pair in json.loads(rows[0]["sources"])] if rows else []

    @_guarded
    def sent_alert(self, item_id: str, chat_id: str) -> tuple[str, int | None, str] | None:
        """(status, message_id, text) of an item's alert in a chat, if there is one."""
        sql = "select status, message_id, text from outbox where item_id = ? and chat_id = ?"
        rows = self._select(sql, [item_id, chat_id])
        return (rows[0]["status"], rows[0]["message_id"], rows[0]["text"]) if rows else None

    @_guarded
    def settle_edits(self, target_item: str, chat_id: str, now: float) -> None:
        """Pending edits of one message are all done once its latest edit went out."""
        with self.db.atomic():
            self.db.execute(
                "update outbox set status = ?, sent_at = ? where kind = 'edit' and "
                "target_item = ? and chat_id = ? and status in (?, ?)",
                [SENT, now, target_item, chat_id, PENDING, SENDING],
            )

    # admin commands and mutes ---------------------------------------------------
    @_guarded
    def recent_alerts(self, limit: int = 10) -> list[dict]:
        """The latest alerts of feed items (not edits or admin notices), newest first."""
        sql = (
            "select o.status, o.chat_id, o.created_at, o.sent_at, o.error, i.title, i.link, "
            "i.feed from outbox o join items i on i.id = o.item_id "
            "where coalesce(o.kind, 'send') != 'edit' order by o.id desc limit ?"
        )
        return self._select(sql, [limit])

    @_guarded
    def alerts_sent_since(self, since: float) -> int:
        """How many alerts of feed items Telegram accepted since a moment."""
        sql = (
            "select count(*) as n from outbox o join items i on i.id = o.item_id "
            "where o.status = ? and o.sent_at >= ? and coalesce(o.kind, 'send') != 'edit'"
        )
        return self._select(sql, [SENT, since])[0]["n"]

    @_guarded
    def muted_rules(self, now: float) -> dict[str, float]:
        """Rules muted at this moment, with the time each mute ends."""
        sql = "select rule, until from mutes where until > ?"
        return {row["rule"]: row["until"] for row in self._select(sql, [now])}

    @_guarded
    def mute_rule(self, rule: str, until: float, by: int, now: float) -> None:
        """Hold back a rule's alerts until a moment (replacing an earlier mute)."""
        with self.db.atomic():
            self.db["mutes"].upsert(
                {"rule": rule, "until": until, "muted_by": by, "muted_at": now}, pk="rule"
            )

    @_guarded
    def unmute_rule(self, rule: str, now: float) -> bool:
        """End a rule's mute; False when it was not muted."""
        with self.db.atomic():
            cursor = self.db.execute("delete from mutes where rule = ? and until > ?", [rule, now])
        return cursor.rowcount > 0


_STATE_COLUMNS = tuple(f.name for f in fields(FeedState))
_SAVE_STATE = (
    f"insert or replace into feeds ({', '.join(_STATE_COLUMNS)}) "
    f"values ({', '.join('?' * len(_STATE_COLUMNS))})"
)


def _state_row(state: FeedState) -> tuple:
    return tuple(getattr(state, name) for name in _STATE_COLUMNS)  # bools bind as 0/1


def _state_from_row(row: dict) -> FeedState:
    row["polled_once"] = bool(row["polled_once"])
    row["reported"] = bool(row["reported"])
    return FeedState(**{k: v for k, v in row.items() if v is not None})


def _alert_row(alert: QueuedAlert, now: float) -> dict:
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


def open_store(path: Path, timeout: float = 5.0) -> Store:
    """Open (creating) the database; StoreError names the file when it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
        db = sqlite_utils.Database(conn)
        db.execute("pragma journal_mode = wal")
        db.execute("pragma synchronous = normal")
        db.conn.executescript(SCHEMA)
        add_missing_columns(db)
        db.execute("begin immediate")
        db.execute("rollback")
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"{path}: cannot open the database for writing: {exc}") from exc
    return Store(db, path)


def read_feed_states(path: Path) -> list[FeedState]:
    """The stored feed states, read-only (the daemon may be running); none before the first
    poll made the database."""
    if not path.exists():
        return []
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            cursor = conn.execute("select * from feeds")
            keys = [column[0] for column in cursor.description]
            rows = [dict(zip(keys, row, strict=True)) for row in cursor]
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise StoreError(f"{path}: cannot read the feed states: {exc}") from exc
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot read the feed states: {exc}") from exc
    known = [{k: v for k, v in row.items() if k in _STATE_COLUMNS} for row in rows]
    return [_state_from_row({"polled_once": 0, "reported": 0, **row}) for row in known]


def now() -> float:
    """Wall-clock seconds; the one clock the store uses."""
    return time.time()
