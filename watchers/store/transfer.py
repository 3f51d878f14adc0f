"""`migrate --to`: copy a SQLite database into PostgreSQL, table by table, rows keeping
their keys (and outbox and digest rows their ids), so that running it again copies
nothing twice: a row whose key is already there is left as it is."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from watchers.store.pgsql import guarded, insert_sql
from watchers.store.postgres import PgStore
from watchers.store.sqlite import Store as SqliteStore

log = logging.getLogger("armswatch.store")

TABLES = ("items", "feeds", "stories", "events", "digest", "mutes", "outbox")
SKIPPED = {"lease_owner", "lease_until"}  # one instance's leases mean nothing elsewhere
CHUNK = 2000


@dataclass(frozen=True)
class Copied:
    """One table's rows: how many the SQLite file has, how many were new in PostgreSQL."""

    table: str
    read: int
    copied: int


def copy_tables(source: SqliteStore, target: PgStore) -> list[Copied]:
    """Copy every table; the counts per table."""
    return [_copy_table(source, target, table) for table in TABLES]


def _copy_table(source: SqliteStore, target: PgStore, table: str) -> Copied:
    kinds = _pg_columns(target, table)
    have = [c for c in source.db[table].columns_dict if c in kinds and c not in SKIPPED]
    read = copied = 0
    for rows in _chunks(source, table, have):
        read += len(rows)
        copied += _insert(target, table, have, [_convert(row, have, kinds) for row in rows])
    if "id" in kinds and table in ("outbox", "digest"):
        _advance_identity(target, table)
    log.info("event=table_copied table=%s read=%d copied=%d", table, read, copied)
    return Copied(table, read, copied)


def _chunks(source: SqliteStore, table: str, columns: list[str]) -> Iterator[list[tuple]]:
    cursor = source.db.conn.execute(f"select {', '.join(columns)} from {table} order by rowid")
    while rows := cursor.fetchmany(CHUNK):
        yield rows


def _convert(row: tuple, columns: list[str], kinds: dict[str, str]) -> list:
    """SQLite's 0/1 integers as PostgreSQL booleans; everything else as it is."""
    return [
        bool(value) if value is not None and kinds[c] == "boolean" else value
        for c, value in zip(columns, row, strict=True)
    ]


@guarded
def _pg_columns(target: PgStore, table: str) -> dict[str, str]:
    sql = "select column_name, data_type from information_schema.columns where table_name = %s"
    return {r["column_name"]: r["data_type"] for r in target._select(sql, [table])}


@guarded
def _insert(target: PgStore, table: str, columns: list[str], rows: list[list]) -> int:
    """Insert the rows whose keys are not there yet, in one transaction; how many."""
    sql = insert_sql(table, columns) + " returning 1"
    copied = 0
    with target._db().transaction():
        cursor = target._db().cursor()
        cursor.executemany(sql, rows, returning=True)
        while True:
            copied += cursor.fetchone() is not None
            if not cursor.nextset():
                return copied


@guarded
def _advance_identity(target: PgStore, table: str) -> None:
    """New rows get ids after the copied ones."""
    target._select(
        f"select setval(pg_get_serial_sequence('{table}', 'id'), "
        f"greatest((select max(id) from {table}), 1))"
    )
