"""The database's tables: their schema, the columns added since, and rows to and from
the dataclasses. With store.py, the only modules that write SQL."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

import sqlite_utils

from watchers.models import EventRow, Item, StoryRow
from watchers.store.identity import keys_of

log = logging.getLogger("armswatch.store")

# user_version of the file: 0 before identity keys (every release up to 0.1.0), 1 with
# them, 2 with the labels table (the channel's corrections), 3 with what several instances
# on PostgreSQL need (leases, when a story changed, jobs done once), kept in SQLite too so
# both stores have one schema (see versions.py).
SCHEMA_VERSION = 3

SCHEMA = """
create table if not exists items (
    id text primary key, link text, feed text not null, title text not null,
    summary text not null default '', published text, seen_at real not null,
    feed_id text, gkey integer, lkey integer, ckey integer);
create table if not exists feeds (
    url text primary key, name text, etag text, last_modified text, body_hash text,
    status text, error text, failures integer, next_poll real, last_poll real,
    last_ok real, polled_once integer, items_total integer, moved_to text,
    reported integer, ttl real);
create table if not exists outbox (
    id integer primary key, item_id text not null, chat_id text not null,
    text text not null, status text not null, attempts integer not null default 0,
    error text not null default '', message_id integer, created_at real not null,
    last_attempt real, sent_at real, next_attempt real not null default 0,
    unique (item_id, chat_id));
create index if not exists outbox_due on outbox(status, next_attempt);
create table if not exists digest (
    id integer primary key, rule text not null, chat_id text not null, cadence text not null,
    item_id text not null, line text not null, created real not null, sent_in text,
    unique (rule, chat_id, item_id));
create table if not exists stories (
    id text primary key, started real not null, supplier text, recipient text,
    categories text, weapons text, status text, minhash blob, sources text, words text);
create table if not exists mutes (
    rule text primary key, until real not null, muted_by integer, muted_at real);
create table if not exists events (
    item_id text primary key, published text, seen_at real not null, source text,
    title text, link text, supplier text, recipient text, weapons text, categories text,
    status text, rules text, score real);
create index if not exists events_seen on events(seen_at);
create table if not exists chat_leases (
    chat_id text primary key, owner text not null, until real not null);
create table if not exists once_keys (key text primary key, at real not null);
"""


# The identity keys (store/identity.py): rule 1 guid + title, rule 2 link + title, rule 3
# guid + link. Created after the columns exist, so on an upgraded file too.
INDEXES = """
create index if not exists items_gkey on items(gkey);
create index if not exists items_lkey on items(lkey);
create index if not exists items_ckey on items(ckey);
"""

# Version 2: labels the admins gave from the channel (/wrong: 0, /missed: 1), for training.
# One label per item (item_id) or, for an item never stored, per link: the newest decides.
LABELS = """
create table if not exists labels (
    id integer primary key, item_id text, link text not null default '',
    title text not null default '', summary text not null default '',
    label integer not null check (label in (0, 1)),
    kind text not null check (kind in ('wrong', 'missed')),
    user_id integer not null, username text not null default '', chat_id text not null,
    created_at real not null);
create index if not exists labels_item on labels(item_id);
create index if not exists labels_link on labels(link);
"""

ADDED_COLUMNS = {
    "items": {"feed_id": str, "gkey": int, "lkey": int, "ckey": int},
    "feeds": {
        "moved_to": str,
        "reported": int,
        "ttl": float,
        "lease_owner": str,
        "lease_until": float,
    },
    "outbox": {"kind": str, "target_item": str, "story_id": str},
    "stories": {"words": str, "changed": float},
}


def add_missing_columns(db: sqlite_utils.Database) -> None:
    """Bring a database made by an older version up to the current columns."""
    for table, columns in ADDED_COLUMNS.items():
        have = set(db[table].columns_dict)
        for name, kind in columns.items():
            if name not in have:
                db[table].add_column(name, kind)


def upgrade(db: sqlite_utils.Database, version: int, fresh: bool = False) -> None:
    """Bring a new file, or one of an older schema version, to SCHEMA_VERSION in one
    transaction (a kill leaves it as it was).

    Version 0 knew an item by its id or its link alone (a unique index on link): the
    stored items get their identity keys, computed from the id, link and title they were
    stored with, so each is still known when its feed is read again, and the index goes.
    Version 2 adds the labels table. Version 3 the index of when stories changed (its
    columns and tables are made by SCHEMA and ADDED_COLUMNS, which only add).
    """
    if version >= SCHEMA_VERSION:
        return
    count = 0
    with db.atomic():
        if version < 1:
            count = _add_identity_keys(db)
            db.execute("drop index if exists items_link")
            for statement in filter(str.strip, INDEXES.split(";")):
                db.execute(statement)
        if version < 2:
            for statement in filter(str.strip, LABELS.split(";")):
                db.execute(statement)
        db.execute("create index if not exists stories_changed on stories(changed)")
        db.execute(f"pragma user_version = {SCHEMA_VERSION}")
    if not fresh:
        log.info("event=store_upgraded from=%d to=%d items=%d", version, SCHEMA_VERSION, count)


def _add_identity_keys(db: sqlite_utils.Database, chunk: int = 20_000) -> int:
    """Identity keys for every stored item, a chunk at a time (in the caller's
    transaction); how many items there were."""
    count, after = 0, 0
    select = "select rowid, id, link, title from items where rowid > ? order by rowid limit ?"
    while rows := db.execute(select, [after, chunk]).fetchall():
        updates = []
        for rowid, item_id, link, title in rows:
            keys = keys_of(item_id, link or "", title)
            updates.append((keys.guid_title, keys.link_title, keys.guid_link, rowid))
        update = "update items set gkey = ?, lkey = ?, ckey = ? where rowid = ?"
        db.conn.executemany(update, updates)
        count, after = count + len(rows), rows[-1][0]
    return count


def insert_rows(db: sqlite_utils.Database, table: str, rows: list[dict], upsert: str = "") -> None:
    """insert or ignore (or upsert on a key) same-shaped rows; plain SQL, as it runs for
    every changed feed and sqlite-utils would look up the table's schema each time."""
    if not rows:
        return
    columns = list(rows[0])
    verb = "insert" if upsert else "insert or ignore"
    sql = f"{verb} into {table} ({', '.join(columns)}) values ({', '.join('?' * len(columns))})"
    if upsert:
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != upsert)
        sql += f" on conflict ({upsert}) do update set {updates}"
    db.conn.executemany(sql, [[row[c] for c in columns] for row in rows])


def item_row(item: Item, feed: str, now: float) -> dict:
    keys = keys_of(item.feed_id or item.id, item.link, item.title)
    return {
        "id": item.id,
        "link": item.link or None,
        "feed": feed,
        "title": item.title,
        "summary": item.summary,
        "published": item.published.isoformat() if item.published else None,
        "seen_at": now,
        "feed_id": item.feed_id or None,
        "gkey": keys.guid_title,
        "lkey": keys.link_title,
        "ckey": keys.guid_link,
    }


def story_to_row(story: StoryRow) -> dict:
    row = asdict(story)
    for key in ("supplier", "recipient", "categories", "weapons", "sources", "words"):
        row[key] = json.dumps(row[key], ensure_ascii=False)
    return row


def story_from_row(row: dict) -> StoryRow:
    row.pop("changed", None)  # when the row was last written: the store's business
    for key in ("supplier", "recipient", "categories", "weapons"):
        row[key] = tuple(json.loads(row[key]))
    row["sources"] = tuple(tuple(pair) for pair in json.loads(row["sources"]))
    row["words"] = tuple(json.loads(row["words"] or "[]"))  # null in rows from before words
    return StoryRow(**row)


_EVENT_LISTS = ("supplier", "recipient", "weapons", "categories", "rules")


def event_to_row(event: EventRow) -> dict:
    row = asdict(event)
    for key in _EVENT_LISTS:
        row[key] = json.dumps(row[key], ensure_ascii=False)
    return row


def event_from_row(row: dict) -> EventRow:
    for key in _EVENT_LISTS:
        row[key] = tuple(json.loads(row[key] or "[]"))
    return EventRow(**row)
