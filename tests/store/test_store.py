"""The store on real databases, SQLite files and PostgreSQL (the `store` and `open_db`
fixtures run each test on both): dedup, one transaction per feed, the outbox states."""

import os
import sqlite3

import pytest

from watchers.errors import StoreError
from watchers.models import Item, Label, StoryRow
from watchers.store.sqlite import STATE_BATCH, FeedState, QueuedAlert, open_store


def test_unseen_knows_items_by_guid_link_and_title_together(store):
    first = [Item("a", "Alpha story", link="https://x.org/1"), Item("b", "Beta story")]
    store.record_items("feed1", store.unseen(first), [], now=1.0)
    later = [
        Item("a", "Alpha story", link="https://x.org/moved"),  # same guid and title
        Item("other-guid", "Alpha story", link="https://x.org/1"),  # same link and title
        Item("a", "Another story entirely", link="https://x.org/2"),  # a reused guid
        Item("c", "Gamma story", link="https://x.org/1"),  # another story, same link
        Item("c2", "Gamma story", link="https://x.org/1"),  # the same again, in the batch
    ]
    new = store.unseen(later)
    assert [(i.id, i.title) for i in new] == [
        ("a#" + new[0].id[2:], "Another story entirely"),
        ("c", "Gamma story"),
    ]
    assert new[0].feed_id == "a" and new[1].feed_id == ""  # "a" is taken: an id of its own
    store.record_items("feed1", new, [], now=2.0)
    assert store.unseen(later) == []


def test_items_survive_reopen(open_db):
    store = open_db()
    store.record_items("f", [Item("x", "X")], [QueuedAlert("x", "@c", "hi")], now=1.0)
    store.close()
    again = open_db()
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


def written_etags(open_db) -> dict[str, str]:
    """The feed states in the database, as another process (or the next start) reads them."""
    other = open_db()
    try:
        return {s.url: s.etag for s in other.feed_states()}
    finally:
        other.close()


def test_deferred_states_are_read_back_at_once_and_written_in_one_batch(open_db):
    store = open_db()
    store.save_feed_state(FeedState(url="u1", etag="1"))
    store.defer_feed_state(FeedState(url="u1", etag="2"))
    store.defer_feed_state(FeedState(url="u2", etag="3"))
    assert store.feed_state("u1").etag == "2"
    assert {s.url: s.etag for s in store.feed_states()} == {"u1": "2", "u2": "3"}
    assert written_etags(open_db) == {"u1": "1"}  # a kill now: the next start polls again
    assert store.flush_feed_states() == 2
    assert written_etags(open_db) == {"u1": "2", "u2": "3"}
    assert store.flush_feed_states() == 0
    store.defer_feed_state(FeedState(url="u3", etag="4"))
    store.close()  # writes what was deferred
    assert written_etags(open_db) == {"u1": "2", "u2": "3", "u3": "4"}


def test_deferred_states_are_written_once_a_batch_is_full(open_db, store):
    for n in range(STATE_BATCH - 1):
        store.defer_feed_state(FeedState(url=f"u{n}"))
    assert written_etags(open_db) == {}
    store.defer_feed_state(FeedState(url="last"))
    assert len(written_etags(open_db)) == STATE_BATCH


def test_a_state_stored_with_items_carries_the_deferred_ones(open_db, store):
    store.defer_feed_state(FeedState(url="quiet", etag="q"))
    store.record_items("f", [Item("x", "X")], [], 1.0, state=FeedState(url="f", etag="f"))
    assert written_etags(open_db) == {"quiet": "q", "f": "f"}
    assert store.feed_state("f").etag == "f"


def test_items_and_their_state_commit_together_or_not_at_all(open_db):
    store = open_db()
    store.save_feed_state(FeedState(url="f", body_hash="old"))
    store.defer_feed_state(FeedState(url="quiet", etag="q"))
    broken = StoryRow("x", started=None)  # started is NOT NULL: the transaction fails
    new = FeedState("f", body_hash="new")
    with pytest.raises(StoreError, match="record_items"):
        store.record_items("f", [Item("x", "X")], [], 1.0, stories=[broken], state=new)
    assert store.feed_state("f").body_hash == "old"  # so the next poll reads the feed again
    assert [i.id for i in store.unseen([Item("x", "X")])] == ["x"]
    assert written_etags(open_db) == {"f": ""}
    assert store.flush_feed_states() == 1  # the deferred state still waits to be written
    store.close()


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


def test_a_database_from_an_older_version_gains_the_new_columns(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # tables as an earlier release made them
        db.execute(
            "create table feeds (url text primary key, name text, etag text, last_modified "
            "text, body_hash text, status text, error text, failures integer, next_poll real, "
            "last_poll real, last_ok real, polled_once integer, items_total integer)"
        )
        db.execute("insert into feeds (url, name, status) values ('https://f.org/', 'F', 'ok')")
        db.execute(
            "create table stories (id text primary key, started real not null, supplier text, "
            "recipient text, categories text, weapons text, status text, minhash blob, "
            "sources text)"
        )
        db.execute(
            "insert into stories values ('s', 1.0, '[]', '[]', '[]', '[]', null, x'00', '[]')"
        )
    store = open_store(path)
    (state,) = store.feed_states()
    (story,) = store.recent_stories(0.0)
    store.close()
    assert (state.name, state.ttl, state.moved_to, state.reported) == ("F", 0.0, "", False)
    assert (story.id, story.words, story.sources) == ("s", (), ())


def stored_alert(store, item: Item, chat: str = "@chan", message_id: int = 7) -> None:
    """An item stored and its alert sent as message `message_id`."""
    store.record_items("feed1", [item], [QueuedAlert(item.id, chat, "<b>x</b>")], now=1.0)
    (alert,) = store.due_alerts(now=2.0)
    store.mark_sent(alert.id, message_id, now=2.0)


def test_the_item_of_an_alert_is_found_by_its_message(store):
    stored_alert(store, Item("a", "Iran ships drones", summary="More.", link="https://x.org/a"))
    found = store.alerted_item(["-100", "@chan"], 7)
    assert found == {"id": "a", "title": "Iran ships drones", "summary": "More.",
                     "link": "https://x.org/a"}  # fmt: skip
    assert store.alerted_item(["-100", "@other"], 7) is None  # another chat
    assert store.alerted_item(["@chan"], 8) is None  # another message
    assert store.item_by_link("https://x.org/a")["id"] == "a"
    assert store.item_by_link("https://x.org/b") is None and store.item_by_link("") is None


N = "https://x.org/n"
LABEL_CASES = [
    # (item_id, link, title, label, kind) stored in turn -> what is kept
    ("the same item twice: the newest decides",
     [("i1", "", "T", 0, "wrong"), ("i1", "", "T", 1, "missed")], [("i1", "", "T", 1)]),
    ("a link never stored, twice",
     [(None, N, "", 1, "missed"), (None, N, "T", 1, "missed")], [(None, N, "T", 1)]),
    ("a link stored alone, then its item once read",
     [(None, N, "", 1, "missed"), ("i3", N, "T", 0, "wrong")], [("i3", N, "T", 0)]),
    ("the same headline without a link, twice",
     [(None, "", "H", 1, "missed"), (None, "", "H", 0, "missed")], [(None, "", "H", 0)]),
    ("different stories stay apart",
     [("i1", "", "T", 0, "wrong"), ("i2", "", "T", 0, "wrong"), (None, "", "H", 1, "missed"),
      (None, N, "", 1, "missed")],
     [("i1", "", "T", 0), ("i2", "", "T", 0), (None, "", "H", 1), (None, N, "", 1)]),
]  # fmt: skip


@pytest.mark.parametrize(
    "labels,expected", [c[1:] for c in LABEL_CASES], ids=[c[0] for c in LABEL_CASES]
)
def test_labels_are_stored_one_per_story(tmp_path, labels, expected):
    store = open_store(tmp_path / "a.db")
    for n, (item_id, link, title, value, kind) in enumerate(labels):
        label = Label(value, kind, 42, "@chan", float(n), item_id, link, title, "S", "ann")
        assert store.add_label(label) > 0
    store.close()
    store = open_store(tmp_path / "a.db")  # kept across a reopen
    found = store.labels()
    store.close()
    assert [(x.item_id, x.link, x.title, x.label) for x in found] == expected
    assert all((x.user_id, x.username, x.chat_id) == (42, "ann", "@chan") for x in found)
    assert [x.id for x in found] == sorted(x.id for x in found)


def test_a_database_of_schema_version_1_gains_the_labels_table(tmp_path):
    path = tmp_path / "v1.db"
    open_store(path).close()
    with sqlite3.connect(path) as db:  # as version 1 left it
        db.execute("drop table labels")
        db.execute("pragma user_version = 1")
    store = open_store(path)
    store.add_label(Label(0, "wrong", 1, "@c", 5.0, "i"))
    assert [x.item_id for x in store.labels()] == ["i"]
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("pragma user_version").fetchone() == (3,)


def test_labels_and_the_items_they_name(store):
    from watchers.models import Label

    store.record_items("f", [Item("i", "Iran ships drones", link="https://x.org/i")], [], 1.0)
    store.record_items("f", [], [QueuedAlert("i", "@c", "alert")], 1.0)
    (alert,) = store.due_alerts(2.0)
    store.mark_sent(alert.id, 77, 3.0)
    assert store.alerted_item(["@c"], 77)["id"] == "i"
    assert store.item_by_link("https://x.org/i")["title"] == "Iran ships drones"
    store.add_label(Label(0, "wrong", 1, "@c", 5.0, "i"))
    label_id = store.add_label(Label(1, "missed", 2, "@c", 6.0, "i"))  # the newest decides
    assert [(x.id, x.label, x.kind) for x in store.labels()] == [(label_id, 1, "missed")]
    assert store.item_texts() == [("i", "Iran ships drones", "")]
