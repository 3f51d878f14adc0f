"""An item and its verdict -> the alert's Telegram HTML, every interpolated string escaped."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape, unescape
from urllib.parse import urlsplit

from watchers.models import Detection, Item, Match

TELEGRAM_LIMIT = 4096
MAX_TITLE = 400
MAX_SUMMARY = 600
_TAG = re.compile(r"<[^>]+>")


def safe_href(link: str) -> str | None:
    """The link if it is an http(s) URL, else None (a javascript: link is dropped)."""
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    return link if parts.scheme in ("http", "https") and parts.netloc else None


def clip(text: str, limit: int) -> str:
    """Text cut at a word boundary to at most limit characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "…"


def event_line(detection: Detection, flag: Callable[[str], str] = lambda _: "") -> str | None:
    """ "🇮🇷 Iran → 🇷🇺 Russia · ballistic missiles · planned", or None with no roles found."""
    if not (detection.supplier or detection.recipient or detection.weapons):
        return None

    def named(actors: tuple[str, ...]) -> str:
        return ", ".join(f"{flag(a)} {a}".strip() for a in actors) or "?"

    supplier, recipient = named(detection.supplier), named(detection.recipient)
    parts = [f"{supplier} → {recipient}"]
    if detection.weapons:
        parts.append(", ".join(weapon_names(detection)[:4]))
    if detection.status:
        parts.append(detection.status)
    return " · ".join(parts)


def weapon_names(detection: Detection) -> list[str]:
    """Weapon names without ones a longer name already says ("missiles" in "ballistic missiles")."""
    names = list(dict.fromkeys(w.name for w in detection.weapons))
    lowered = [n.lower() for n in names]
    return [
        name
        for name, low in zip(names, lowered, strict=True)
        if not any(low != other and low in other for other in lowered)
    ]


def format_alert(
    item: Item,
    matches: tuple[Match, ...],
    detection: Detection,
    flag: Callable[[str], str] = lambda _: "",
) -> str:
    """The alert's HTML: event (with flags), linked title, summary, source and time, rules."""
    lines = []
    event = event_line(detection, flag)
    priority = any(m.priority for m in matches)
    mark = "‼️ " if priority else "🚨 "
    if event:
        lines.append(f"{mark}<b>{escape(event)}</b>")
    title = escape(clip(item.title, MAX_TITLE))
    href = safe_href(item.link)
    title_html = f'<a href="{escape(href)}">{title}</a>' if href else title
    lines.append(title_html if event else f"{mark}<b>{title_html}</b>")
    if item.summary:
        lines.append(escape(clip(item.summary, MAX_SUMMARY)))
    lines.append(f"<i>{escape(_source_line(item))}</i>")
    lines.append(escape(_rules_line(matches)))
    return "\n".join(lines)


def _source_line(item: Item) -> str:
    when = item.published.strftime("%Y-%m-%d %H:%M UTC") if item.published else ""
    return " · ".join(p for p in (item.source, when) if p)


def _rules_line(matches: tuple[Match, ...]) -> str:
    parts = []
    for match in matches:
        reasons = ", ".join(dict.fromkeys((*match.entities, *match.terms)))
        parts.append(f"{match.rule} ({clip(reasons, 120)})" if reasons else match.rule)
    return "Rule: " + "; ".join(parts)


def with_sources(html: str, sources: list[tuple[str, str]], shown: int = 5) -> str:
    """A story's first alert with "Also reported by: A, B, C (+N)" (linked) below it."""
    if not sources:
        return html
    names = []
    for source, link in sources[:shown]:
        label = escape(clip(source or "another outlet", 40))
        href = safe_href(link)
        names.append(f'<a href="{escape(href)}">{label}</a>' if href else label)
    more = f" (+{len(sources) - shown})" if len(sources) > shown else ""
    return f"{html}\n<i>Also reported by:</i> {', '.join(names)}{more}"


def plain_text(html: str) -> str:
    """What Telegram shows for an HTML message: tags dropped, entities decoded."""
    return unescape(_TAG.sub("", html))


def console_text(html: str, chat_id: str, update: bool = False) -> str:
    """An alert (or an update of one) as printed to the terminal when no token is set."""
    what = "update of an earlier alert" if update else "alert"
    return f"--- {what} for {chat_id} ---\n{plain_text(html)}\n"
