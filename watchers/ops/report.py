"""The summary chart: transfer stories by supplier -> recipient pair and by weapon category.

`draw_report` makes the PNG (matplotlib, Agg backend, imported only when drawing);
`weekly_report` is the daemon's weekly job: the chart to the channel through
python-telegram-bot's ``Bot.send_photo`` with a short caption, or with no token the PNG
written next to the database and the caption printed. A failed send is logged, never fatal.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TextIO

from watchers.config.load import Config
from watchers.ops.export import StoryEvent, story_events
from watchers.store.base import Store
from watchers.telegram.message import clip

log = logging.getLogger("armswatch.report")

CAPTION_LIMIT = 1024  # Telegram's limit for a photo caption
WEEK = 7 * 86400.0
UNKNOWN = "?"
MAX_NAME = 30  # characters of a party's name on the chart and in the caption


@dataclass(frozen=True)
class Summary:
    """Counts of stories over a period, ready to draw and caption."""

    start: datetime
    end: datetime
    stories: int
    pairs: list[tuple[str, int]]  # "Iran → Russia", most stories first
    categories: list[tuple[str, int]]
    other_pairs: int = 0  # stories of pairs beyond the top ones


def _pairs(story: StoryEvent) -> set[str]:
    suppliers = story.supplier or (UNKNOWN,)
    recipients = story.recipient or (UNKNOWN,)
    return {f"{clip(s, MAX_NAME)} → {clip(r, MAX_NAME)}" for s in suppliers for r in recipients}


def summarize(stories: Sequence[StoryEvent], start: float, end: float, top: int = 10) -> Summary:
    """Stories counted per supplier -> recipient pair (top N) and per weapon category."""
    pairs: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    for story in stories:
        pairs.update(_pairs(story))
        categories.update(c.replace("_", " ") for c in story.categories or ("unspecified",))
    ranked = sorted(pairs.items(), key=lambda kv: (-kv[1], UNKNOWN in kv[0], kv[0]))
    return Summary(
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(end, UTC),
        stories=len(stories),
        pairs=ranked[:top],
        categories=sorted(categories.items(), key=lambda kv: (-kv[1], kv[0])),
        other_pairs=sum(n for _, n in ranked[top:]),
    )


def load_summary(store: Store, since: float, now: float, top: int) -> Summary:
    """The summary of stories seen in [since, now]."""
    return summarize(story_events(store, since), since, now, top)


def period(summary: Summary) -> str:
    """ "2024-01-01 – 2024-01-08" """
    return f"{summary.start:%Y-%m-%d} – {summary.end:%Y-%m-%d}"


def draw_report(summary: Summary) -> bytes:
    """The chart as PNG bytes: two horizontal bar charts, pairs above categories."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    pairs = summary.pairs or [("no stories", 0)]
    categories = summary.categories or [("no stories", 0)]
    rows = len(pairs) + len(categories)
    fig = Figure(figsize=(9, 2.2 + 0.38 * max(rows, 8)), dpi=110, layout="constrained")
    ratios = [max(len(pairs), 4) + 1, max(len(categories), 4) + 1]
    top, bottom = fig.subplots(2, 1, height_ratios=ratios)
    noun = "story" if summary.stories == 1 else "stories"
    title = f"Arms-transfer stories, {period(summary)} ({summary.stories} {noun})"
    fig.suptitle(title, fontsize=13, fontweight="bold")
    _bars(top, pairs, "Supplier → recipient", "#2b6cb0")
    _bars(bottom, categories, "Weapon category", "#c05621")
    if summary.other_pairs:
        note = f"+{summary.other_pairs} in other pairs"
        top.text(1.0, 0.0, note, transform=top.transAxes, ha="right", va="top", fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _bars(ax, counts: list[tuple[str, int]], title: str, color: str) -> None:
    labels = [label for label, _ in counts][::-1]
    values = [n for _, n in counts][::-1]
    bars = ax.barh(labels, values, color=color, height=0.65)
    ax.bar_label(bars, padding=3, fontsize=9)
    ax.set_title(title, loc="left", fontsize=11)
    ax.xaxis.set_visible(False)
    ax.set_xlim(0, max([*values, 1]) * 1.12)
    slots = max(len(labels), 4)  # a few bars stay thin, at the top
    ax.set_ylim(len(labels) - slots - 0.5, len(labels) - 0.5)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", labelsize=10, length=0)


def caption(summary: Summary) -> str:
    """The photo's caption: Telegram HTML, every name escaped, at most 1024 characters."""
    lines = [f"📊 <b>Arms-transfer stories, {escape(period(summary))}</b>: {summary.stories}"]
    if summary.pairs:
        top = ", ".join(f"{escape(label)} ({n})" for label, n in summary.pairs[:5])
        lines.append(f"Top pairs: {top}")
    if summary.categories:
        kinds = ", ".join(f"{escape(label)} ({n})" for label, n in summary.categories[:6])
        lines.append(f"Weapons: {kinds}")
    text = "\n".join(lines)
    while len(text) > CAPTION_LIMIT and len(lines) > 1:  # never cut inside a tag or entity
        lines.pop()
        text = "\n".join(lines)
    return text[:CAPTION_LIMIT]


async def send_photo(config: Config, token: str, png: bytes, text: str) -> int:
    """Send the chart to the channel with python-telegram-bot; return the message id."""
    from telegram import Bot
    from telegram.error import RetryAfter
    from telegram.request import HTTPXRequest

    from watchers.telegram.deliver import retry_after_seconds

    timeout = config.telegram.send_timeout
    request = HTTPXRequest(
        connect_timeout=timeout,
        read_timeout=timeout,
        write_timeout=timeout,
        media_write_timeout=timeout,
    )
    base = {"base_url": config.telegram.api_base_url} if config.telegram.api_base_url else {}
    bot = Bot(token, request=request, **base)
    await request.initialize()  # not bot.initialize(): no getMe, as in deliver.py

    def send():
        return bot.send_photo(config.telegram.chat_id, png, caption=text, parse_mode="HTML")

    try:
        try:
            message = await send()
        except RetryAfter as exc:  # once: wait exactly as long as Telegram asks
            await asyncio.sleep(retry_after_seconds(exc.retry_after))
            message = await send()
        return message.message_id
    finally:
        await request.shutdown()


async def weekly_report(
    config: Config, store: Store, token: str, now: float, out: TextIO | None = None
) -> Path | int | None:
    """The weekly job: send the last 7 days' chart (or save it, with no token)."""
    summary = load_summary(store, now - WEEK, now, config.report_top)
    png = await asyncio.to_thread(draw_report, summary)  # keep polling while it draws
    text = caption(summary)
    if not token:
        path = config.storage_path.parent / f"report-{summary.end:%Y-%m-%d}.png"
        path.write_bytes(png)
        print(f"{text}\n[chart: {path}]", file=out or sys.stdout, flush=True)
        log.info("event=report_saved path=%s stories=%d", path, summary.stories)
        return path
    from telegram.error import TelegramError

    try:
        message_id = await send_photo(config, token, png, text)
    except TelegramError as exc:
        log.warning("event=report_failed error=%r", str(exc))
        return None
    log.info("event=report_sent stories=%d message_id=%s", summary.stories, message_id)
    return message_id
