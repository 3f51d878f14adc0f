"""`bot.py migrate --to`: a SQLite database copied into PostgreSQL, twice doubling nothing."""

import bot
from tests.helpers import write_config
from watchers.models import DigestEntry, EventRow, Item, StoryRow
from watchers.store.base import FeedState, QueuedAlert
from watchers.store.postgres import open_pg_store
from watchers.store.sqlite import open_store


def fill(path) -> None:
    """One of everything the store holds."""
    store = open_store(path)
    story = StoryRow("a", 1.0, ("Iran",), ("Russia",), ("drone",), ("Shahed",), None, b"\x00\x01")
    event = EventRow("a", 1.0, None, "F", "A", "https://x.org/a", ("Iran",), ("Russia",))
    store.record_items(
        "F",
        [Item("a", "A", link="https://x.org/a"), Item("b", "B")],
        [QueuedAlert("a", "@c", "alert a"), QueuedAlert("b", "@c", "alert b")],
        1.0,
        stories=[story],
        events=[event],
        digest=[DigestEntry("r", "@c", "daily", "b", "line b", 1.0)],
        state=FeedState("https://x.org/f", name="F", etag='"e"', polled_once=True),
    )
    (sent, _) = store.due_alerts(2.0)
    store.mark_sent(sent.id, 42, 3.0)
    store.mute_rule("noisy", 99.0, 7, 4.0)
    store.close()


def test_migrate_copies_everything_and_twice_doubles_nothing(tmp_path, pg_url, capsys):
    config = write_config(tmp_path / "c.toml", [])
    fill(tmp_path / "state.db")
    assert bot.main(["--config", str(config), "migrate", "--to", pg_url]) == 0
    out = capsys.readouterr().out
    assert "items: 2 rows, 2 copied" in out and "outbox: 2 rows, 2 copied" in out
    assert bot.main(["--config", str(config), "migrate", "--to", pg_url]) == 0
    again = capsys.readouterr().out
    assert "items: 2 rows, 0 copied" in again and "outbox: 2 rows, 0 copied" in again
    store = open_pg_store(pg_url)
    try:
        assert store.feed_state("https://x.org/f").polled_once is True
        assert [a.item_id for a in store.due_alerts(5.0)] == ["b"]
        assert store.sent_alert("a", "@c") == ("sent", 42, "alert a")
        (story,) = store.recent_stories(0.0)
        assert story.minhash == b"\x00\x01" and story.weapons == ("Shahed",)
        assert [e.supplier for e in store.events_since(0.0)] == [("Iran",)]
        assert store.digest_lines("r", "@c", "daily") == [(1, "line b")]
        assert store.muted_rules(5.0) == {"noisy": 99.0}
        assert store.unseen([Item("a", "A"), Item("c", "C")]) == [Item("c", "C")]
        store.record_items("F", [Item("c", "C")], [QueuedAlert("c", "@c", "new")], 6.0)
        assert [a.id for a in store.due_alerts(7.0)] == [2, 3]  # ids after the copied ones
    finally:
        store.close()


def test_migrate_refuses_a_password_in_the_url_and_a_missing_file(tmp_path, capsys):
    config = write_config(tmp_path / "c.toml", [])
    assert bot.main(["--config", str(config), "migrate", "--to", "postgresql://u:pw@h/db"]) == 1
    assert "--to: the URL holds a password" in capsys.readouterr().err
    assert bot.main(["--config", str(config), "migrate", "--to", "postgresql://u@h/db"]) == 1
    assert "state.db: no SQLite database to copy" in capsys.readouterr().err


def test_feeds_list_reads_the_states_from_postgresql(tmp_path, pg_url, capsys):
    config = write_config(tmp_path / "c.toml", [("F", "https://x.org/f")])
    config.write_text(config.read_text().replace('path = "state.db"', f'url = "{pg_url}"'))
    store = open_pg_store(pg_url)
    store.save_feed_state(FeedState("https://x.org/f", name="F", status="ok", last_poll=1.0))
    store.close()
    assert bot.main(["--config", str(config), "feeds", "list"]) == 0
    out = capsys.readouterr().out
    assert "https://x.org/f" in out and "not polled yet" not in out
