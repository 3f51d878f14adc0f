"""Fetched bytes -> Items via feedparser: stable ids, plain text, UTC dates."""

from __future__ import annotations

import calendar
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser

from watchers.errors import ParseError
from watchers.models import Item

MAX_TITLE = 1000
MAX_SUMMARY = 3000
_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ocid|cmpid|at_\w+|ns_\w+|icid|ref)$")
_SPACES = re.compile(r"\s+")
_BLOCK_TAGS = {"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str, limit: int = MAX_SUMMARY) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, space folded."""
    if "<" in html:
        extractor = _TextExtractor()
        extractor.feed(html)
        extractor.close()
        text = "".join(extractor.parts)
    else:
        text = unescape(html)
    return clean_text(text, limit)


def clean_text(text: str, limit: int = MAX_SUMMARY) -> str:
    """Text without control characters, white space folded, clipped to limit."""
    text = "".join(ch for ch in text if _is_printable(ch))
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _is_printable(ch: str) -> bool:
    """Drop control and bidi-override characters; keep ordinary white space."""
    if ch in "\n\t ":
        return True
    category = unicodedata.category(ch)
    return category not in ("Cc", "Cf", "Cs", "Co", "Cn")


def canonical_link(link: str) -> str:
    """A link without tracking parameters or fragment, http(s) only, else ''."""
    try:
        parts = urlsplit(link.strip())
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _TRACKING.match(k.lower())
    ]
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), "")
    )


def item_id(guid: str, link: str, title: str) -> str:
    """A stable id: the guid, else the canonical link, else a hash of title and link."""
    if guid.strip():
        return guid.strip()[:500]
    if link:
        return link
    return "sha1:" + hashlib.sha1(f"{title}\n{link}".encode()).hexdigest()


def _utc(entry: Mapping) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _text_of(entry: Mapping, key: str, limit: int) -> str:
    """An entry's field as plain text: HTML converted, plain text kept as written."""
    value = entry.get(key, "") or ""
    detail = entry.get(f"{key}_detail") or {}
    if detail.get("type") == "text/plain":
        return clean_text(value, limit)
    return html_to_text(value, limit)


def entry_to_item(entry: Mapping, source: str) -> Item | None:
    """One feedparser entry as an Item; None when it has neither title nor summary."""
    title = _text_of(entry, "title", MAX_TITLE)
    summary = _text_of(entry, "summary", MAX_SUMMARY)
    if not title and not summary:
        return None
    link = canonical_link(entry.get("link", "") or "")
    guid = entry.get("id", "") or ""
    return Item(
        id=item_id(guid if isinstance(guid, str) else "", link, title),
        title=title or summary[:200],
        summary=summary if summary != title else "",
        link=link,
        published=_utc(entry),
        source=source,
    )


def parse_feed(body: bytes, source: str, headers: Mapping[str, str] | None = None) -> list[Item]:
    """Items of a feed document, unique by id; ParseError when it is not a feed."""
    parsed = feedparser.parse(body, response_headers=dict(headers or {}))
    if not parsed.entries and parsed.get("bozo") and not parsed.get("version"):
        reason = parsed.get("bozo_exception")
        raise ParseError(f"not a feed: {reason or 'no entries found'}")
    if not parsed.entries and not parsed.get("version"):
        raise ParseError("not an RSS or Atom feed (no channel or feed element)")
    items: dict[str, Item] = {}
    for entry in parsed.entries:
        item = entry_to_item(entry, source)
        if item is not None and item.id not in items:
            items[item.id] = item
    return list(items.values())
