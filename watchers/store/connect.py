"""Open the store the config names: PostgreSQL for `[storage] url`, else the SQLite file."""

from __future__ import annotations

from pathlib import Path

from watchers.store.base import Store


def open_configured(path: Path, url: str | None = None, lease: float = 60.0) -> Store:
    """The store at `url` (PostgreSQL) when given, else the SQLite file at `path`."""
    if url:
        from watchers.store.postgres import open_pg_store  # psycopg only when used

        return open_pg_store(url, lease)
    from watchers.store.sqlite import open_store

    return open_store(path)
