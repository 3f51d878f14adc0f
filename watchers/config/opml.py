"""OPML, the feed list every reader exports: read its feed outlines, write ours as OPML 2.0.

Reading is defensive: lxml without network, without resolving external entities and with
its size limits on (huge_tree off); a file that declares any entity is refused, as OPML
needs none and entity bombs and file reads hide there. Folders (outlines without an
xmlUrl, of no type or type "folder", that hold outlines) are flattened: every other
outline is returned with the folder path it sat in, feeds and non-feeds alike (empty
folders, search folders, links), so the importer can say why it left any out.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from lxml import etree

from watchers.errors import ConfigError
from watchers.models import Feed

MAX_BYTES = 10_000_000  # a feed list of 10 MB would hold some 50,000 feeds
FOLDER_KINDS = ("", "folder")  # outline types that may hold feeds


@dataclass(frozen=True)
class Outline:
    """One outline that is, or might have been, a feed."""

    name: str  # its text (or title) attribute, whitespace collapsed; may be empty
    url: str  # its xmlUrl, stripped; "" when it has none
    kind: str  # its type attribute, lower-cased: "rss", "atom", "vfolder", "link"...; or ""
    folder: str  # the folders it sat in, "News / Defence"; "" at the top
    line: int  # its line in the file


def read_opml(data: bytes, source: str) -> list[Outline]:
    """The feed outlines of an OPML document, folders flattened; ConfigError names source."""
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{source}: too large for a feed list ({len(data):,} bytes)")
    root = _parse(data, source)
    if _local(root.tag) != "opml":
        raise ConfigError(f"{source}: not OPML: the document is <{_local(root.tag)}>, not <opml>")
    body = next((child for child in root if _local(child.tag) == "body"), None)
    if body is None:
        raise ConfigError(f"{source}: not OPML: it has no <body>")
    return list(_walk(body, ()))


def _parse(data: bytes, source: str) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        message = getattr(exc, "msg", "") or str(exc)
        if "amplification" in message or "entity reference loop" in message:
            raise ConfigError(f"{source}: refused: an entity bomb ({message})") from None
        raise ConfigError(f"{source}: not XML: {message}") from None
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise ConfigError(
            f"{source}: refused: it declares XML entities (<!ENTITY>), which OPML never "
            "needs (an entity bomb or a file read could hide there)"
        )
    return root


def _walk(parent: etree._Element, folders: tuple[str, ...]) -> Iterator[Outline]:
    for element in parent:
        if not isinstance(element.tag, str) or _local(element.tag) != "outline":
            continue  # comments, processing instructions, readers' own elements
        name = _name(element)
        url = (_attribute(element, "xmlurl") or "").strip()
        kind = (_attribute(element, "type") or "").strip().lower()
        children = [c for c in element if isinstance(c.tag, str) and _local(c.tag) == "outline"]
        if url or not children or kind not in FOLDER_KINDS:
            yield Outline(name, url, kind, " / ".join(folders), element.sourceline or 0)
        else:  # a folder: its feeds join the flat list
            yield from _walk(element, (*folders, name or "(untitled)"))


def _name(element: etree._Element) -> str:
    """The outline's text, else its title (OPML text may carry escaped HTML entities)."""
    for key in ("text", "title"):
        value = " ".join(html.unescape(_attribute(element, key) or "").split())
        if value:
            return value
    return ""


def _attribute(element: etree._Element, lowered: str) -> str | None:
    """An attribute by name, ignoring case (xmlUrl, xmlurl and XMLURL are all seen)."""
    for key, value in element.attrib.items():
        if _local(key).lower() == lowered:
            return value
    return None


def _local(tag: str) -> str:
    return etree.QName(tag).localname


def write_opml(feeds: Sequence[Feed], title: str) -> bytes:
    """The feeds as an OPML 2.0 document (UTF-8), one outline each, in config order."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    for feed in feeds:
        etree.SubElement(
            body, "outline", type="rss", text=feed.name, title=feed.name, xmlUrl=feed.url
        )
    text = etree.tostring(root, encoding="unicode", pretty_print=True)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{text}'.encode()
