"""The lxml pre-scan agrees with feedparser and lets the pipeline parse only new entries."""

from pathlib import Path

import pytest

from tests.helpers import rss
from watchers.feeds.parse import parse_feed
from watchers.feeds.prescan import new_entries, reduced_document, scan_feed

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"
CLEAN = [
    "newstgbot_bbc-world.xml",
    "newstgbot_guardian-world.xml",
    "rssparser_bbc.xml",
    "greatfire_nyt.xml",
    "tecnologianova_afmil_RSSdb8e.ashx",
]


@pytest.mark.parametrize("name", CLEAN)
def test_scan_reads_each_entry_as_parse_does(name):
    body = (FEEDS / name).read_bytes()
    scan = scan_feed(body)
    assert scan is not None
    items = parse_feed(body, "s")
    assert len(scan.entries) == len(items)
    for item, seen in zip(items, scan.sightings, strict=True):
        assert (seen.guid or seen.link, seen.link, seen.title) == (item.id, item.link, item.title)


@pytest.mark.parametrize("name", CLEAN)
def test_reduced_document_parses_to_the_same_new_items(name):
    body = (FEEDS / name).read_bytes()
    everything = parse_feed(body, "s")
    scan = scan_feed(body)
    fresh = new_entries(scan, lambda sightings: set(range(2, len(sightings))))
    assert fresh == [0, 1]  # all but the first two are known
    reduced = parse_feed(reduced_document(scan, fresh), "s")
    assert [(i.id, i.title, i.summary) for i in reduced] == [
        (i.id, i.title, i.summary) for i in everything[:2]
    ]


def test_scan_reads_titles_as_parse_does_whatever_their_markup():
    body = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
    <entry><id>a</id><title type="html">Tom &amp;amp; &lt;b&gt;Jerry&lt;/b&gt;</title></entry>
    <entry><id>b</id><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">An
      <b>xhtml</b>   title</div></title></entry>
    <entry><id>c</id><title><![CDATA[CDATA &amp; <i>tags</i>]]></title></entry>
    </feed>"""
    scan = scan_feed(body)
    items = parse_feed(body, "s")
    assert [s.title for s in scan.sightings] == [i.title for i in items]


@pytest.mark.parametrize(
    "body",
    [
        b"<rss><channel><item><title>truncated",
        b"<html><body>no feed</body></html>",
        rss([{"guid": "", "title": "no guid, no link"}]),
        (FEEDS / "greatfire_dw.xml").read_bytes(),  # RSS 1.0: ids are rdf:about attributes
    ],
)
def test_scan_gives_up_on_what_only_feedparser_can_read(body):
    assert scan_feed(body) is None


@pytest.mark.parametrize(
    "title",
    ['Tom & Jerry <b>say</b> "hello" <3', "AT&T buys &amp; sells", "Plain — “quoted” title"],
)
def test_scan_reads_rss_titles_as_parse_does(title):
    body = rss([{"guid": "g", "title": title, "link": "https://x.org/a"}])
    (seen,) = scan_feed(body).sightings
    (item,) = parse_feed(body, "s")
    assert seen.title == item.title
