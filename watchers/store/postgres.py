"""The store on PostgreSQL (psycopg 3): the behaviour of sqlite.py, shared by any number
of instances at once.

What sharing needs, and where it is decided (always by the database, never by a check
in one process then a write):
- a feed is polled by one instance at a time: `claim_feed` takes its lease in one
  conditional upsert; writing its state gives the lease back. An instance killed
  mid-poll leaves a lease that expires after `lease` seconds;
- an item alerts once: items are inserted with ON CONFLICT DO NOTHING, and only the
  instance whose insert took the row queues its alerts, events and digest entries;
- a chat's outbox is sent by one instance at a time (`claim_chat`), in order, paced by
  the sends every instance recorded;
- stories: `stories_changed` gives each instance the ones the others filed; filing an
  item and recording it hold an advisory lock (`filing`, `lock_stories`), so two
  instances filing reports of one new story at once start it once, and neither's source
  is lost from a story both add to.

When the server cannot be reached, every call raises StoreUnavailable at once (no wait)
until the next reconnection attempt, which backs off from 1 s to 30 s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from urllib.parse import urlsplit

import psycopg
from psycopg.rows import dict_row

from watchers.errors import StoreError, StoreUnavailable
from watchers.models import DigestEntry, EventRow, Item, StoryRow
from watchers.store.base import STATE_BATCH, FeedState, QueuedAlert, alert_row
from watchers.store.identity import title_words
from watchers.store.items import EDITS_COMPARED
from watchers.store.pgoutbox import OutboxQueries
from watchers.store.pgsql import (
    ADOPT_FEEDS,
    CLAIM_FEED,
    SAVE_STATE,
    first_line,
    guarded,
    insert_sql,
    state_from_row,
    state_params,
)
from watchers.store.reads import SharedReads
from watchers.store.tables import event_to_row, item_row, story_to_row
from watchers.store.versions import PG_LOCK, POSTGRES, STORY_LOCK

log = logging.getLogger("armswatch.store")

MAX_RETRY = 30.0
CONNECT = {  # a cut connection fails a call within seconds instead of hanging the loop
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10000,
    "application_name": "armswatch",
}


def safe_url(url: str) -> str:
    """The URL without any password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = (f"{parts.username}@" if parts.username else "") + host
    netloc += f":{parts.port}" if parts.port else ""
    return parts._replace(netloc=netloc, query="").geturl()


class PgStore(OutboxQueries):
    """PostgreSQL state of armswatch, shared by instances; open with open_pg_store()."""

    shared = True

    def __init__(self, url: str, lease: float = 60.0, instance: str = ""):
        self.url = url
        self.where = safe_url(url)
        self.lease = lease
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.version = 0
        self._conn: psycopg.Connection | None = None
        self._pending: dict[str, FeedState] = {}  # deferred, as in sqlite.py; lease kept
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._retry_wait = 1.0

    # the connection ---------------------------------------------------------------
    def connect(self) -> None:
        """Connect and apply the migrations this database lacks."""
        self._conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row, **CONNECT)
        with self._conn.transaction():
            self._conn.execute("select pg_advisory_xact_lock(%s)", [PG_LOCK])
            self._conn.execute(
                "create table if not exists schema_version (version integer primary key, "
                "applied_at double precision not null)"
            )
            done = {r["version"] for r in self._conn.execute("select version from schema_version")}
            for version, ddl in POSTGRES:
                if version not in done:
                    self._conn.execute(ddl)
                    self._conn.execute(
                        "insert into schema_version values (%s, %s)", [version, time.time()]
                    )
            self.version = max(v for v, _ in POSTGRES)

    def _db(self) -> psycopg.Connection:
        """The open connection, reconnecting when it was lost and the back-off is over."""
        if self._conn is not None and not self._conn.closed:
            return self._conn
        if time.monotonic() < self._retry_at:
            raise StoreUnavailable(f"{self.where}: unreachable; next attempt in a moment")
        self.connect()
        return self._conn  # type: ignore[return-value]

    def _lost(self, exc: Exception) -> None:
        """Drop the connection; log the first failure and each failed reconnection."""
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        if self._down_since is None:
            self._down_since, self._retry_wait = time.time(), 1.0
        else:
            self._retry_wait = min(MAX_RETRY, self._retry_wait * 2)
        self._retry_at = time.monotonic() + self._retry_wait
        log.warning(
            "event=store_unavailable store=%s retry_in=%.0fs error=%r",
            self.where,
            self._retry_wait,
            first_line(exc),
        )

    def _reached(self) -> None:
        if self._down_since is not None:
            log.info(
                "event=store_back store=%s down_for=%.0fs",
                self.where,
                time.time() - self._down_since,
            )
            self._down_since = None

    def close(self) -> None:
        """Write the deferred feed states (if the server is there), then disconnect."""
        try:
            self.flush_feed_states()
            self._release_leases()
        except StoreError as exc:
            log.warning("event=states_not_written count=%d error=%r", len(self._pending), str(exc))
        finally:
            if self._conn is not None:
                self._conn.close()

    @contextlib.contextmanager
    def filing(self) -> Iterator[None]:
        """One transaction around filing items into stories and recording them: the story
        lock lock_stories() takes inside it is held until the commit."""
        try:
            with self._db().transaction():
                yield
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self._lost(exc)
            raise StoreUnavailable(f"{self.where}: filing: {first_line(exc)}") from exc
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: filing failed: {exc}") from exc

    @guarded
    def lock_stories(self) -> None:
        """Wait until no other instance is filing stories; held to the end of filing()'s
        transaction, so the stories read next include every one the others filed, and the
        story this instance writes has every source they added."""
        self._execute("select pg_advisory_xact_lock(%s)", [STORY_LOCK])

    @guarded
    def _release_leases(self) -> None:
        """Stopping: the others may take this instance's feeds and chats at once."""
        with self._db().transaction():
            sql = "update feeds set lease_owner = null, lease_until = null where lease_owner = %s"
            self._execute(sql, [self.instance])
            self._execute("delete from chat_leases where owner = %s", [self.instance])

    def _select(self, sql: str, params: Sequence = ()) -> list[dict]:
        return self._db().execute(sql, params).fetchall()

    def _execute(self, sql: str, params: Sequence = ()) -> int:
        return self._db().execute(sql, params).rowcount

    def limit_size(self, max_bytes: int | None) -> int:
        """[storage] max_bytes is SQLite's: the config refuses it with a url."""
        raise StoreError(f"{self.where}: [storage] max_bytes applies to SQLite files only")

    # feeds --------------------------------------------------------------------------
    @guarded
    def feed_state(self, url: str) -> FeedState:
        """The state of a feed (this instance's deferred one first), or a fresh one."""
        if url in self._pending:
            return self._pending[url]
        rows = self._select("select * from feeds where url = %s", [url])
        return state_from_row(rows[0]) if rows else FeedState(url=url)

    @guarded
    def feed_states(self) -> list[FeedState]:
        """All feed states."""
        states = {r["url"]: state_from_row(r) for r in self._select("select * from feeds")}
        return list({**states, **self._pending}.values())

    @guarded
    def claim_feed(self, state: FeedState, now: float) -> FeedState | None:
        """Lease the feed to this instance for `lease` seconds while it polls it, unless
        another instance owns it (and is not `lease` seconds late), is polling it, or polled
        it since `state` was read; the state to poll."""
        params = {
            "url": state.url,
            "me": self.instance,
            "until": now + self.lease,
            "now": now,
            "seen": state.next_poll,
            "late": now - self.lease,
        }
        rows = self._select(CLAIM_FEED, params)
        if not rows:
            return None
        return self._pending.get(state.url) or state_from_row(rows[0])

    @guarded
    def adopt_feeds(self, now: float, limit: int = 100) -> list[str]:
        """Lease to this instance the feeds whose owner is `lease` seconds late (it died):
        their URLs, to poll now."""
        params = {
            "me": self.instance,
            "now": now,
            "late": now - self.lease,
            "until": now + self.lease,
            "limit": limit,
        }
        with self._db().transaction():
            return [row["url"] for row in self._select(ADOPT_FEEDS, params)]

    @guarded
    def save_feed_state(self, state: FeedState) -> None:
        """Write a feed's state now (with any deferred ones), giving its lease back."""
        with self._db().transaction():
            self._write_states([state])
        self._pending.clear()

    @guarded
    def defer_feed_state(self, state: FeedState) -> None:
        """Keep a feed's state (and its lease) to be written with the next batch."""
        self._pending[state.url] = state
        if len(self._pending) >= STATE_BATCH:
            self.flush_feed_states()

    @guarded
    def flush_feed_states(self) -> int:
        """Write the deferred feed states in one transaction; how many there were."""
        count = len(self._pending)
        if count:
            with self._db().transaction():
                self._write_states([])
            self._pending.clear()
        return count

    def _write_states(self, states: list[FeedState]) -> None:
        """Deferred states and these, unless another instance took the lease meanwhile."""
        merged = {**self._pending, **{s.url: s for s in states}}
        rows = [state_params(s, self.instance) for s in merged.values()]
        if rows:
            self._db().cursor().executemany(SAVE_STATE, rows)

    # items --------------------------------------------------------------------------
    # Which entries are stored items: identity.py's rules through items.py, on these reads.
    known = guarded(SharedReads.known)

    unseen = guarded(SharedReads.unseen)

    def _found(self, column: str, values: list[int]) -> set[int]:
        sql = f"select {column} as k from items where {column} = any(%s)"
        return {row["k"] for row in self._select(sql, [values])}

    def _titles_by_guid_link(self, ckeys: list[int]) -> dict[int, list[str]]:
        """Rule 3's key -> the title words of the latest items stored under it."""
        sql = (
            "select ckey, title from (select ckey, title, row_number() over "
            "(partition by ckey order by seen_at desc, id desc) as n from items "
            f"where ckey = any(%s)) as latest where n <= {EDITS_COMPARED}"
        )
        titles: dict[int, list[str]] = {}
        for row in self._select(sql, [ckeys]):
            titles.setdefault(row["ckey"], []).append(title_words(row["title"]))
        return titles

    def _titles_by_id(self, ids: list[str]) -> dict[str, str]:
        rows = self._select("select id, title from items where id = any(%s)", [ids])
        return {row["id"]: row["title"] for row in rows}

    def _taken_ids(self, ids: list[str]) -> set[str]:
        return {row["id"] for row in self._select("select id from items where id = any(%s)", [ids])}

    @guarded
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
        """Store new items and the feed's state in one transaction, with the alerts, stories,
        events and digest entries of the items this insert took (an item another instance
        stored first, by id or by identity key, alerts there only); return alerts queued."""
        item_rows = [item_row(item, feed, now) for item in items]
        with self._db().transaction():
            cursor = self._db().cursor()
            taken = self._insert_items(cursor, item_rows)
            lost = {row["id"] for row in item_rows} - taken
            alert_rows = [alert_row(a, now) for a in alerts if a.item_id not in lost]
            self._insert(cursor, "outbox", alert_rows)
            story_rows = [{**story_to_row(s), "changed": now} for s in stories if s.id not in lost]
            self._insert(cursor, "stories", story_rows, upsert="id")
            self._insert(cursor, "digest", [asdict(e) for e in digest if e.item_id not in lost])
            self._insert(
                cursor, "events", [event_to_row(e) for e in events if e.item_id not in lost]
            )
            self._write_states([state] if state else [])
        self._pending.clear()
        return len(alert_rows)

    def _insert_items(self, cursor: psycopg.Cursor, rows: list[dict]) -> set[str]:
        """Insert the rows that are new by id and by link; the ids inserted."""
        if not rows:
            return set()
        cursor.executemany(
            insert_sql("items", list(rows[0])) + " returning id",
            [list(r.values()) for r in rows],
            returning=True,
        )
        taken = set()
        while True:
            row = cursor.fetchone()
            if row is not None:
                taken.add(row["id"])
            if not cursor.nextset():
                return taken

    def _insert(
        self, cursor: psycopg.Cursor, table: str, rows: list[dict], upsert: str = ""
    ) -> None:
        if rows:
            sql = insert_sql(table, list(rows[0]), upsert)
            cursor.executemany(sql, [list(row.values()) for row in rows])


def open_pg_store(url: str, lease: float = 60.0, instance: str = "") -> PgStore:
    """Connect (migrating the schema); StoreError names the database, never a password."""
    store = PgStore(url, lease, instance)
    try:
        store.connect()
    except psycopg.Error as exc:
        hint = ""
        if "password" in str(exc):
            hint = " (the password is read from PGPASSWORD or ~/.pgpass)"
        raise StoreError(
            f"{store.where}: cannot open the database: {first_line(exc)}{hint}"
        ) from exc
    return store
