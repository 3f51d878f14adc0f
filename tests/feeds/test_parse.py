"""Feed bytes -> Items, on the real saved feeds and on made-up edge cases."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from watchers.errors import ParseError
from watchers.feeds.parse import canonical_link, declared_ttl, html_to_text, parse_feed

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"


@pytest.mark.parametrize(
    "name,count",
    [
        ("newstgbot_bbc-world.xml", 27),
        ("newstgbot_guardian-world.xml", 45),
        ("rssparser_bbc.xml", 31),
        ("greatfire_dw.xml", 85),
        ("tecnologianova_afmil_RSSdb8e.ashx", 20),
    ],
)
def test_real_feeds_parse(name, count):
    items = parse_feed((FEEDS / name).read_bytes(), "src")
    assert len(items) == count
    assert len({i.id for i in items}) == count
    assert all(i.title and i.published and i.published.tzinfo == UTC for i in items)
    assert all("<" not in i.summary for i in items)


def rss(items: str) -> bytes:
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    return f"{head}{items}</channel></rss>".encode()


def test_id_falls_back_to_canonical_link_then_hash():
    body = rss(
        "<item><guid>g-1</guid><title>A</title><link>https://x.org/a</link></item>"
        "<item><title>B</title><link>https://X.org/b?utm_source=rss&amp;id=7#top</link></item>"
        "<item><title>C</title></item>"
    )
    ids = [i.id for i in parse_feed(body, "s")]
    assert ids[0] == "g-1"
    assert ids[1] == "https://x.org/b?id=7"
    assert ids[2].startswith("sha1:")


def test_duplicate_guids_in_one_feed_are_one_item():
    body = rss("<item><guid>same</guid><title>A</title></item>" * 3)
    assert len(parse_feed(body, "s")) == 1


def test_html_summary_becomes_plain_text():
    body = rss(
        "<item><title>Tom &amp; Jerry &lt;b&gt;</title>"
        "<description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;script&gt;x()&lt;/script&gt;"
        "&lt;/p&gt;</description><pubDate>Thu, 04 Jan 2024 14:47:00 +0200</pubDate></item>"
    )
    (item,) = parse_feed(body, "s")
    assert item.summary == "Hello world"
    assert item.published == datetime(2024, 1, 4, 12, 47, tzinfo=UTC)


@pytest.mark.parametrize("body", [b"", b"<html><body>Not a feed</body></html>", b"\x00\x01"])
def test_not_a_feed_is_a_parse_error(body):
    with pytest.raises(ParseError):
        parse_feed(body, "s")


@pytest.mark.parametrize(
    "link,expected",
    [
        ("https://a.org/x?utm_medium=rss&fbclid=1", "https://a.org/x"),
        ("javascript:alert(1)", ""),
        ("HTTP://A.ORG", "http://a.org/"),
        ("ftp://a.org/f", ""),
    ],
)
def test_canonical_link(link, expected):
    assert canonical_link(link) == expected


def test_control_and_bidi_characters_are_dropped():
    assert html_to_text("a\u202eb\x07c\u200fd") == "abcd"


RU = "Россия получила иранские ракеты"


def feed_in(encoding: str, declaration: str = "", title: str = RU) -> bytes:
    head = f'<?xml version="1.0" encoding="{declaration}"?>' if declaration else ""
    return (head + rss(f"<item><guid>g</guid><title>{title}</title></item>").decode()[21:]).encode(
        encoding
    )


@pytest.mark.parametrize(
    "encoding,declaration,content_type",
    [
        ("cp1251", "windows-1251", "application/rss+xml"),
        ("cp1251", "", "text/xml; charset=windows-1251"),
        ("cp1251", "", "application/rss+xml"),  # nothing says so: guessed, not windows-1252
        ("cp1251", "utf-8", "application/rss+xml"),  # declared wrongly
        ("koi8-r", "", "text/xml"),
        ("utf-8", "iso-8859-1", "application/xml"),
        ("utf-16", "utf-16", "application/rss+xml; charset=utf-8"),  # the BOM beats the header
        ("utf-16-be", "utf-16be", "application/xml; charset=utf-16be"),
    ],
)
def test_encodings_give_readable_text(encoding, declaration, content_type):
    body = feed_in(encoding, declaration)
    (item,) = parse_feed(body, "s", {"Content-Type": content_type})
    assert item.title == RU


def test_western_legacy_text_is_not_taken_for_cyrillic():
    title = "Élysée: la France livre des armes à l'Ukraine, déclaré mercredi"
    (item,) = parse_feed(feed_in("cp1252", title=title), "s", {})
    assert item.title == title


@pytest.mark.parametrize(
    "date,expected",
    [
        ("Tue, 01 Jan 2999 00:00:00 GMT", datetime(2025, 3, 1, 12, 0, tzinfo=UTC)),
        ("Sat, 01 Mar 2025 11:00:00 GMT", datetime(2025, 3, 1, 11, 0, tzinfo=UTC)),
        ("the day before yesterday", None),
        ("Tue, 01 Jan 99999 00:00:00 GMT", None),
    ],
)
def test_future_dates_are_clamped_to_now_and_bad_ones_dropped(date, expected):
    body = rss(f"<item><guid>g</guid><title>t</title><pubDate>{date}</pubDate></item>")
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    (item,) = parse_feed(body, "s", now=now)
    assert item.published == expected


@pytest.mark.parametrize(
    "body,message",
    [
        (b"", "the body is empty"),
        (b"  \n", "the body is empty"),
        (b"<html><body><p>moved</body></html>", "not an RSS or Atom feed"),
    ],
)
def test_not_a_feed_says_why(body, message):
    with pytest.raises(ParseError, match=message):
        parse_feed(body, "s")


def test_joiners_are_kept_and_bidi_overrides_dropped():
    persian = "می\u200cخواهد"
    assert html_to_text(f"{persian} \u202eevil\u202c") == f"{persian} evil"


@pytest.mark.parametrize(
    "name,seconds",
    [
        ("newstgbot_bbc-world.xml", 900.0),  # <ttl>15</ttl>
        ("greatfire_nyt.xml", 1800.0),  # <ttl>30</ttl>
        ("greatfire_dw.xml", 3600.0),  # sy:updatePeriod hourly (its frequency tag is misspelt)
        ("newstgbot_guardian-world.xml", None),
        ("rssparser_bbc.xml", None),
    ],
)
def test_declared_ttl_of_real_feeds(name, seconds):
    assert declared_ttl((FEEDS / name).read_bytes()) == seconds


@pytest.mark.parametrize(
    "head,seconds",
    [
        (b"<rss><channel><ttl> 60 </ttl>", 3600.0),
        (b"<rss><channel><sy:updatePeriod>daily</sy:updatePeriod>", 86400.0),
        (
            b"<channel><sy:updatePeriod>hourly</sy:updatePeriod>"
            b"<sy:updateFrequency>4</sy:updateFrequency>",
            900.0,
        ),
        (b"<channel><sy:updatePeriod>sometimes</sy:updatePeriod>", None),
        (b"<channel><ttl>soon</ttl>", None),
        ("<rss><channel><ttl>5</ttl>".encode("utf-16"), 300.0),
        (b"", None),
    ],
)
def test_declared_ttl(head, seconds):
    assert declared_ttl(head + b"<item><title>t</title></item></channel></rss>") == seconds
