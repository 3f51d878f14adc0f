"""Events stored by the real pipeline, exported as CSV and JSON Lines, field by field."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

import bot
from tests.helpers import CHAT, TOKEN_ENV, boring, rss, seed_item, write_config
from watchers.models import EventRow
from watchers.ops.export import COLUMNS, merge_events, write_export
from watchers.store.sqlite import open_store


@pytest.fixture
def seeded(tmp_path, feed_server, bot_api, bot_token, monkeypatch) -> Path:
    """A config whose database holds the seed story, alerted by `bot.py once`."""
    monkeypatch.setenv(TOKEN_ENV, bot_token)
    feed_server.set("/news.xml", rss([seed_item(), *boring(3)]))
    config = write_config(
        tmp_path / "c.toml", [("Kyiv Post", feed_server.url("/news.xml"))], bot_api.base_url
    )
    assert bot.main(["--config", str(config), "once"]) == 0
    assert len(bot_api.messages_for(CHAT)) == 1
    return config


def export(config: Path, *args: str) -> int:
    return bot.main(["--config", str(config), "export", *args])


def test_the_pipeline_stores_the_event_of_each_alerted_item(seeded):
    store = open_store(seeded.parent / "state.db")
    try:
        (event,) = store.events_since(0)
    finally:
        store.close()
    seed = seed_item()
    assert (event.supplier, event.recipient) == (("Iran",), ("Russia",))
    assert event.weapons == ("ballistic missiles",)
    assert event.categories == ("missiles",)
    assert event.status == "planned"
    assert event.rules == ("arms-transfer", "iran-to-russia")
    assert (event.source, event.link, event.title) == ("Kyiv Post", seed["link"], seed["title"])
    assert event.published and event.score >= 0.5


def test_csv_export_field_by_field(seeded, capsys):
    assert export(seeded, "--since", "30d", "--format", "csv") == 0
    out = capsys.readouterr()
    (row,) = list(csv.DictReader(io.StringIO(out.out)))
    seed = seed_item()
    assert tuple(row) == COLUMNS
    assert row["supplier"] == "Iran" and row["recipient"] == "Russia"
    assert row["weapon_designation"] == "ballistic missiles"
    assert row["weapon_category"] == "missiles"
    assert row["status"] == "planned"
    assert row["sources"] == "Kyiv Post" and row["links"] == seed["link"]
    assert row["title"] == seed["title"]
    assert row["rules"] == "arms-transfer; iran-to-russia"
    assert row["reports"] == "1" and float(row["score"]) >= 0.5
    assert len(row["date"]) == 10 and row["date"].startswith("20")
    assert "exported 1 stories" in out.err


def test_jsonl_export_to_a_file_keeps_lists(seeded, tmp_path):
    target = tmp_path / "events.jsonl"
    assert export(seeded, "--format", "jsonl", "--out", str(target)) == 0
    (record,) = [json.loads(line) for line in target.read_text().splitlines()]
    assert list(record) == list(COLUMNS)
    assert record["supplier"] == ["Iran"] and record["recipient"] == ["Russia"]
    assert record["weapon_designation"] == ["ballistic missiles"]
    assert record["weapon_category"] == ["missiles"]
    assert record["links"] == [seed_item()["link"]] and record["sources"] == ["Kyiv Post"]


def test_since_leaves_out_older_events(seeded, capsys):
    assert export(seeded, "--since", "0") == 0
    assert capsys.readouterr().out.splitlines() == [",".join(COLUMNS)]


@pytest.mark.parametrize("since", ["yesterday", "-3d"])
def test_a_bad_duration_is_a_usage_error(seeded, since, capsys):
    with pytest.raises(SystemExit) as exit_:
        export(seeded, "--since", since)
    assert exit_.value.code == 2 and "--since" in capsys.readouterr().err


def event(item_id: str, **values) -> EventRow:
    return EventRow(item_id=item_id, seen_at=1_700_000_000.0, **values)


@pytest.mark.parametrize(
    "events,expected",
    [
        (
            [event("a", supplier=("Iran",), status="planned", source="WSJ", link="https://a")],
            {"supplier": ("Iran",), "status": "planned", "sources": ("WSJ",), "reports": 1},
        ),
        (
            [
                event("a", supplier=("Iran",), status="planned", source="WSJ", title="First"),
                event("b", supplier=("Iran",), recipient=("Russia",), source="BBC"),
                event("c", status="delivered", source="WSJ", weapons=("Shahed-136",)),
            ],
            {
                "supplier": ("Iran",),
                "recipient": ("Russia",),
                "status": "delivered",
                "sources": ("WSJ", "BBC"),
                "weapons": ("Shahed-136",),
                "title": "First",
                "reports": 3,
            },
        ),
        (
            [event("a", published="2024-01-04T12:47:00+00:00")],
            {"date": "2024-01-04", "status": None},
        ),
        ([event("a")], {"date": "2023-11-14"}),  # no publication date: when it was seen
    ],
)
def test_merge_events_of_one_story(events, expected):
    story = merge_events("s1", events)
    assert {key: getattr(story, key) for key in expected} == expected


def test_csv_quotes_commas_and_newlines_in_titles():
    story = merge_events("s", [event("a", title='Deal, "big"\nnews', supplier=("A", "B"))])
    buffer = io.StringIO()
    assert write_export([story], buffer, "csv") == 1
    (row,) = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert row["title"] == 'Deal, "big"\nnews' and row["supplier"] == "A; B"


def test_reports_merged_into_one_story_are_one_record(
    tmp_path, feed_server, bot_api, bot_token, monkeypatch, capsys
):
    from tests.stories.test_stories import DELIVERED, POLAND

    monkeypatch.setenv(TOKEN_ENV, bot_token)
    entries = [
        {"guid": f"p{n}", "title": t, "link": f"https://o{n}.org/a"} for n, t in enumerate(POLAND)
    ]
    feed_server.set("/a.xml", rss(entries[:1]))
    feed_server.set("/b.xml", rss(entries[1:2]))
    feeds = [("Outlet A", feed_server.url("/a.xml")), ("Outlet B", feed_server.url("/b.xml"))]
    config = write_config(tmp_path / "c.toml", feeds, bot_api.base_url)
    assert bot.main(["--config", str(config), "once"]) == 0
    later = {"guid": "d", "title": DELIVERED, "link": "https://o9.org/d"}
    feed_server.set("/a.xml", rss([*entries[:1], later]))
    assert bot.main(["--config", str(config), "once"]) == 0
    assert export(config, "--format", "jsonl") == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (record["supplier"], record["recipient"]) == (["Poland"], ["Ukraine"])
    assert record["reports"] == 3 and record["status"] == "delivered"
    assert sorted(record["sources"]) == ["Outlet A", "Outlet B"]
    assert set(record["links"]) == {"https://o0.org/a", "https://o1.org/a", "https://o9.org/d"}
