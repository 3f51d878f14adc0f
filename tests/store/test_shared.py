"""Several instances on one PostgreSQL database: the database decides who polls a feed,
who queues an item's alert, who sends to a chat; schema versions; the server away."""

import logging

import pytest

from watchers.errors import StoreError, StoreUnavailable
from watchers.models import DigestEntry, Item, StoryRow
from watchers.store.base import FeedState, QueuedAlert
from watchers.store.postgres import open_pg_store


def test_schema_version_is_recorded_in_the_database(store, pg_url):
    assert store.schema_version() == 3  # SQLite: the file's user_version
    rows = open_pg_store(pg_url).query("select version from schema_version order by version")
    assert rows[-1]["version"] == 3


def test_a_feed_stays_with_the_instance_that_polls_it_until_it_is_a_lease_late(two):
    a, b = two
    seen = b.feed_state("f")
    assert a.claim_feed(a.feed_state("f"), now=100.0) is not None
    assert b.claim_feed(seen, now=101.0) is None  # a is polling it
    a.save_feed_state(FeedState("f", etag="x", next_poll=700.0))
    assert b.claim_feed(seen, now=102.0) is None  # b read the state before a's poll
    fresh = b.feed_state("f")
    assert fresh.etag == "x"
    assert b.claim_feed(fresh, now=700.0) is None  # due, but a owns it: a polls it
    assert a.claim_feed(a.feed_state("f"), now=700.0) is not None
    a.save_feed_state(FeedState("f", etag="y", next_poll=1300.0))
    assert b.claim_feed(b.feed_state("f"), now=1309.0) is None
    assert b.claim_feed(b.feed_state("f"), now=1310.0) is not None  # a is 10 s late: dead


def test_a_dead_instances_lease_expires_and_its_late_write_is_dropped(two):
    a, b = two
    assert a.claim_feed(FeedState("f"), now=100.0) is not None
    assert b.claim_feed(FeedState("f"), now=109.0) is None
    assert b.claim_feed(FeedState("f"), now=111.0) is not None  # 10 s lease expired
    a.save_feed_state(FeedState("f", etag="from a, presumed dead"))
    assert b.feed_state("f").etag == ""  # b's poll is the newer one
    b.save_feed_state(FeedState("f", etag="from b"))
    assert a.feed_state("f").etag == "from b"


def test_a_deferred_state_keeps_the_feed_with_its_instance(two):
    a, b = two
    a.claim_feed(FeedState("f"), now=100.0)
    a.defer_feed_state(FeedState("f", next_poll=160.0))
    assert a.claim_feed(a.feed_state("f"), now=160.0) is not None  # its own lease
    assert b.claim_feed(b.feed_state("f"), now=161.0) is None
    a.flush_feed_states()
    assert b.claim_feed(b.feed_state("f"), now=165.0) is None
    assert b.claim_feed(b.feed_state("f"), now=171.0) is not None


def test_the_feeds_of_a_dead_instance_are_adopted_by_one_other(pg_url, two):
    a, b = two
    dead = open_pg_store(pg_url, lease=10.0, instance="dead")
    for url in ("f1", "f2", "f3"):
        dead.claim_feed(FeedState(url), now=100.0)
        dead.save_feed_state(FeedState(url, next_poll=160.0))
    dead._conn.close()  # killed: nothing given back
    a.claim_feed(FeedState("mine"), now=100.0)
    a.save_feed_state(FeedState("mine", next_poll=165.0))  # a is alive: on time
    assert a.adopt_feeds(now=169.0) == []  # not a lease late yet
    assert sorted(b.adopt_feeds(now=171.0, limit=2) + a.adopt_feeds(now=171.0)) == [
        "f1",
        "f2",
        "f3",
    ]
    assert b.adopt_feeds(now=172.0) == []  # adopted feeds are being polled


def test_an_item_two_instances_found_alerts_once(two):
    a, b = two
    item = Item("x", "X", link="https://x.org/1")
    syndicated = Item("y", "X", link="https://x.org/1")  # same link and title, other id
    assert a.unseen([item]) == [item] and b.unseen([syndicated]) == [syndicated]
    story = StoryRow("x", 1.0, (), (), (), (), None, b"", (), ())
    digest = DigestEntry("r", "@c", "daily", "x", "line", 1.0)
    assert a.record_items("f", [item], [QueuedAlert("x", "@c", "a")], 1.0, stories=[story]) == 1
    later = [QueuedAlert("y", "@c", "b"), QueuedAlert("notice", "@admin", "feed fails")]
    lost = dict(stories=[StoryRow("y", 1.0, (), (), (), (), None, b"", (), ())])
    assert b.record_items("g", [syndicated], later, 2.0, digest=[digest], **lost) == 1
    rows = a.query("select item_id from outbox order by id")
    assert [r["item_id"] for r in rows] == ["x", "notice"]  # y's alert is not queued
    assert [s.id for s in b.recent_stories(0.0)] == ["x"]


def test_one_instance_at_a_time_sends_to_a_chat(two):
    a, b = two
    assert a.claim_chat("@c", now=100.0) and a.claim_chat("@c", now=105.0)  # renewed
    assert not b.claim_chat("@c", now=110.0)
    assert b.claim_chat("@other", now=110.0)
    a.release_chat("@c")
    assert b.claim_chat("@c", now=111.0)
    assert not a.claim_chat("@c", now=120.0)
    assert a.claim_chat("@c", now=122.0)  # b's lease (10 s) expired


def test_a_digest_is_queued_by_one_instance(two):
    a, b = two
    a.record_items(
        "f", [Item("x", "X")], [], 1.0, digest=[DigestEntry("r", "@c", "daily", "x", "l", 1.0)]
    )
    ids = [entry_id for entry_id, _ in b.digest_lines("r", "@c", "daily")]
    assert a.queue_digest(QueuedAlert("digest:a", "@c", "digest"), ids, 2.0)
    assert not b.queue_digest(QueuedAlert("digest:b", "@c", "digest"), ids, 2.0)
    assert [r["item_id"] for r in a.query("select item_id from outbox")] == ["digest:a"]


def test_stories_filed_by_one_instance_reach_the_others(two):
    a, b = two
    story = StoryRow("s", 5.0, ("Iran",), ("Russia",), (), (), None, b"", (), ("w",))
    a.record_items("f", [Item("s", "S")], [], 50.0, stories=[story])
    assert [s.id for s in b.stories_changed(40.0)] == ["s"]
    assert b.stories_changed(60.0) == []


def test_wrong_password_is_a_clear_error_without_the_password(pg_url, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "not-the-password")
    with pytest.raises(StoreError, match="password authentication failed") as caught:
        open_pg_store(pg_url)
    assert "not-the-password" not in str(caught.value) and "PGPASSWORD" in str(caught.value)


def test_nothing_listening_is_a_clear_error(free_port):
    with pytest.raises(StoreError, match=f"127.0.0.1:{free_port}/x: cannot open the database"):
        open_pg_store(f"postgresql://u@127.0.0.1:{free_port}/x")


def test_the_server_away_then_back(pg_server, pg_url, caplog):
    caplog.set_level(logging.INFO)
    store = open_pg_store(pg_url)
    store.record_items("f", [Item("x", "X")], [QueuedAlert("x", "@c", "hi")], 1.0)
    store.defer_feed_state(FeedState("f", etag="kept"))
    pg_server.stop()
    try:
        with pytest.raises(StoreUnavailable):
            store.due_alerts(now=2.0)
        with pytest.raises(StoreUnavailable, match="unreachable"):
            store.flush_feed_states()  # within the back-off: no new attempt
    finally:
        pg_server.restart()
    store._retry_at = 0.0  # the back-off is over
    assert [a.item_id for a in store.due_alerts(now=3.0)] == ["x"]
    assert store.flush_feed_states() == 1  # the deferred state waited
    assert "event=store_unavailable" in caplog.text and "event=store_back" in caplog.text
    store.close()


def test_a_job_is_done_once_whichever_instance_asks(store, two):
    a, b = two
    assert a.claim_once("weekly-report:2026-W49", 1.0)
    assert not b.claim_once("weekly-report:2026-W49", 2.0)
    assert b.claim_once("weekly-report:2026-W50", 3.0)
    assert store.claim_once("k", 1.0) and not store.claim_once("k", 2.0)


def test_an_instance_stopping_gives_its_leases_back_at_once(pg_url, two):
    a, b = two
    leaving = open_pg_store(pg_url, lease=600.0, instance="leaving")
    assert leaving.claim_feed(FeedState("f"), now=100.0) and leaving.claim_chat("@c", 100.0)
    assert b.claim_feed(b.feed_state("f"), now=101.0) is None
    leaving.close()
    assert b.claim_feed(b.feed_state("f"), now=102.0) is not None and b.claim_chat("@c", 102.0)
