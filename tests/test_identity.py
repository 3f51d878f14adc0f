"""Item identity end to end: real feed shapes, before and after, through `bot.py once`.

Each case is one or two feeds served by a FeedServer on 127.0.0.1, first as `before`,
then as `after`; one config carries every case, `bot.py once` runs on each state, and the
fake Bot API receives the alerts. A case names the titles that must alert on each run.
Story merging is off, so an item taken for new shows as a second alert rather than as an
edit of the first. The rule itself is store/identity.py (and README, "State").

The shapes are those of real feeds: BBC (a permalink guid carrying tracking parameters),
The Guardian (guid = link), WordPress (`?p=123` guids), Atom with tag: ids, a press-release
index whose items all link to one page, a CMS numbering its guids by position.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import pytest

import bot
from tests.helpers import CHAT, TOKEN_ENV, write_config
from tests.servers import FakeBotAPI, FeedServer

DATA = Path(__file__).resolve().parent / "data" / "identity"
KEYWORD = "armswatch-test-keyword"


@dataclass(frozen=True)
class E:
    """A feed entry: guid None writes no guid element, permalink writes isPermaLink."""

    title: str
    link: str | None = None
    guid: str | None = None
    permalink: bool = False


def rss(entries: list[E]) -> bytes:
    now = datetime.now(UTC)
    items = []
    for n, e in enumerate(entries):
        parts = [f"<title>{escape(e.title)}</title>"]
        if e.guid is not None:
            flag = "true" if e.permalink else "false"
            parts.append(f'<guid isPermaLink="{flag}">{escape(e.guid)}</guid>')
        if e.link is not None:
            parts.append(f"<link>{escape(e.link)}</link>")
        parts.append(f"<pubDate>{format_datetime(now - timedelta(minutes=5 + n))}</pubDate>")
        items.append(f"<item>{''.join(parts)}</item>")
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<link>https://example.org/</link>{''.join(items)}</channel></rss>"
    ).encode()


def atom(entries: list[E]) -> bytes:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = "".join(
        f"<entry><id>{escape(e.guid or '')}</id><title>{escape(e.title)}</title>"
        f'<link rel="alternate" href="{escape(e.link or "")}"/><updated>{now}</updated></entry>'
        for e in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>T</title><id>tag:example.org,2025:feed</id><updated>{now}</updated>{body}</feed>"
    ).encode()


def t(text: str) -> str:
    """A headline the test rule alerts on."""
    return f"{text} {KEYWORD}"


@dataclass(frozen=True)
class Doc:
    """A feed document: its entries, as RSS 2.0 or Atom."""

    entries: tuple[E, ...]
    format: str = "rss"

    def body(self) -> bytes:
        return (atom if self.format == "atom" else rss)(list(self.entries))


def R(*entries: E) -> Doc:  # noqa: N802 - reads as a document in the table
    return Doc(entries)


def A(*entries: E) -> Doc:  # noqa: N802
    return Doc(entries, "atom")


@dataclass(frozen=True)
class Case:
    name: str
    before: dict[str, Doc]  # feed -> document; each case's feeds are its own
    after: dict[str, Doc]
    alerts_before: tuple[str, ...]  # titles alerted by the first run
    alerts_after: tuple[str, ...]  # titles alerted by the second: the new items

    def titles(self) -> set[str]:
        docs = (*self.before.values(), *self.after.values())
        return {e.title for doc in docs for e in doc.entries}


PRESS = "https://press.example.org/releases"
LIVE = "https://www.theguardian.com/world/live/2025/jan/06/ukraine-war-live"
BBC = "https://www.bbc.co.uk/news/articles/c0k1"
WP = "https://wp.example.org/"

# Three different transfer stories, each with its own guid, all linking to one page.
INDEX = [
    E(t("Germany approves Leopard exports to Poland"), PRESS, "pr-1"),
    E(t("Iran delivers Shahed drones to Russia"), PRESS, "pr-2"),
    E(t("South Korea signs K2 tank deal with Romania"), PRESS, "pr-3"),
]
BAYRAKTAR = E(t("Turkey sells Bayraktar drones to Kuwait"), "https://cms.example.org/1", "1")
PATRIOT = t("Japan to export Patriot missiles to US")

CASES = [
    Case(
        "a: three stories with their own guids, all linking to one page, are three items",
        {"index": R()},
        {"index": R(*INDEX)},
        (),
        tuple(e.title for e in INDEX),
    ),
    Case(
        "a: a new story on a page earlier stories link to is a new item",
        {"index2": R(E(t("Spain buys Eurofighters"), PRESS + "2", "s-1"))},
        {
            "index2": R(
                E(t("Spain buys Eurofighters"), PRESS + "2", "s-1"),
                E(t("Peru buys radars"), PRESS + "2", "s-2"),
            )
        },
        (t("Spain buys Eurofighters"),),
        (t("Peru buys radars"),),
    ),
    Case(
        "b: a guid reused by position, with another link and title, is a new item",
        {"cms": R(BAYRAKTAR, E(t("Egypt buys Rafale jets"), "https://cms.example.org/2", "2"))},
        {
            "cms": R(
                E(t("Brazil orders Gripen fighters"), "https://cms.example.org/3", "1"),
                E(BAYRAKTAR.title, BAYRAKTAR.link, "2"),
            )
        },
        (BAYRAKTAR.title, t("Egypt buys Rafale jets")),
        (t("Brazil orders Gripen fighters"),),
    ),
    Case(
        "c: the same article in two feeds (same canonical link and title) alerts once",
        {"agency": R(E(PATRIOT, BBC, "ag-99")), "aggregator": A()},
        {
            "agency": R(E(PATRIOT, BBC, "ag-99")),
            "aggregator": A(E(PATRIOT, BBC + "?at_medium=RSS", "tag:agg.example.net,2025:8812")),
        },
        (PATRIOT,),
        (),
    ),
    Case(
        "d: a live page re-published under its link with a new headline is a new item",
        {"live": R(E(t("Ukraine war live: Patriot systems arrive in Kyiv"), LIVE, LIVE, True))},
        {"live": R(E(t("Ukraine war live: drones strike Odesa port overnight"), LIVE, LIVE, True))},
        (t("Ukraine war live: Patriot systems arrive in Kyiv"),),
        (t("Ukraine war live: drones strike Odesa port overnight"),),
    ),
    Case(
        "e: a corrected title (same guid and link, small edit) does not alert again",
        {"wp": R(E(t("Germany to send Leopard tanls to Ukraine"), WP + "leo", WP + "?p=4411"))},
        {
            "wp": R(
                E(t("UPDATE: Germany to send Leopard tanks to Ukraine"), WP + "leo", WP + "?p=4411")
            )
        },
        (t("Germany to send Leopard tanls to Ukraine"),),
        (),
    ),
    Case(
        "e: a corrected Atom title (same id and link) does not alert again",
        {"blog": A(E(t("Poland buys 96 Apache helicopters"), WP + "a", "tag:blog,2025:7"))},
        {"blog": A(E(t("Poland buys 96 AH-64 Apache helicopters"), WP + "a", "tag:blog,2025:7"))},
        (t("Poland buys 96 Apache helicopters"),),
        (),
    ),
    Case(
        "holds: the same article under a new random guid alerts once",
        {"random": R(E(t("India receives S-400 squadron"), WP + "s400", "a81f-33"))},
        {"random": R(E(t("India receives S-400 squadron"), WP + "s400", "c02d-91"))},
        (t("India receives S-400 squadron"),),
        (),
    ),
    Case(
        "holds: tracking parameters and fragments do not make a new item",
        {"bbc": R(E(t("Taiwan gets first F-16V jets"), BBC + "2", BBC + "2", True))},
        {"bbc": R(E(t("Taiwan gets first F-16V jets"), BBC + "2?at_medium=RSS#comments", "x-9"))},
        (t("Taiwan gets first F-16V jets"),),
        (),
    ),
    Case(
        "holds: the same guid and title under a moved link is the same item",
        {"moved": R(E(t("Norway donates NASAMS to Ukraine"), WP + "old", "mv-1"))},
        {"moved": R(E(t("Norway donates NASAMS to Ukraine"), WP + "new", "mv-1"))},
        (t("Norway donates NASAMS to Ukraine"),),
        (),
    ),
    Case(
        "holds: an entry repeated in one document alerts once",
        {"twice": R(*[E(t("Chile buys frigates"), WP + "f", "tw-1")] * 2)},
        {"twice": R(*[E(t("Chile buys frigates"), WP + "f", "tw-1")] * 2)},
        (t("Chile buys frigates"),),
        (),
    ),
    Case(
        "items without guids sharing a link are distinct by title",
        {"noguid": R(E(t("Mali receives Turkish drones"), PRESS + "/ng"))},
        {
            "noguid": R(
                E(t("Mali receives Turkish drones"), PRESS + "/ng"),
                E(t("Niger buys Chinese armoured cars"), PRESS + "/ng"),
            )
        },
        (t("Mali receives Turkish drones"),),
        (t("Niger buys Chinese armoured cars"),),
    ),
    Case(
        "no guid, no link: the title is the item",
        {"bare": R(E(t("Serbia buys Chinese air defence")))},
        {
            "bare": R(
                E(t("Serbia buys Chinese air defence")), E(t("Greece orders rocket artillery"))
            )
        },
        (t("Serbia buys Chinese air defence"),),
        (t("Greece orders rocket artillery"),),
    ),
    Case(
        "a corrected title on a feed without guids is a new item (the link alone vouches less)",
        {"noguid2": R(E(t("Morocco to get Apache helicopters"), WP + "m"))},
        {"noguid2": R(E(t("Morocco gets Apache helicopters"), WP + "m"))},
        (t("Morocco to get Apache helicopters"),),
        (t("Morocco gets Apache helicopters"),),
    ),
]
TOKEN = "123456:IDENTITY-token"


def identity_config(path: Path, feeds: list[tuple[str, str]], api: str) -> Path:
    """The e2e config, fast pacing, no story merging."""
    write_config(path, feeds, api)
    text = path.read_text()
    text = text.replace('send_timeout = "3s"\n', 'send_timeout = "3s"\nper_minute = 6000\n')
    path.write_text(text + "\n[stories]\nmerge = false\n")
    return path


def run_once(config: Path) -> str:
    """`bot.py once` in this process; its log."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = bot.main(["--config", str(config), "once", "--wait", "10"])
    assert code == 0, err.getvalue()[-3000:]
    return err.getvalue()


@dataclass
class Runs:
    before: list[str]  # plain texts of the messages of each run
    after: list[str]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Iterator[Runs]:
    """Every case's `before` feeds through one `once`, then their `after` through another."""
    tmp = tmp_path_factory.mktemp("identity")
    with FeedServer() as server, FakeBotAPI(TOKEN) as api, pytest.MonkeyPatch.context() as mp:
        mp.setenv(TOKEN_ENV, TOKEN)
        feeds = []
        for n, case in enumerate(CASES):
            for name, doc in case.before.items():
                server.set(f"/{n}/{name}.xml", doc.body())
                feeds.append((f"case {n} {name}", server.url(f"/{n}/{name}.xml")))
        run_once(identity_config(tmp / "c.toml", feeds, api.base_url))
        before = [m.plain for m in api.messages_for(CHAT)]
        for n, case in enumerate(CASES):
            for name, doc in case.after.items():
                server.set(f"/{n}/{name}.xml", doc.body())
        run_once(tmp / "c.toml")
        after = [m.plain for m in api.messages_for(CHAT)][len(before) :]
        yield Runs(before, after)
        assert not server.errors and not api.errors


def alerted(messages: list[str], titles: set[str]) -> list[str]:
    """Which of the titles the messages carry, once per message carrying one."""
    return sorted(title for message in messages for title in titles if title in message)


def test_each_title_belongs_to_one_case():
    titles = [title for case in CASES for title in case.titles()]
    assert len(titles) == len(set(titles))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_identity(runs, case):
    assert alerted(runs.before, case.titles()) == sorted(case.alerts_before)
    assert alerted(runs.after, case.titles()) == sorted(case.alerts_after)


def test_a_database_made_by_0_1_0_is_upgraded_and_alerts_nothing_again(tmp_path):
    """v0.db is what armswatch 0.1.0 left after one `once` over v0-feed.xml (README there)."""
    shutil.copy(DATA / "v0.db", tmp_path / "state.db")
    feed = (DATA / "v0-feed.xml").read_bytes()
    shared_link = (
        b'<item><guid isPermaLink="false">up-6</guid><title>A second release on the press '
        b"page armswatch-test-keyword six</title><link>https://upgrade.example.org/press</link>"
        b"<pubDate>Mon, 06 Jan 2025 10:25:00 +0000</pubDate></item>\n</channel>"
    )
    with FeedServer() as server, FakeBotAPI(TOKEN) as api, pytest.MonkeyPatch.context() as mp:
        mp.setenv(TOKEN_ENV, TOKEN)
        server.set("/v0-feed.xml", feed)
        config = identity_config(
            tmp_path / "c.toml", [("Upgrade", server.url("/v0-feed.xml"))], api.base_url
        )
        config.write_text(config.read_text().replace('backfill = "24h"', 'backfill = "36500d"'))
        log = run_once(config)  # a new feed state, as the port differs: every item is read
        assert "event=store_upgraded from=0 to=3 items=6" in log
        assert api.messages == []
        server.set("/v0-feed.xml", feed.replace(b"</channel>", shared_link))
        run_once(config)
        (message,) = api.messages
        assert "A second release on the press page" in message.plain
    with sqlite3.connect(tmp_path / "state.db") as db:
        assert db.execute("pragma user_version").fetchone() == (3,)
        assert db.execute("select count(*) from items").fetchone() == (7,)
        indexes = {
            row[0] for row in db.execute("select name from sqlite_master where type = 'index'")
        }
        assert "items_link" not in indexes and {"items_gkey", "items_lkey", "items_ckey"} <= indexes
