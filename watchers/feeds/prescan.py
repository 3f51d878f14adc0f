"""A fast look at a feed before parsing it: which entries it holds, by guid, link and title.

feedparser costs about 0.5 ms per entry and re-reads every entry of a feed that gained
one. lxml lists a feed's entries in a fraction of that, so the pipeline can skip
feedparser when every entry is already known, and hand it only the others. The title is
read as parse reads it (tags dropped, entities decoded, clipped), so an entry whose
guid or link and title are stored is known without feedparser; one whose title changed
is parsed, and the store decides whether it is a corrected title or a new item. When
the document is not clean XML the scan gives up (None) and the whole body goes to
feedparser, which is the slow but forgiving path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from feedparser.mixin import _FeedParserMixin
from lxml import etree

from watchers.feeds.parse import MAX_TITLE, canonical_link, clean_text, html_to_text, parse_feed
from watchers.models import Item


class Sighting(NamedTuple):  # a tuple: made for every entry of every changed feed
    """What identifies an entry: its guid (as written), canonical link and title."""

    guid: str
    link: str
    title: str


@dataclass(frozen=True)
class Scan:
    """The entries of a feed document, each with what identifies it."""

    root: etree._Element
    entries: list[etree._Element]
    sightings: list[Sighting]  # per entry


def _parser() -> etree.XMLParser:
    # No entity expansion, no network, no huge trees: hostile documents stay cheap.
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _sighting(entry: etree._Element, atom: bool) -> Sighting:
    guid = link = title = ""
    for child in entry.iterchildren("{*}guid", "{*}id", "{*}link", "{*}title"):  # in C
        name = _local(child.tag)
        if name in ("guid", "id") and not guid and child.text and child.text.strip():
            guid = child.text.strip()[:500]
        elif name == "link" and not link:
            href = child.get("href") if child.get("rel", "alternate") == "alternate" else None
            link = canonical_link(href or child.text or "")
        elif name == "title" and not title:
            title = _title_text(child, atom)
    return Sighting(guid, link, title)


# feedparser's own guess (a private static method of the pinned 6.0.14), so the scan
# reads an RSS title exactly as feedparser does
_looks_like_html = _FeedParserMixin.looks_like_html


def _title_text(title: etree._Element, atom: bool) -> str:
    """A title's text as parse_feed gives it: feedparser reads an Atom title by its type
    (text when it has none), an RSS title as HTML when it looks like HTML (closing tags
    of HTML elements only, or entities), else as text."""
    text = (title.text or "") if len(title) == 0 else "".join(title.itertext())
    if atom:
        html = title.get("type") in ("html", "xhtml", "text/html")
    else:  # most titles have neither "<" nor "&": no need to ask
        html = ("<" in text or "&" in text) and _looks_like_html(text)
    return html_to_text(text, MAX_TITLE) if html else clean_text(text, MAX_TITLE)


def scan_feed(body: bytes) -> Scan | None:
    """The entries of a clean RSS 2.0 or Atom document, or None to parse it whole."""
    try:
        root = etree.fromstring(body, _parser())
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root is None or _local(root.tag) not in ("rss", "feed"):
        return None  # RSS 1.0 (RDF) entries take their id from an attribute: parse whole
    entries = list(root.iter("{*}item", "{*}entry"))
    atom = _local(root.tag) == "feed"
    sightings = [_sighting(entry, atom) for entry in entries]
    if any(not (s.guid or s.link) for s in sightings):
        return None  # an entry with neither guid nor link: its id is a hash of the parse
    return Scan(root, entries, sightings)


def new_entries(scan: Scan, known: Callable[[list[Sighting]], set[int]]) -> list[int]:
    """Indexes of the entries that `known` (indexes of stored sightings) does not name."""
    stored = known(scan.sightings)
    return [i for i in range(len(scan.entries)) if i not in stored]


def reduced_document(scan: Scan, keep: list[int]) -> bytes:
    """The document with only the entries at `keep` and none of the channel's own
    elements (items are read without them; feedparser then reads less), as UTF-8 XML."""
    wanted = {id(scan.entries[i]) for i in keep}
    for parent in {entry.getparent() for entry in scan.entries}:
        for child in list(parent):
            if id(child) not in wanted:
                parent.remove(child)
    return etree.tostring(scan.root, xml_declaration=True, encoding="utf-8")


def parse_entries(scan: Scan, keep: list[int], source: str, now: datetime) -> list[Item]:
    """The items of the entries at `keep`: feedparser over the reduced document."""
    body = reduced_document(scan, keep)
    return parse_feed(body, source, {"content-type": "application/xml; charset=utf-8"}, now)
