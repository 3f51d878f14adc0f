"""Polls on a real feed server and SQLite file: what each kind of poll writes, and when."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from contextlib import asynccontextmanager
from pathlib import Path

from tests.helpers import boring, keyword_items, rss, write_config
from watchers.config.load import Config, load_config
from watchers.detection.rules import compile_rules
from watchers.feeds.fetch import make_client
from watchers.pipeline import Pipeline
from watchers.store.sqlite import open_store

NO_VALIDATORS = {"ETag": None, "Last-Modified": None}  # same bytes come back as a 200


@asynccontextmanager
async def pipeline_on(config: Config):
    """A Pipeline on its own store; the store is left open, as a killed process leaves it."""
    store = open_store(config.storage_path)
    client = make_client(config.fetch)
    try:
        yield Pipeline(config, store, compile_rules(config), client)
    finally:
        await client.close()


def written(config: Config) -> dict[str, tuple[str, int]]:
    """(status, items_total) of each feed as stored in the file (what a restart reads)."""
    with sqlite3.connect(config.storage_path) as db:
        rows = db.execute("select name, status, items_total from feeds")
        return {name: (status, total) for name, status, total in rows}


def written_hash(config: Config, name: str) -> str:
    with sqlite3.connect(config.storage_path) as db:
        return db.execute("select body_hash from feeds where name = ?", [name]).fetchone()[0]


def outbox(config: Config) -> list[str]:
    with sqlite3.connect(config.storage_path) as db:
        return [row[0] for row in db.execute("select item_id from outbox order by id")]


def three_feeds(tmp_path: Path, feed_server) -> Config:
    feed_server.set("/a.xml", rss(keyword_items(2)))
    feed_server.set("/b.xml", rss(boring(2)))
    feed_server.set("/c.xml", rss([{"guid": "c", "title": "Parks"}]), headers=NO_VALIDATORS)
    names = [("A", "/a.xml"), ("B", "/b.xml"), ("C", "/c.xml")]
    feeds = [(name, feed_server.url(path)) for name, path in names]
    return load_config(write_config(tmp_path / "c.toml", feeds))


async def test_unchanged_polls_run_no_sql_and_new_items_commit_with_every_state(
    tmp_path, feed_server
):
    config = three_feeds(tmp_path, feed_server)
    a, b, c = config.feeds
    async with pipeline_on(config) as pipeline:
        for feed in config.feeds:
            await pipeline.poll(feed, time.time(), force=True)
        assert written(config) == {"A": ("ok", 2), "B": ("ok", 2), "C": ("ok", 1)}
        statements: list[str] = []
        pipeline.store.db.conn.set_trace_callback(statements.append)
        assert (await pipeline.poll(a, time.time(), force=True)).status == "not_modified"
        assert (await pipeline.poll(c, time.time(), force=True)).status == "unchanged"
        assert statements == []  # state read from memory, its write deferred
        assert pipeline.store.feed_state(a.url).status == "not_modified"
        assert written(config)["A"] == ("ok", 2)
        feed_server.set("/b.xml", rss(boring(3)))
        assert (await pipeline.poll(b, time.time(), force=True)).new == 1
        assert written(config) == {"A": ("not_modified", 2), "B": ("ok", 3), "C": ("unchanged", 1)}
        assert statements.count("COMMIT") == 1  # the item, B's state and the deferred ones
        pipeline.store.close()


async def test_a_kill_before_the_deferred_states_are_written_only_means_a_re_poll(
    tmp_path, feed_server
):
    config = three_feeds(tmp_path, feed_server)
    a = config.feeds[0]
    async with pipeline_on(config) as pipeline:
        assert (await pipeline.poll(a, time.time(), force=True)).alerts == 2
        feed_server.set("/a.xml", rss(keyword_items(2)[::-1]))  # new bytes, no new item
        assert (await pipeline.poll(a, time.time(), force=True)).new == 0
        assert pipeline.store.feed_state(a.url).body_hash != written_hash(config, "A")
        pipeline.store.db.close()  # killed: the second poll's state was never written
    async with pipeline_on(config) as restarted:
        again = await restarted.poll(a, time.time(), force=True)
        assert (again.status, again.new, again.alerts) == ("ok", 0, 0)  # read, nothing new
        restarted.store.close()
    assert outbox(config) == ["127.0.0.1/k0", "127.0.0.1/k1"]  # nothing twice
    assert written(config)["A"] == ("ok", 2)


async def test_the_feed_ttl_is_read_and_kept(tmp_path, feed_server):
    body = rss(boring(2)).replace(b"<title>Test feed</title>", b"<title>T</title><ttl>5</ttl>")
    feed_server.set("/t.xml", body)
    config = load_config(write_config(tmp_path / "c.toml", [("T", feed_server.url("/t.xml"))]))
    (feed,) = config.feeds
    async with pipeline_on(config) as pipeline:
        await pipeline.poll(feed, time.time(), force=True)
        assert pipeline.store.feed_state(feed.url).ttl == 300.0  # <ttl> is in minutes
        pipeline.store.close()
    with sqlite3.connect(config.storage_path) as db:
        assert db.execute("select ttl from feeds").fetchone() == (300.0,)


async def test_requests_to_one_host_are_limited_and_others_go_on(tmp_path, feed_server):
    from tests.servers import FeedServer

    with FeedServer() as other:
        feeds = []
        for n in range(8):
            feed_server.set(f"/{n}.xml", rss(boring(1)))
            feed_server.delay(f"/{n}.xml", 0.2)
            feeds.append((f"busy {n}", feed_server.url(f"/{n}.xml")))
        other.set("/o.xml", rss(boring(1)))
        feeds.append(("other", other.url("/o.xml")))
        path = write_config(tmp_path / "c.toml", feeds, fetch="per_host = 2")
        config = load_config(path)
        async with pipeline_on(config) as pipeline:
            polls = [pipeline.poll(feed, time.time(), force=True) for feed in config.feeds]
            results = await asyncio.gather(*polls)
            pipeline.store.close()
        assert [r.status for r in results] == ["ok"] * 9
        assert feed_server.most_in_flight == 2  # never more, and the limit was reached
        assert other.hits("/o.xml") == 1


def long_items(count: int, start: int = 0) -> list[dict]:
    """Alerting entries whose summaries need pages a capped database does not have."""
    return [
        {
            "guid": f"long{n}",
            "title": f"armswatch-test-keyword long story {n}",
            "summary": "x" * 2900,
        }
        for n in range(start, start + count)
    ]


async def test_a_poll_the_full_store_cannot_record_is_deferred_and_redone_once_it_can(
    tmp_path, feed_server
):
    feed_server.set("/a.xml", rss(long_items(2)))
    config = load_config(write_config(tmp_path / "c.toml", [("A", feed_server.url("/a.xml"))]))
    (feed,) = config.feeds
    async with pipeline_on(config) as pipeline:
        assert (await pipeline.poll(feed, time.time(), force=True)).alerts == 2
        feed_server.set("/a.xml", rss(long_items(6)))
        pipeline.store.limit_size(1)  # as if the disk were full
        result = await pipeline.poll(feed, time.time(), force=True)
        assert (result.status, result.kind) == ("deferred", "store")
        assert "database or disk is full" in result.error
        assert pipeline.unstored == {feed.url: result.error}
        assert pipeline.store.feed_state(feed.url).items_total == 2  # nothing of it kept
        pipeline.store.limit_size(None)
        again = await pipeline.poll(feed, time.time(), force=True)
        assert (again.status, again.new, again.alerts) == ("ok", 4, 4)
        assert pipeline.unstored == {}
        pipeline.store.close()
    assert outbox(config) == [f"127.0.0.1/long{n}" for n in range(6)]  # each once


async def test_a_poll_the_locked_store_cannot_record_is_deferred(tmp_path, feed_server):
    feed_server.set("/a.xml", rss(keyword_items(2)))
    config = load_config(write_config(tmp_path / "c.toml", [("A", feed_server.url("/a.xml"))]))
    (feed,) = config.feeds
    store = open_store(config.storage_path, timeout=0.2)
    holder = sqlite3.connect(config.storage_path, isolation_level=None)
    client = make_client(config.fetch)
    try:
        pipeline = Pipeline(config, store, compile_rules(config), client)
        holder.execute("begin immediate")  # another process holds the write lock
        result = await pipeline.poll(feed, time.time(), force=True)
        assert result.status == "deferred" and "database is locked" in result.error
        holder.rollback()
        assert (await pipeline.poll(feed, time.time(), force=True)).alerts == 2
    finally:
        holder.close()
        store.close()
        await client.close()
