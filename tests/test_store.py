"""The SQLite store on real files: dedup, one transaction per feed, the outbox states."""

import os
import sqlite3

import pytest

from watchers.errors import StoreError
from watchers.models import Item
from watchers.store import FeedState, QueuedAlert, open_store


@pytest.fixture
def store(tmp_path):
    store = open_store(tmp_path / "a.db")
    yield store
    store.close()


def test_unseen_dedups_by_id_and_by_link_across_feeds(store):
    first = [Item("a", "A", link="https://x.org/1"), Item("b", "B")]
    store.record_items("feed1", store.unseen(first), [], now=1.0)
    later = [
        Item("a", "A again"),  # same id
        Item("other-guid", "A elsewhere", link="https://x.org/1"),  # same link, other feed
        Item("c", "C", link="https://x.org/3"),
        Item("c2", "C dup in batch", link="https://x.org/3"),
    ]
    assert [i.id for i in store.unseen(later)] == ["c"]


def test_items_survive_reopen(tmp_path):
    path = tmp_path / "b.db"
    store = open_store(path)
    store.record_items("f", [Item("x", "X")], [QueuedAlert("x", "@c", "hi")], now=1.0)
    store.close()
    again = open_store(path)
    assert again.unseen([Item("x", "X")]) == []
    assert [a.item_id for a in again.due_alerts(now=2.0)] == ["x"]
    again.close()


def test_outbox_lifecycle(store):
    store.record_items("f", [Item("x", "X")], [QueuedAlert("x", "@c", "hi")], now=1.0)
    (alert,) = store.due_alerts(now=1.0)
    store.mark_sending(alert.id, now=2.0)
    assert store.due_alerts(now=2.0)[0].attempts == 1  # a crash mid-send leaves it due
    store.mark_retry(alert.id, "502", next_attempt=10.0)
    assert store.due_alerts(now=5.0) == []
    assert store.undelivered_count() == 1
    store.mark_sent(alert.id, message_id=7, now=11.0)
    assert store.due_alerts(now=20.0) == [] and store.undelivered_count() == 0
    assert store.sent_since("@c", 0.0) == [11.0]


def test_one_alert_per_item_and_chat(store):
    alerts = [QueuedAlert("x", "@c", "one"), QueuedAlert("x", "@c", "two")]
    assert store.record_items("f", [Item("x", "X")], alerts, now=1.0) == 2
    assert len(store.due_alerts(now=1.0)) == 1


def test_feed_state_roundtrip(store):
    state = FeedState(url="https://x.org/f", etag='"e1"', failures=2, polled_once=True)
    store.save_feed_state(state)
    assert store.feed_state("https://x.org/f") == state
    assert store.feed_state("https://other") == FeedState(url="https://other")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write read-only files")
def test_read_only_database_is_a_clear_error(tmp_path):
    path = tmp_path / "ro.db"
    open_store(path).close()
    path.chmod(0o444)
    with pytest.raises(StoreError, match="ro.db"):
        open_store(path)


def test_locked_database_is_a_clear_error(tmp_path):
    path = tmp_path / "locked.db"
    open_store(path).close()
    holder = sqlite3.connect(path)
    holder.execute("begin exclusive")
    try:
        with pytest.raises(StoreError, match="locked.db: cannot open the database for writing"):
            open_store(path, timeout=0.2)
    finally:
        holder.rollback()
        holder.close()


def test_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="junk.db"):
        open_store(path)
