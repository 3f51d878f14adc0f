"""Open the store the config names: PostgreSQL for `[storage] url`, else the SQLite file."""

from __future__ import annotations

from pathlib import Path

from watchers.store.base import FeedState, Store


def open_configured(path: Path, url: str | None = None, lease: float = 60.0) -> Store:
    """The store at `url` (PostgreSQL) when given, else the SQLite file at `path`."""
    if url:
        from watchers.store.postgres import open_pg_store  # psycopg only when used

        return open_pg_store(url, lease)
    from watchers.store.sqlite import open_store

    return open_store(path)


def read_states(path: Path, url: str | None = None) -> list[FeedState]:
    """The stored feed states without writing anything (a daemon may be running): read
    from PostgreSQL at `url` when given, else read-only from the SQLite file."""
    if not url:
        from watchers.store.sqlite import read_feed_states

        return read_feed_states(path)
    from watchers.store.postgres import open_pg_store

    store = open_pg_store(url)
    try:
        return store.feed_states()
    finally:
        store.close()
