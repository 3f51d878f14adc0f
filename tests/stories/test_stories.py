"""Story merging: the pure decisions, then merged stories end to end against the fake Bot API."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest
from rensa import RMinHash

import bot
from tests.helpers import CHAT, TOKEN_ENV, rss, write_config
from watchers.config.load import load_config
from watchers.detection.rules import compile_rules
from watchers.models import Item
from watchers.stories.merge import (
    NUM_PERM,
    SEED,
    Event,
    StoryBook,
    restore_signature,
    story_from_row,
    story_row,
)

WINDOW = 48 * 3600

POLAND = [
    "Poland to send four MiG-29 fighter jets to Ukraine 'in coming days'",
    "Poland to transfer 4 MiG-29 fighter jets to Ukraine",
    "Poland to transfer four MiG-29 fighter jets to Ukraine in coming days, president says",
]
DELIVERED = "Poland delivers first four MiG-29 fighter jets to Ukraine"
OTHER = "Germany to send Leopard 2 tanks to Ukraine"


@pytest.fixture(scope="module")
def rules():
    from pathlib import Path

    return compile_rules(load_config(Path(__file__).resolve().parents[2] / "config.toml"))


def filed(book: StoryBook, rules, number: int, title: str, now: float = 0.0):
    item = Item(f"i{number}", title, source=f"Outlet {number}", link=f"https://o{number}.org/")
    seen = rules.read(item)
    return book.file(item, seen.text, seen.mentions, rules.verdict(item, seen).detection, now)


def test_reports_of_one_story_join_it(rules):
    book = StoryBook(WINDOW)
    first, second, third = (filed(book, rules, n, t) for n, t in enumerate(POLAND))
    assert first.kind == "send"
    assert (second.kind, third.kind) == ("edit", "edit")
    assert second.story is first.story
    assert first.story.sources == [("Outlet 1", "https://o1.org/"), ("Outlet 2", "https://o2.org/")]


def test_another_story_starts_its_own(rules):
    book = StoryBook(WINDOW)
    filed(book, rules, 0, POLAND[0])
    assert filed(book, rules, 1, OTHER).kind == "send"


def test_a_development_is_a_reply(rules):
    book = StoryBook(WINDOW)
    first = filed(book, rules, 0, POLAND[0])
    later = filed(book, rules, 1, DELIVERED)
    assert (later.kind, later.story) == ("reply", first.story)
    assert later.story.event.status == "delivered"


def test_stories_close_after_the_window(rules):
    book = StoryBook(WINDOW)
    filed(book, rules, 0, POLAND[0], now=0.0)
    assert filed(book, rules, 1, POLAND[1], now=WINDOW + 1).kind == "send"


def test_a_stored_story_is_followed_after_a_restart(rules):
    book = StoryBook(WINDOW)
    first = filed(book, rules, 0, POLAND[0])
    again = StoryBook(WINDOW, [story_row(first.story)])
    assert filed(again, rules, 1, POLAND[1]).kind == "edit"
    restored = story_from_row(story_row(first.story))
    assert restored.minhash.digest() == first.story.minhash.digest()
    later = filed(StoryBook(WINDOW), rules, 2, POLAND[2]).story.minhash
    assert restored.minhash.jaccard(later) == first.story.minhash.jaccard(later)


def test_similarity_is_exact_on_stored_words_and_estimated_without_them(rules, open_db):
    first = filed(StoryBook(WINDOW), rules, 0, POLAND[0]).story
    later = filed(StoryBook(WINDOW), rules, 1, POLAND[1]).story
    store = open_db()
    store.record_items("f", [], [], now=0.0, stories=[story_row(first)])
    (row,) = store.recent_stories(0.0)
    store.close()
    restored = story_from_row(row)
    assert restored.words == first.words and first.words
    exact = len(first.words & later.words) / len(first.words | later.words)
    assert restored.similarity(later.words, later.minhash) == exact
    older = story_from_row(replace(row, words=()))  # stored before words were kept
    estimate = older.similarity(later.words, later.minhash)
    assert estimate == first.minhash.jaccard(later.minhash) and abs(estimate - exact) < 0.25


@pytest.mark.parametrize("values", [64, 128])  # datasketch's NUM_PERM, and a larger one
def test_datasketch_rows_are_skipped_after_a_restart(rules, open_db, caplog, values):
    """Rows stored before rensa hold uint64 hash values: the story is skipped, not a crash."""
    current = filed(StoryBook(WINDOW), rules, 0, POLAND[0]).story
    old = replace(story_row(current), id="old", minhash=struct.pack(f"<{values}Q", *range(values)))
    store = open_db()
    store.record_items("f", [], [], now=0.0, stories=[old, story_row(current)])
    store.close()
    store = open_db()
    book = StoryBook(WINDOW, store.recent_stories(0.0))
    store.close()
    assert filed(book, rules, 1, POLAND[1]).story is book.index.stories["i0"]
    assert list(book.index.stories) == ["i0"]
    assert "story_skipped story=old" in caplog.text


def test_a_signature_of_other_parameters_is_refused():
    other = RMinHash(NUM_PERM * 2, SEED)
    other.update(["poland", "ukraine"])
    with pytest.raises(ValueError):
        restore_signature(other.__getstate__())


@pytest.mark.parametrize(
    "mine,theirs,agree,develops",
    [
        (
            Event(frozenset({"Iran"}), frozenset({"Russia"})),
            Event(frozenset({"Iran"})),
            True,
            False,
        ),
        (Event(frozenset({"Iran"})), Event(frozenset({"North Korea"})), False, True),
        (Event(status="delivered"), Event(status="planned"), True, True),
        (Event(status="planned"), Event(status="delivered"), True, False),
        (
            Event(categories=frozenset({"missiles", "drones"})),
            Event(categories=frozenset({"drones"})),
            True,
            True,
        ),
        (
            Event(categories=frozenset({"ships"})),
            Event(categories=frozenset({"drones"})),
            False,
            True,
        ),
    ],
)
def test_events(mine, theirs, agree, develops):
    assert mine.agrees_with(theirs) == agree
    assert mine.develops(theirs) == develops


def test_merged_story_edits_the_first_alert_and_a_development_replies(
    tmp_path, feed_server, bot_api, bot_token, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, bot_token)
    entries = [
        {"guid": f"p{n}", "title": t, "link": f"https://o{n}.org/a"} for n, t in enumerate(POLAND)
    ]
    feed_server.set("/a.xml", rss(entries[:1]))
    feed_server.set("/b.xml", rss(entries[1:2]))
    feed_server.set("/c.xml", rss(entries[2:]))
    feeds = [("Outlet A", feed_server.url("/a.xml")), ("Outlet B", feed_server.url("/b.xml"))]
    config = write_config(tmp_path / "c.toml", feeds, bot_api.base_url)
    assert bot.main(["--config", str(config), "once"]) == 0
    (first,) = bot_api.messages_for(CHAT)  # A and B were polled at once: either came first
    assert "Also reported by: Outlet " in first.plain
    assert first.edit_date is not None and len(first.history) == 1
    feeds.append(("Outlet C", feed_server.url("/c.xml")))
    write_config(config, feeds, bot_api.base_url)
    feed_server.set("/a.xml", rss([*entries[:1], {"guid": "d", "title": DELIVERED}]))
    assert bot.main(["--config", str(config), "once"]) == 0
    first, reply = bot_api.messages_for(CHAT)
    assert first.plain.endswith(", Outlet C")
    assert reply.reply_to == first.message_id and DELIVERED in reply.plain
    assert "delivered" in reply.plain.split("\n")[0]
