"""Storage trouble on real SQLite files: a full database (SQLite's max_page_count, the
error path of a full disk) and a locked one fail a write as StoreUnavailable and leave
nothing half-stored; the same write works once the trouble is gone."""

import sqlite3

import pytest

from watchers.errors import StoreError, StoreUnavailable
from watchers.models import Item
from watchers.store.sqlite import SHORT_WAIT, FeedState, QueuedAlert, open_store


def big_items(prefix: str, count: int = 6) -> list[Item]:
    """Items whose summaries need pages the file does not have yet."""
    return [Item(f"{prefix}{n}", f"{prefix} story {n}", "x" * 3000) for n in range(count)]


@pytest.fixture
def store(tmp_path):
    store = open_store(tmp_path / "s.db")
    store.record_items("f", [Item("old", "Old story")], [QueuedAlert("old", "@c", "hi")], 1.0)
    yield store
    store.close()


def test_a_full_database_stores_nothing_of_a_poll_until_it_has_room(store):
    store.save_feed_state(FeedState(url="f", body_hash="old"))
    store.defer_feed_state(FeedState(url="quiet", etag="q"))
    assert store.limit_size(1) > 0  # capped at the pages it has
    new = big_items("n")
    alerts = [QueuedAlert(i.id, "@c", "alert") for i in new]
    full = "s.db: record_items failed: database or disk is full"
    with pytest.raises(StoreUnavailable, match=full):
        store.record_items("f", new, alerts, 2.0, state=FeedState(url="f", body_hash="new"))
    assert store.unseen(new) == new  # nothing marked seen
    assert store.feed_state("f").body_hash == "old"  # so the next poll reads the feed again
    assert [a.item_id for a in store.due_alerts(now=3.0)] == ["old"]
    store.limit_size(None)
    store.record_items("f", new, alerts, 2.0, state=FeedState(url="f", body_hash="new"))
    assert store.unseen(new) == [] and store.feed_state("f").body_hash == "new"
    assert len(store.due_alerts(now=3.0)) == 7
    assert store.flush_feed_states() == 0  # the deferred state went with the items


def test_queued_alerts_are_still_recorded_as_sent_when_the_database_is_full(store):
    store.limit_size(1)
    with pytest.raises(StoreUnavailable):
        store.record_items("f", big_items("n"), [], 2.0)
    (alert,) = store.due_alerts(now=3.0)
    store.mark_sending(alert.id, now=3.0)
    store.mark_sent(alert.id, message_id=5, now=3.5)
    assert store.undelivered_count() == 0


def test_deferred_states_wait_in_memory_while_their_batch_cannot_be_written(store):
    store.limit_size(1)
    with pytest.raises(StoreUnavailable):
        store.record_items("f", big_items("n"), [], 2.0)
    store.defer_feed_state(FeedState(url="a", etag="1" * 20000))  # a state needing a page
    with pytest.raises(StoreUnavailable):
        store.flush_feed_states()
    assert store.feed_state("a").etag == "1" * 20000
    store.limit_size(None)
    assert store.flush_feed_states() == 1


def test_a_locked_database_fails_writes_quickly_until_the_lock_goes(tmp_path):
    path = tmp_path / "l.db"
    store = open_store(path, timeout=0.5)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("begin immediate")  # another process writing, for longer than 0.5 s
    try:
        with pytest.raises(StoreUnavailable, match="record_items failed: database is locked"):
            store.record_items("f", [Item("a", "A")], [], 1.0)
        assert store.db.execute("pragma busy_timeout").fetchone() == (SHORT_WAIT * 1000,)
        assert store.unseen([Item("a", "A")]) != []  # reads go on (WAL)
    finally:
        holder.rollback()
        holder.close()
    store.record_items("f", [Item("a", "A")], [], 1.0)
    assert store.db.execute("pragma busy_timeout").fetchone() == (500,)  # back to the timeout
    store.close()


def test_errors_a_retry_cannot_mend_stay_store_errors(store, tmp_path):
    with sqlite3.connect(tmp_path / "s.db") as other:
        other.execute("drop table mutes")
    with pytest.raises(StoreError, match="no such table") as caught:
        store.muted_rules(1.0)
    assert not isinstance(caught.value, StoreUnavailable)


def test_closing_a_full_database_lets_the_deferred_states_go(tmp_path):
    store = open_store(tmp_path / "c.db")
    store.limit_size(1)
    store.defer_feed_state(FeedState(url="a", etag="1" * 20000))
    store.close()  # no error: the state only means a re-poll at the next start
    again = open_store(tmp_path / "c.db")
    assert again.feed_state("a") == FeedState(url="a")
    again.close()
