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
def test_scan_keys_cover_every_parsed_id(name):
    body = (FEEDS / name).read_bytes()
    scan = scan_feed(body)
    assert scan is not None
    items = parse_feed(body, "s")
    assert len(scan.entries) == len(items)
    for item, keys in zip(items, scan.keys, strict=True):
        assert item.id in keys or item.link in keys


@pytest.mark.parametrize("name", CLEAN)
def test_reduced_document_parses_to_the_same_new_items(name):
    body = (FEEDS / name).read_bytes()
    everything = parse_feed(body, "s")
    scan = scan_feed(body)
    known = {k for keys in scan.keys[2:] for k in keys}  # all but the first two are known
    fresh = new_entries(scan, lambda keys: known.intersection(keys))
    assert fresh == [0, 1]
    reduced = parse_feed(reduced_document(scan, fresh), "s")
    assert [(i.id, i.title, i.summary) for i in reduced] == [
        (i.id, i.title, i.summary) for i in everything[:2]
    ]


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
