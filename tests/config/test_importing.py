"""What an import adds and leaves out, outline by outline (pure: values in, a plan out)."""

import pytest

from watchers.config.importing import plan_import, url_key
from watchers.config.opml import Outline
from watchers.models import Feed

CONFIGURED = (
    Feed("BBC World", "https://feeds.bbci.co.uk/news/world/rss.xml", 600.0),
    Feed("Naval News", "https://www.navalnews.com/feed/", 600.0),
)


def outline(name: str, url: str, kind: str = "rss") -> Outline:
    return Outline(name, url, kind, "", 1)


CASES = [
    # (outline, added as (name, note) or None, reason it was left out)
    (outline("New", "https://new.org/rss"), ("New", ""), ""),
    (outline("Plain http", "http://new.org/rss"), ("Plain http", ""), ""),
    (
        outline("Same", "https://feeds.bbci.co.uk/news/world/rss.xml"),
        None,
        "already in c.toml as 'BBC World'",
    ),  # fmt: skip
    (
        outline("http of it", "http://feeds.bbci.co.uk/news/world/rss.xml"),
        None,
        "already in c.toml as 'BBC World'",
    ),  # fmt: skip
    (
        outline("Host case", "https://WWW.NavalNews.com/feed/"),
        None,
        "already in c.toml as 'Naval News'",
    ),  # fmt: skip
    (
        outline("Port 443", "https://www.navalnews.com:443/feed/"),
        None,
        "already in c.toml as 'Naval News'",
    ),  # fmt: skip
    (
        outline("Fragment", "https://www.navalnews.com/feed/#top"),
        None,
        "already in c.toml as 'Naval News'",
    ),  # fmt: skip
    (outline("Other path", "https://www.navalnews.com/feed/atom/"), ("Other path", ""), ""),
    (
        outline("BBC World", "https://bbc.example/world"),
        ("BBC World (2)", "the name 'BBC World' is taken"),
        "",
    ),  # fmt: skip
    (
        outline("bbc world", "https://bbc.example/world"),
        ("bbc world (2)", "the name 'bbc world' is taken"),
        "",
    ),  # fmt: skip
    (
        outline("", "https://nameless.org/feed"),
        ("nameless.org", "the outline has no name: named after its host"),
        "",
    ),  # fmt: skip
    (outline("Folder", ""), None, "no xmlUrl"),
    (outline("Link", "", "link"), None, 'no xmlUrl (type="link")'),
    (outline("Search", "vfolder", "vfolder"), None, 'not an http(s) URL: vfolder (type="vfolder")'),
    (outline("Pseudo", "feed://new.org/rss"), None, "not an http(s) URL: feed://new.org/rss"),
    (outline("FTP", "ftp://new.org/rss"), None, "not an http(s) URL: ftp://new.org/rss"),
    (outline("No host", "https:///rss"), None, "not an http(s) URL: https:///rss"),
]


@pytest.mark.parametrize("given,added,reason", CASES, ids=[c[0].name or "nameless" for c in CASES])
def test_one_outline(given, added, reason):
    plan = plan_import([given], CONFIGURED, "c.toml")
    assert [(a.name, a.note) for a in plan.added] == ([added] if added else [])
    assert [s.reason for s in plan.left_out] == ([reason] if reason else [])


def test_a_file_listing_a_feed_twice_adds_it_once():
    twice = [outline("A", "https://a.org/rss"), outline("A again", "http://a.org/rss")]
    plan = plan_import(twice, CONFIGURED, "c.toml")
    assert [a.name for a in plan.added] == ["A"]
    assert [s.reason for s in plan.left_out] == ["listed twice in this file (first as 'A')"]


def test_names_made_unique_stay_unique_within_the_file():
    same = [outline("News", f"https://n{i}.org/rss") for i in range(3)]
    plan = plan_import(same, (Feed("News", "https://n.org/rss", 600.0),), "c.toml")
    assert [a.name for a in plan.added] == ["News (2)", "News (3)", "News (4)"]


def test_importing_what_was_added_adds_nothing():
    given = [outline("A", "https://a.org/rss"), outline("BBC World", "https://b.org/rss")]
    first = plan_import(given, CONFIGURED, "c.toml")
    after = (*CONFIGURED, *(Feed(a.name, a.url, 600.0) for a in first.added))
    second = plan_import(given, after, "c.toml")
    assert second.added == ()
    assert [s.reason for s in second.left_out] == [
        "already in c.toml as 'A'",
        "already in c.toml as 'BBC World (2)'",
    ]


@pytest.mark.parametrize(
    "a,b,same",
    [
        ("https://a.org/rss", "http://a.org/rss", True),
        ("https://a.org", "https://a.org/", True),
        ("https://a.org:8443/rss", "https://a.org/rss", False),
        ("https://a.org/rss?x=1", "https://a.org/rss?x=2", False),
        ("https://a.org/RSS", "https://a.org/rss", False),
    ],
)
def test_url_key(a, b, same):
    assert (url_key(a) == url_key(b)) is same
