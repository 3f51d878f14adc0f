"""`feeds import | export | list` as a user runs them: bot.py in a real process, on a copy
of the default config, real OPML exports and a real SQLite database."""

import difflib
import shutil
import time
from pathlib import Path

import pytest

from tests.helpers import run_bot
from watchers.config.load import load_config
from watchers.config.opml import read_opml
from watchers.feedlist import rough_age
from watchers.store.sqlite import FeedState, open_store

ROOT = Path(__file__).resolve().parent.parent
OPML = ROOT / "tests" / "data" / "opml"


@pytest.fixture
def config(tmp_path) -> Path:
    """A copy of the default config.toml, comments and all."""
    return Path(shutil.copy(ROOT / "config.toml", tmp_path / "config.toml"))


def feeds(config: Path, *args: str):
    return run_bot("--config", str(config), "feeds", *args)


def test_import_adds_the_feeds_keeps_the_file_and_check_passes(config):
    before = config.read_text()
    done = feeds(config, "import", str(OPML / "thunderbird.opml"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "added     USNI News <https://news.usni.org/feed>",
        "added     Naval Technology <https://www.naval-technology.com/feed/>",
        "added     The Aviationist <https://theaviationist.com/feed/>",
        "added     ТАСС <https://tass.ru/rss/v2.xml>",
        "added     Коммерсантъ. Главное <https://www.kommersant.ru/RSS/main.xml>",
        "left out  Defense One - All Content (line 9): already in config.toml as 'Defense One'",
        "left out  Trash (line 22): no xmlUrl",
        "config.toml: added 5 feeds, left out 2 (from thunderbird.opml)",
    ]
    after = config.read_text()
    ops = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines()).get_opcodes()
    assert [op for op, *_ in ops] == ["equal", "insert", "equal"]  # every old line in place
    assert (
        '# From thunderbird.opml (armswatch feeds import)\n[[feeds]]\nname = "USNI News"' in after
    )
    checked = run_bot("--config", str(config), "check")
    assert checked.returncode == 0, checked.stderr
    assert "feeds: 30" in checked.stdout and "ТАСС: https://tass.ru/rss/v2.xml" in checked.stdout


def test_importing_twice_adds_nothing(config):
    assert feeds(config, "import", str(OPML / "feedly.opml")).returncode == 0
    once = config.read_bytes()
    done = feeds(config, "import", str(OPML / "feedly.opml"))
    assert done.returncode == 0, done.stderr
    assert config.read_bytes() == once
    assert done.stdout.splitlines()[-1] == "config.toml unchanged: no new feed in feedly.opml"
    assert "left out  Meduza (line 20): already in config.toml as 'Meduza'" in done.stdout


def test_dry_run_only_prints(config):
    before = config.read_bytes()
    done = feeds(config, "import", str(OPML / "liferea.opml"), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "added     EUobserver <https://xml.euobserver.com/rss.xml>" in done.stdout
    assert 'left out  Unread (line 18): not an http(s) URL: vfolder (type="vfolder")' in done.stdout
    assert done.stdout.splitlines()[-1] == (
        "dry run: would add 3 feeds, left out 4 (from liferea.opml); config.toml unchanged"
    )
    assert config.read_bytes() == before


@pytest.mark.parametrize(
    "name,problem",
    [
        ("bad-html.opml", "not XML: Opening and ending tag mismatch"),
        ("bad-billion-laughs.opml", "refused: an entity bomb"),
        ("bad-xxe.opml", "refused: it declares XML entities"),
        ("bad-no-body.opml", "not OPML: it has no <body>"),
        ("../feeds/newstgbot_bbc-world.xml", "not OPML: the document is <rss>, not <opml>"),
        ("missing.opml", "cannot read: No such file or directory"),
    ],
)
def test_bad_opml_is_one_clear_line_and_leaves_the_config(config, name, problem):
    before = config.read_bytes()
    done = feeds(config, "import", str(OPML / name))
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: {OPML / name}: {problem}"), done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stdout == ""
    assert config.read_bytes() == before


def test_export_round_trips_through_import(config, tmp_path):
    done = feeds(config, "export")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    exported = tmp_path / "exported.opml"
    exported.write_text(done.stdout)
    configured = load_config(config).feeds
    assert [(o.name, o.url) for o in read_opml(exported.read_bytes(), "x")] == [
        (f.name, f.url) for f in configured
    ]
    empty = tmp_path / "empty.toml"
    empty.write_text('[telegram]\ntoken_env = "NO_SUCH_TOKEN"\n')
    assert feeds(empty, "import", str(exported)).returncode == 0
    imported = load_config(empty).feeds
    assert [(f.name, f.url) for f in imported] == [(f.name, f.url) for f in configured]


def test_list_shows_each_feeds_stored_status(config):
    now = time.time()
    store = open_store(config.parent / "armswatch.db")
    url = {f.name: f.url for f in load_config(config).feeds}
    bbc, sipri, dsca = url["BBC World"], url["SIPRI"], url["DSCA Major Arms Sales"]
    store.save_feed_state(FeedState(bbc, "BBC World", status="ok", last_poll=now - 180))
    store.save_feed_state(
        FeedState(sipri, "SIPRI", status="error", error="HTTP 503", failures=3, last_poll=now - 60)
    )
    store.save_feed_state(FeedState(dsca, status="gone", error="HTTP 410 Gone", last_poll=now))
    store.close()
    done = feeds(config, "list")
    assert done.returncode == 0, done.stderr
    rows = {line.split("  ")[0]: line for line in done.stdout.splitlines()}
    assert len(rows) == 26 and rows["name"].split() == ["name", "url", "interval", "status"]
    assert "https://feeds.bbci.co.uk/news/world/rss.xml" in rows["BBC World"]
    assert " 10m " in rows["BBC World"] and "  ok, polled " in rows["BBC World"]
    assert rows["BBC World"].endswith("(3m ago)")
    assert " 6h " in rows["SIPRI"] and "  error (3 in a row): HTTP 503, polled" in rows["SIPRI"]
    assert "  gone: HTTP 410 Gone, polled" in rows["DSCA Major Arms Sales"]
    assert rows["TASS"].endswith("  not polled yet")


def test_list_before_any_poll_creates_no_database(config):
    done = feeds(config, "list")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("not polled yet") == 25
    assert not (config.parent / "armswatch.db").exists()


@pytest.mark.parametrize(
    "seconds,text",
    [
        (-2, "0s"),
        (0.4, "0s"),
        (59, "59s"),
        (60, "1m"),
        (181.7, "3m"),
        (3599, "59m"),
        (7300, "2h"),
        (90000, "1d"),
    ],
)
def test_rough_age(seconds, text):
    assert rough_age(seconds) == text
