"""Deterministic feeds for the loopback farm: real channel headers, real news text.

A feed is its number `f` and its state: `head` (the newest item's sequence number) and
the items published after the start (`extra`: seq -> (news index, unix time)). The 50
items shown are seq head-49..head. Item text comes from real headlines and summaries
(news/rss2022_2023.jsonl of the --data folder, see benchdata.py), so some items match
the default rules; channel headers come from real saved feeds (tests/data/feeds/). Four
styles: Guardian-like RSS 2.0, BBC-like RSS with CDATA, af.mil-like RSS, and BBC-like Atom.

Both the farm (which serves the feeds) and the seeder (which writes the bot's database
as a first poll would) render from here, so they agree byte for byte.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from benchdata import FEEDS

ITEMS_PER_FEED = 50
EPOCH = 1_700_000_000.0  # dates of the items present at start: days before "now"

_TEMPLATES = {  # style -> (saved feed whose channel header we reuse, item or entry)
    "guardian": ("newstgbot_guardian-world.xml", "item"),
    "bbc": ("newstgbot_bbc-world.xml", "item"),
    "afmil": ("tecnologianova_afmil_RSSb135.ashx", "item"),
    "atom": ("greatfire_bbc.xml", "entry"),
}
STYLES = tuple(_TEMPLATES)


def load_news(path: Path) -> list[dict]:
    """Real news items: id, title, summary."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _header(style: str) -> tuple[str, str]:
    """(text before the first item, closing text) of a real saved feed."""
    name, tag = _TEMPLATES[style]
    text = (FEEDS / name).read_text(encoding="utf-8")
    start = re.search(rf"<{tag}[\s>]", text).start()
    closing = "</feed>\n" if tag == "entry" else "  </channel>\n</rss>\n"
    return text[:start], closing


@dataclass
class FeedState:
    head: int = ITEMS_PER_FEED
    extra: dict[int, tuple[int, float]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"head": self.head, "extra": {str(k): list(v) for k, v in self.extra.items()}}

    @classmethod
    def from_json(cls, data: dict) -> FeedState:
        extra = {int(k): (int(v[0]), float(v[1])) for k, v in data["extra"].items()}
        return cls(data["head"], extra)


class FeedMaker:
    """Renders feed `f` in state `state` to bytes; same inputs, same bytes."""

    def __init__(self, news: list[dict]):
        self.news = news
        self.headers = {style: _header(style) for style in STYLES}

    def style(self, f: int) -> str:
        return STYLES[f % len(STYLES)]

    def news_index(self, f: int, seq: int, state: FeedState) -> int:
        if seq in state.extra:
            return state.extra[seq][0]
        return (f * 104_729 + seq * 7_919) % len(self.news)

    def published(self, seq: int, state: FeedState) -> float:
        if seq in state.extra:
            return state.extra[seq][1]
        return EPOCH + seq * 600.0

    def guid(self, f: int, seq: int) -> str:
        return f"urn:armswatch-farm:{f}:{seq}"

    def link(self, f: int, seq: int) -> str:
        return f"https://news{f % 97}.example.org/world/{f}/{seq}/story.html"

    def etag(self, f: int, state: FeedState) -> str:
        return f'"f{f}-{state.head}-{len(state.extra)}"'

    def last_modified(self, state: FeedState) -> str:
        return email.utils.formatdate(self.published(state.head, state), usegmt=True)

    def render(self, f: int, state: FeedState) -> bytes:
        style = self.style(f)
        head, closing = self.headers[style]
        head = re.sub(r"<title>[^<]*</title>", f"<title>Farm feed {f}</title>", head, count=1)
        seqs = range(state.head, state.head - ITEMS_PER_FEED, -1)
        items = [self._item(style, f, seq, state) for seq in seqs]
        return "".join([head, *items, closing]).encode("utf-8")

    def body_hash(self, f: int, state: FeedState) -> str:
        """The digest the bot keeps of this feed's body as the farm sends it (gzip)."""
        from watchers.feeds.fetch import body_digest

        return body_digest(gzipped(self.render(f, state)), "gzip")

    def _item(self, style: str, f: int, seq: int, state: FeedState) -> str:
        n = self.news[self.news_index(f, seq, state)]
        title, summary = n["title"], n.get("summary", "") or n["title"]
        when = self.published(seq, state)
        guid, link = self.guid(f, seq), self.link(f, seq)
        image = f"https://images.example.org/{f}/{seq}/{hashlib.md5(guid.encode()).hexdigest()}.jpg"
        source = escape(n.get("source", "Wire"))
        if style == "atom":
            iso = datetime.fromtimestamp(when, UTC).isoformat()
            html = escape(f"<p>{escape(summary)}</p><p><img src='{image}' alt=''/></p>")
            return (
                f"<entry>\n  <id>{guid}</id>\n  <updated>{iso}</updated>\n"
                f"  <published>{iso}</published>\n"
                f'  <category term="world" label="World"/>\n'
                f"  <title>{escape(title)}</title>\n"
                f'  <summary type="html">{html}</summary>\n'
                f'  <link rel="alternate" type="text/html" href="{link}" title="story"/>\n'
                f"  <author><name>{source}</name></author>\n"
                f'  <media:thumbnail url="{image}" width="240" height="135"/>\n'
                f"</entry>\n"
            )
        date = email.utils.formatdate(when, usegmt=True)
        if style == "bbc":
            return (
                f"<item>\n  <title><![CDATA[{title}]]></title>\n"
                f"  <description><![CDATA[{summary}]]></description>\n"
                f"  <link>{link}?at_medium=RSS&amp;at_campaign=rss</link>\n"
                f'  <guid isPermaLink="false">{guid}</guid>\n  <pubDate>{date}</pubDate>\n'
                f'  <media:thumbnail width="240" height="135" url="{image}"/>\n</item>\n'
            )
        html = escape(f"<p>{escape(summary)}</p><p><a href='{link}'>Continue reading…</a></p>")
        extra = (
            f"  <dc:creator>{source}</dc:creator>\n"
            if style == "afmil"
            else f'  <category domain="https://example.org/world">World news</category>\n'
            f'  <media:content width="140" url="{image}"/>\n'
        )
        return (
            f"<item>\n  <title>{escape(title)}</title>\n  <link>{link}</link>\n"
            f"  <description>{html}</description>\n{extra}"
            f'  <pubDate>{date}</pubDate>\n  <guid isPermaLink="false">{guid}</guid>\n'
            f"</item>\n"
        )


def gzipped(body: bytes) -> bytes:
    """The farm's gzip of a body: the same bytes every time (no timestamp)."""
    return gzip.compress(body, 5, mtime=0)
