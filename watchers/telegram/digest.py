"""Digests: rules with `digest = "hourly"` or `"daily"` collect their matches into one
message per rule and chat, sent when the oldest collected item is an hour (or a day) old.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from watchers.models import Detection, Item
from watchers.telegram.message import TELEGRAM_LIMIT, clip, event_line, plain_text, safe_href

PERIODS = {"hourly": 3600.0, "daily": 86400.0}
MAX_LINES = 30


def digest_line(item: Item, detection: Detection, flag: Callable[[str], str]) -> str:
    """ "• Title (linked) · Source · 🇮🇷 Iran → 🇷🇺 Russia" for one collected item."""
    title = escape(clip(item.title, 200))
    href = safe_href(item.link)
    parts = [f'<a href="{escape(href)}">{title}</a>' if href else title]
    if item.source:
        parts.append(escape(clip(item.source, 40)))
    event = event_line(detection, flag)
    if event:
        parts.append(escape(event))
    return "• " + " · ".join(parts)


def compose_digest(rule: str, cadence: str, lines: list[str]) -> str:
    """The digest message: a header and one line per item, within Telegram's limit."""
    header = f"🗞 <b>{escape(cadence.capitalize())} digest: {escape(rule)}</b> ({len(lines)})"
    shown: list[str] = []
    for line in lines[:MAX_LINES]:
        candidate = "\n".join([header, *shown, line])
        if len(plain_text(candidate)) > TELEGRAM_LIMIT - 40:
            break
        shown.append(line)
    more = len(lines) - len(shown)
    tail = [f"<i>(+{more} more)</i>"] if more else []
    return "\n".join([header, *shown, *tail])
