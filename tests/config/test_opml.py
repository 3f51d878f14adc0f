"""OPML in and out: real readers' exports (tests/data/opml/) and what an import of each
into the default config adds and leaves out; bad OPML refused with a clear reason."""

from pathlib import Path

import pytest

from watchers.config.importing import plan_import
from watchers.config.load import load_config
from watchers.config.opml import MAX_BYTES, Outline, read_opml, write_opml
from watchers.errors import ConfigError
from watchers.models import Feed

ROOT = Path(__file__).resolve().parents[2]
OPML = ROOT / "tests" / "data" / "opml"
DEFAULT_FEEDS = load_config(ROOT / "config.toml").feeds

EXPORTS = [
    (
        "feedly.opml",
        [
            "Defense News (2)",
            "The Defense Post",
            "Military Times",
            "CNN.com - RSS Channel - World",
            "Meduza",
            "Ukrainska Pravda",
        ],
        [
            ("Breaking Defense", "already in config.toml as 'Breaking Defense'"),
            ("BBC News - World", "already in config.toml as 'BBC World'"),  # http:// of it
            ("The Defense Post", "listed twice in this file (first as 'The Defense Post')"),
            ("SIPRI", "already in config.toml as 'SIPRI'"),
        ],
    ),
    (
        "inoreader.opml",
        ['"arms deal" - Google News', "Forum on the Arms Trade", "NK News", "Taipei Times"],
        [
            ("DSCA - Major Arms Sales", "already in config.toml as 'DSCA Major Arms Sales'"),
            ("The Diplomat", "already in config.toml as 'The Diplomat'"),
            ("Yonhap News Agency", "already in config.toml as 'Yonhap'"),
        ],
    ),
    (
        "netnewswire.opml",
        ["War on the Rocks", "Oryx", "Al-Monitor", "NetNewsWire News"],
        [
            ("Naval News", "already in config.toml as 'Naval News'"),
            (
                "Al Jazeera – Breaking News, World News and Video from Al Jazeera",
                "already in config.toml as 'Al Jazeera'",
            ),
            ("Times of Israel", "already in config.toml as 'Times of Israel'"),
        ],
    ),
    (
        "thunderbird.opml",
        ["USNI News", "Naval Technology", "The Aviationist", "ТАСС", "Коммерсантъ. Главное"],
        [
            ("Defense One - All Content", "already in config.toml as 'Defense One'"),
            ("Trash", "no xmlUrl"),  # an empty folder
        ],
    ),
    (
        "liferea.opml",
        ["EUobserver", "Notes from Poland", "allAfrica.com: Military"],
        [
            ("DW - News", "already in config.toml as 'DW'"),
            ("Local podcast folder", "not an http(s) URL: file:///home/analyst/podcasts/feed.xml"),
            ("Unread", 'not an http(s) URL: vfolder (type="vfolder")'),  # a search folder
            ("Arms deals", 'no xmlUrl (type="vfolder")'),  # a search folder, rules inside
        ],
    ),
]


@pytest.mark.parametrize("name,added,left_out", EXPORTS, ids=[e[0] for e in EXPORTS])
def test_a_readers_export_imports_into_the_default_config(name, added, left_out):
    outlines = read_opml((OPML / name).read_bytes(), name)
    plan = plan_import(outlines, DEFAULT_FEEDS, "config.toml")
    assert [feed.name for feed in plan.added] == added
    assert [(skip.outline.name, skip.reason) for skip in plan.left_out] == left_out


def test_nested_folders_are_flattened_with_their_path():
    outlines = read_opml((OPML / "thunderbird.opml").read_bytes(), "thunderbird.opml")
    usni = next(o for o in outlines if o.name == "USNI News")
    assert usni == Outline("USNI News", "https://news.usni.org/feed", "rss", "Defence / Naval", 11)
    liferea = read_opml((OPML / "liferea.opml").read_bytes(), "liferea.opml")
    assert {o.folder for o in liferea} == {"News / Europe", "News / Africa", ""}


def test_search_folder_rules_are_not_outlines_of_their_own():
    outlines = read_opml((OPML / "liferea.opml").read_bytes(), "liferea.opml")
    assert not [o for o in outlines if o.kind == "rule"]


def outline_of(attributes: str, inner: str = "") -> list[Outline]:
    """read_opml of a document holding one outline with these attributes."""
    body = f"<outline {attributes}>{inner}</outline>" if inner else f"<outline {attributes}/>"
    document = f'<?xml version="1.0"?><opml version="2.0"><head/><body>{body}</body></opml>'
    return read_opml(document.encode(), "test.opml")


@pytest.mark.parametrize(
    "attributes,name,url",
    [
        ('text="A" title="B" xmlUrl="https://a.org/f"', "A", "https://a.org/f"),
        ('title="Only title" xmlUrl="https://a.org/f"', "Only title", "https://a.org/f"),
        ('text="" title="B" xmlUrl="https://a.org/f"', "B", "https://a.org/f"),
        ('text="  Spaced \n out  " xmlUrl=" https://a.org/f "', "Spaced out", "https://a.org/f"),
        ('text="Arms &amp;amp; Co" xmlUrl="https://a.org/f"', "Arms & Co", "https://a.org/f"),
        ('text="Lower" xmlurl="https://a.org/f"', "Lower", "https://a.org/f"),
        ('text="Upper" XMLURL="https://a.org/f"', "Upper", "https://a.org/f"),
        ('xmlUrl="https://a.org/f"', "", "https://a.org/f"),
        ('text="A link" type="link" url="https://a.org/"', "A link", ""),
    ],
)
def test_outline_attributes(attributes, name, url):
    (outline,) = outline_of(attributes)
    assert outline.name == name
    assert outline.url == url


def test_comments_and_foreign_elements_are_skipped():
    inner = '<!-- a note --><x:meta xmlns:x="urn:x"/><outline text="F" xmlUrl="https://a.org/"/>'
    assert [o.name for o in outline_of('text="Folder"', inner)] == ["F"]


BAD = [
    ("bad-html.opml", "not XML: Opening and ending tag mismatch: meta line 4 and head"),
    ("bad-truncated.opml", "not XML: Premature end of data"),
    ("bad-no-body.opml", "not OPML: it has no <body>"),
    ("bad-billion-laughs.opml", "refused: an entity bomb"),
    ("bad-entities.opml", "refused: it declares XML entities"),
    ("bad-xxe.opml", "refused: it declares XML entities"),
]


@pytest.mark.parametrize("name,message", BAD, ids=[b[0] for b in BAD])
def test_bad_opml_is_refused_naming_file_and_problem(name, message):
    with pytest.raises(ConfigError) as caught:
        read_opml((OPML / name).read_bytes(), f"/in/{name}")
    assert str(caught.value).startswith(f"/in/{name}: {message}")
    assert "hostname" not in str(caught.value)


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "not XML: Document is empty"),
        (b"Name,URL\nBBC,https://feeds.bbci.co.uk/news/rss.xml\n", "not XML: Start tag expected"),
        (
            (ROOT / "tests/data/feeds/newstgbot_bbc-world.xml").read_bytes(),
            "not OPML: the document is <rss>",
        ),  # fmt: skip
        (b"<opml><body>" + b" " * MAX_BYTES + b"</body></opml>", "too large for a feed list"),
    ],
    ids=["empty", "csv", "an RSS feed", "too large"],
)
def test_what_is_not_opml(data, message):
    with pytest.raises(ConfigError, match=f"^x.opml: {message}"):
        read_opml(data, "x.opml")


def test_export_is_opml_2_that_reads_back_the_same_feeds():
    feeds = [
        Feed("Arms & Co <Review>", "https://a.org/rss?x=1&y=2", 600.0),
        Feed('"Quoted" ТАСС', "http://b.org/feed", 3600.0),
    ]
    document = write_opml(feeds, "armswatch feeds (config.toml)")
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert b"<title>armswatch feeds (config.toml)</title>" in document
    back = read_opml(document, "export.opml")
    assert [(o.name, o.url, o.kind) for o in back] == [(f.name, f.url, "rss") for f in feeds]
