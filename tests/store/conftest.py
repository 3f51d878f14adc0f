"""Fixtures of the store tests that share a PostgreSQL database."""

import pytest

from watchers.store.postgres import open_pg_store


@pytest.fixture
def two(pg_url):
    """Two instances' stores on one database, with 10-second leases."""
    stores = [open_pg_store(pg_url, lease=10.0, instance=name) for name in ("a", "b")]
    yield stores
    for store in stores:
        store.close()
