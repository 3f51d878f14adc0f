"""The test suite's own PostgreSQL server: password auth on loopback, one database a test."""

import psycopg
import pytest


def test_each_test_gets_an_empty_database_and_the_password_is_checked(pg_server, pg_url):
    with psycopg.connect(pg_url) as conn:  # PGPASSWORD from the session fixture
        tables = conn.execute("select count(*) from pg_tables where schemaname = 'public'")
        assert tables.fetchone() == (0,)
    assert pg_url != pg_server.create_db()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg_url, password="wrong")
