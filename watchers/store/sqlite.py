"""The store: seen items, feed state and the alert outbox (SQLite, WAL); its tables and rows
are in tables.py."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import sqlite_utils

from watchers.errors import StoreError, StoreUnavailable
from watchers.models import Alert, DigestEntry, EventRow, Item, Label, StoryRow
from watchers.store.base import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    STATE_BATCH,
    FeedState,
    QueuedAlert,
    alert_row,
)
from watchers.store.identity import title_words
from watchers.store.items import EDITS_COMPARED
from watchers.store.reads import SharedReads
from watchers.store.tables import (
    SCHEMA,
    SCHEMA_VERSION,
    add_missing_columns,
    event_to_row,
    insert_rows,
    item_row,
    story_to_row,
    upgrade,
)

CHUNK = 500  # values in one `in (...)` lookup

__all__ = ["FAILED", "PENDING", "SENDING", "SENT", "STATE_BATCH", "FeedState", "QueuedAlert"]


# SQLite's primary result codes that a retry can mend: the file is locked (busy, locked),
# read-only for now (a remount), an I/O error, the disk (or max_page_count) is full.
_PASSING = {5, 6, 8, 10, 13}
_LOCKED = {5, 6}
SHORT_WAIT = 0.2  # seconds a write waits for a lock while the file stays locked


def _guard(method: Callable, writes: bool) -> Callable:
    @functools.wraps(method)
    def guarded(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            result = method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise self._failed(method.__name__, exc) from exc
        if writes and self._waiting_short:
            self._wait_long()
        return result

    return guarded


def _guarded(method: Callable) -> Callable:
    """Turn SQLite errors into StoreError naming the database file (StoreUnavailable
    for those a retry can mend)."""
    return _guard(method, writes=False)


def _writing(method: Callable) -> Callable:
    """_guarded, for a method that writes: once one succeeds, a lock is waited for as
    long as the connection's timeout again."""
    return _guard(method, writes=True)


class Store(SharedReads):
    """SQLite state of armswatch, for one instance; open with open_store()."""

    shared = False  # one daemon per file: leases are always granted

    def filing(self) -> contextlib.AbstractContextManager[None]:
        """One process files stories: nothing to hold (see base.Store)."""
        return contextlib.nullcontext()

    def lock_stories(self) -> None:
        """One process files stories: nothing to wait for."""

    def __init__(self, db: sqlite_utils.Database, path: Path, timeout: float = 5.0):
        self.db = db
        self.path = path
        self.timeout = timeout
        self._states: dict[str, FeedState] | None = None  # every feed's state, read once
        self._pending: dict[str, FeedState] = {}  # deferred: in _states, not yet in SQLite
        self._batch_failed = False  # the last write of deferred states failed
        self._waiting_short = False  # the file stayed locked: writes wait SHORT_WAIT
        self._max_pages = db.execute("pragma max_page_count").fetchone()[0]  # SQLite's own

    # trouble ----------------------------------------------------------------
    # A write that fails for a passing reason raises StoreUnavailable and leaves nothing
    # behind: its transaction is rolled back and what is kept in memory (feed states) is
    # only updated after a commit. While the file stays locked, writes wait SHORT_WAIT
    # instead of the whole busy timeout, so a locked file does not hold the event loop up.
    def _failed(self, name: str, exc: sqlite3.Error) -> StoreError:
        """The StoreError for an SQLite error of a method; no transaction is left open."""
        if self.db.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.db.conn.execute("rollback")
        code = getattr(exc, "sqlite_errorcode", -1) & 0xFF
        message = f"{self.path}: {name} failed: {exc}"
        if code not in _PASSING:
            return StoreError(message)
        if code in _LOCKED and not self._waiting_short:
            self._set_busy_timeout(SHORT_WAIT)
            self._waiting_short = True
        return StoreUnavailable(message)

    def _wait_long(self) -> None:
        self._set_busy_timeout(self.timeout)
        self._waiting_short = False

    def _set_busy_timeout(self, seconds: float) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.conn.execute(f"pragma busy_timeout = {int(seconds * 1000)}")

    @_writing
    def limit_size(self, max_bytes: int | None) -> int:
        """Let the file hold at most max_bytes ([storage] max_bytes; SQLite's
        max_page_count, never below the pages it has); None: no limit. The limit in
        bytes."""
        page = self.db.conn.execute("pragma page_size").fetchone()[0]
        pages = self._max_pages if max_bytes is None else max(1, max_bytes // page)
        return self.db.conn.execute(f"pragma max_page_count = {pages}").fetchone()[0] * page

    def close(self) -> None:
        """Write the deferred feed states, then close the database. States that cannot be
        written now (a full disk) are let go: they only mean a re-poll at the next start."""
        try:
            with contextlib.suppress(StoreUnavailable):
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

    @_writing
    def save_feed_state(self, state: FeedState) -> None:
        """Write a feed's state now (with any deferred ones)."""
        with self.db.atomic():
            self._write_states([state])
        self._settle_states([state])

    @_guarded
    def defer_feed_state(self, state: FeedState) -> None:
        """Keep a feed's state, to be written with the next batch (see above). When the
        last batch failed, the next is left to flush_feed_states' callers (the timer)."""
        self._all_states()[state.url] = state
        self._pending[state.url] = state
        if len(self._pending) >= STATE_BATCH and not self._batch_failed:
            with contextlib.suppress(StoreUnavailable):
                self.flush_feed_states()

    @_writing
    def flush_feed_states(self) -> int:
        """Write the deferred feed states in one transaction; how many there were."""
        count = len(self._pending)
        if count:
            self._batch_failed = True
            with self.db.atomic():
                self._write_states([])
            self._settle_states([])
        self._batch_failed = False
        return count

    def claim_feed(self, state: FeedState, now: float) -> FeedState | None:
        """The feed to poll now: always granted (no other instance shares the file)."""
        return state

    def adopt_feeds(self, now: float, limit: int = 100) -> list[str]:
        """Feeds of instances that died: none (no other instance shares the file)."""
        return []

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
    # Which sightings are stored items is decided by store/identity.py; here are its
    # lookups. Rules 1 and 2 are exact keys; rule 3 reads the titles stored under a guid
    # and link. A new item whose feed id another item has is stored under an extended id.
    known = _guarded(SharedReads.known)

    unseen = _guarded(SharedReads.unseen)

    def _found(self, column: str, values: list[int]) -> set[int]:
        found: set[int] = set()
        for start in range(0, len(values), CHUNK):
            chunk = values[start : start + CHUNK]
            sql = f"select {column} from items where {column} in ({','.join('?' * len(chunk))})"
            found.update(row[0] for row in self.db.conn.execute(sql, chunk))
        return found

    def _titles_by_guid_link(self, ckeys: list[int]) -> dict[int, list[str]]:
        """Rule 3's key -> the title words of the latest items stored under it."""
        titles: dict[int, list[str]] = {}
        for start in range(0, len(ckeys), CHUNK):
            chunk = ckeys[start : start + CHUNK]
            sql = (
                "select ckey, title from (select ckey, title, row_number() over "
                "(partition by ckey order by rowid desc) as n from items where ckey in "
                f"({','.join('?' * len(chunk))})) where n <= {EDITS_COMPARED}"
            )
            for ckey, title in self.db.conn.execute(sql, chunk):
                titles.setdefault(ckey, []).append(title_words(title))
        return titles

    def _titles_by_id(self, ids: list[str]) -> dict[str, str]:
        titles: dict[str, str] = {}
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            sql = f"select id, title from items where id in ({','.join('?' * len(chunk))})"
            titles.update(self.db.conn.execute(sql, chunk))
        return titles

    def _taken_ids(self, ids: list[str]) -> set[str]:
        taken: set[str] = set()
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            sql = f"select id from items where id in ({','.join('?' * len(chunk))})"
            taken.update(row[0] for row in self.db.conn.execute(sql, chunk))
        return taken

    @_writing
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
        alert_rows = [alert_row(alert, now) for alert in alerts]
        story_rows = [{**story_to_row(s), "changed": now} for s in stories]
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
    def due_alerts(self, now: float, limit: int = 100, chat_id: str | None = None) -> list[Alert]:
        """Alerts not yet accepted by Telegram whose next attempt is due, oldest first (of
        one chat, if given)."""
        sql = (
            "select id, item_id, chat_id, text, attempts, kind, target_item, story_id from outbox "
            "where status in (?, ?) and next_attempt <= ? and (? is null or chat_id = ?) "
            "order by id limit ?"
        )
        params = [PENDING, SENDING, now, chat_id, chat_id, limit]
        return [Alert(**row) for row in self._select(sql, params)]

    def claim_chat(self, chat_id: str, now: float) -> bool:
        """Whether this instance may send to the chat now: always (one instance per file)."""
        return True

    @_guarded
    def claim_once(self, key: str, now: float) -> bool:
        """True for the first caller with this key (a weekly report), False ever after."""
        with self.db.atomic():
            cursor = self.db.execute("insert or ignore into once_keys values (?, ?)", [key, now])
        return cursor.rowcount == 1

    def release_chat(self, chat_id: str) -> None:
        """Done sending to the chat for now (nothing to release here)."""

    undelivered_count = _guarded(SharedReads.undelivered_count)

    @_writing
    def mark_sending(self, alert_id: int, now: float) -> None:
        """Record an attempt before it is made, so a crash mid-send is visible."""
        self._update(alert_id, status=SENDING, attempts_inc=True, last_attempt=now)

    @_writing
    def mark_sent(self, alert_id: int, message_id: int | None, now: float) -> None:
        """Telegram accepted the alert."""
        self._update(alert_id, status=SENT, message_id=message_id, sent_at=now, error="")

    @_writing
    def mark_retry(self, alert_id: int, error: str, next_attempt: float) -> None:
        """The attempt failed for a passing reason; try again later."""
        self._update(alert_id, status=PENDING, error=error, next_attempt=next_attempt)

    @_writing
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
    events_since = _guarded(SharedReads.events_since)

    event_stories = _guarded(SharedReads.event_stories)

    # digests ----------------------------------------------------------------
    due_digests = _guarded(SharedReads.due_digests)

    digest_lines = _guarded(SharedReads.digest_lines)

    @_writing
    def queue_digest(self, alert: QueuedAlert, entry_ids: list[int], now: float) -> bool:
        """Queue a digest message and mark its items as sent in it, in one transaction;
        False (nothing queued) when some of the items went out in another digest."""
        marks = ",".join("?" * len(entry_ids))
        try:
            with self.db.atomic():
                cursor = self.db.execute(
                    f"update digest set sent_in = ? where id in ({marks}) and sent_in is null",
                    [alert.item_id, *entry_ids],
                )
                if cursor.rowcount != len(entry_ids):
                    raise _Taken
                self.db["outbox"].insert(alert_row(alert, now), ignore=True)
        except _Taken:
            return False
        return True

    # stories ----------------------------------------------------------------
    recent_stories = _guarded(SharedReads.recent_stories)

    stories_changed = _guarded(SharedReads.stories_changed)

    story_sources = _guarded(SharedReads.story_sources)

    sent_alert = _guarded(SharedReads.sent_alert)

    @_writing
    def settle_edits(self, target_item: str, chat_id: str, now: float) -> None:
        """Pending edits of one message are all done once its latest edit went out."""
        with self.db.atomic():
            self.db.execute(
                "update outbox set status = ?, sent_at = ? where kind = 'edit' and "
                "target_item = ? and chat_id = ? and status in (?, ?)",
                [SENT, now, target_item, chat_id, PENDING, SENDING],
            )

    # admin commands and mutes ---------------------------------------------------
    recent_alerts = _guarded(SharedReads.recent_alerts)

    alerts_sent_since = _guarded(SharedReads.alerts_sent_since)

    muted_rules = _guarded(SharedReads.muted_rules)

    @_writing
    def mute_rule(self, rule: str, until: float, by: int, now: float) -> None:
        """Hold back a rule's alerts until a moment (replacing an earlier mute)."""
        with self.db.atomic():
            self.db["mutes"].upsert(
                {"rule": rule, "until": until, "muted_by": by, "muted_at": now}, pk="rule"
            )

    @_writing
    def unmute_rule(self, rule: str, now: float) -> bool:
        """End a rule's mute; False when it was not muted."""
        with self.db.atomic():
            cursor = self.db.execute("delete from mutes where rule = ? and until > ?", [rule, now])
        return cursor.rowcount > 0

    # labels (the channel's corrections) -------------------------------------------
    @_guarded
    def alerted_item(self, chats: Sequence[str], message_id: int) -> dict | None:
        """The stored item (id, title, summary, link) a sent message in one of these chats
        (ids or @usernames) alerted, or None (an edit, a digest, an admin notice)."""
        marks = ", ".join("?" * len(chats))
        sql = (
            "select i.id, i.title, i.summary, i.link from outbox o join items i on i.id = "
            f"o.item_id where o.message_id = ? and o.chat_id in ({marks}) and "
            "coalesce(o.kind, 'send') != 'edit' order by o.id desc limit 1"
        )
        rows = self._select(sql, [message_id, *chats])
        return rows[0] if rows else None

    item_by_link = _guarded(SharedReads.item_by_link)

    @_writing
    def add_label(self, label: Label) -> int:
        """Store a label, replacing earlier ones of the same story: the newest decides. The
        same story is the same item, else the same link, else (neither) the same headline.
        Its id."""
        row = {k: v for k, v in asdict(label).items() if k != "id"}
        with self.db.atomic():
            self.db.execute(
                "delete from labels where item_id = ? or (item_id is null and ("
                "(? != '' and link = ?) or (? = '' and link = '' and ? != '' and title = ?)))",
                [label.item_id, label.link, label.link, label.link, label.title, label.title],
            )
            cursor = self.db.execute(
                f"insert into labels ({', '.join(row)}) values ({', '.join('?' * len(row))})",
                list(row.values()),
            )
        return cursor.lastrowid

    labels = _guarded(SharedReads.labels)

    @_guarded
    def item_texts(self) -> list[tuple[str, str, str]]:
        """(id, title, summary) of every stored item, in the order they were stored."""
        rows = self._select("select id, title, summary from items order by rowid")
        return [(row["id"], row["title"], row["summary"]) for row in rows]

    # tools and tests ----------------------------------------------------------------
    @_guarded
    def query(self, sql: str, params: Sequence = ()) -> list[dict]:
        """Rows of one read, `?` placeholders: for tests and tools, not the stages."""
        return self._select(sql, params)

    @_guarded
    def schema_version(self) -> int:
        """The schema version the file is at (its user_version)."""
        return self.db.execute("pragma user_version").fetchone()[0]


class _Taken(Exception):
    """Rolls a transaction back: another digest took some of its items."""


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
    return FeedState(**{k: v for k, v in row.items() if v is not None and k in _STATE_COLUMNS})


def open_store(path: Path, timeout: float = 5.0) -> Store:
    """Open (creating) the database; StoreError names the file when it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
        db = sqlite_utils.Database(conn)
        db.execute("pragma journal_mode = wal")
        db.execute("pragma synchronous = normal")
        version = db.execute("pragma user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            db.close()
            raise StoreError(
                f"{path}: made by a newer armswatch (schema version {version}; this one "
                f"knows up to {SCHEMA_VERSION}): upgrade armswatch, or set another "
                "[storage] path"
            )
        fresh = not db["items"].exists()
        db.conn.executescript(SCHEMA)
        add_missing_columns(db)
        upgrade(db, version, fresh)
        db.execute("begin immediate")
        db.execute("rollback")
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"{path}: cannot open the database for writing: {exc}") from exc
    return Store(db, path, timeout)


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
