"""Stored events -> one record per story, written as CSV or JSON Lines for analysts.

The columns follow SIPRI's arms-transfer register where they fit: supplier, recipient,
weapon designation, weapon category (SIPRI's "weapon description" is finer), status and
source; armswatch adds the reports' links, the first headline and what matched.
Items that story merging joined into one story make one record; with merging off, each
alerted item is a story of its own.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from watchers.models import EventRow
from watchers.store.base import Store

FORMATS = ("csv", "jsonl")
COLUMNS = (
    "date",
    "supplier",
    "recipient",
    "weapon_designation",
    "weapon_category",
    "status",
    "sources",
    "links",
    "title",
    "reports",
    "rules",
    "score",
    "story_id",
)
LIST_SEPARATOR = "; "


@dataclass(frozen=True)
class StoryEvent:
    """One story's event: the union of what its reports said, the latest status."""

    story_id: str
    date: str  # YYYY-MM-DD (UTC) of the first report
    supplier: tuple[str, ...]
    recipient: tuple[str, ...]
    weapons: tuple[str, ...]
    categories: tuple[str, ...]
    status: str | None
    sources: tuple[str, ...]
    links: tuple[str, ...]
    title: str
    reports: int
    rules: tuple[str, ...]
    score: float


def _union(values: Iterable[Sequence[str]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for group in values for v in group if v))


def _date(event: EventRow) -> str:
    if event.published:
        return event.published[:10]
    return datetime.fromtimestamp(event.seen_at, UTC).date().isoformat()


def merge_events(story_id: str, events: Sequence[EventRow]) -> StoryEvent:
    """One story's reports (oldest first) as one event."""
    statuses = [e.status for e in events if e.status]
    return StoryEvent(
        story_id=story_id,
        date=min(_date(e) for e in events),
        supplier=_union(e.supplier for e in events),
        recipient=_union(e.recipient for e in events),
        weapons=_union(e.weapons for e in events),
        categories=_union(e.categories for e in events),
        status=statuses[-1] if statuses else None,
        sources=_union([e.source] for e in events),
        links=_union([e.link] for e in events),
        title=events[0].title,
        reports=len(events),
        rules=_union(e.rules for e in events),
        score=max(e.score for e in events),
    )


def story_events(store: Store, since: float) -> list[StoryEvent]:
    """The stories whose reports were seen since a moment, in order of their first report."""
    events = store.events_since(since)
    story_of = store.event_stories(since)
    groups: dict[str, list[EventRow]] = {}
    for event in events:
        groups.setdefault(story_of.get(event.item_id, event.item_id), []).append(event)
    return [merge_events(story_id, group) for story_id, group in groups.items()]


def record(story: StoryEvent) -> dict:
    """A story as an export record: the COLUMNS, lists kept as lists."""
    return {
        "date": story.date,
        "supplier": list(story.supplier),
        "recipient": list(story.recipient),
        "weapon_designation": list(story.weapons),
        "weapon_category": list(story.categories),
        "status": story.status or "",
        "sources": list(story.sources),
        "links": list(story.links),
        "title": story.title,
        "reports": story.reports,
        "rules": list(story.rules),
        "score": round(story.score, 3),
        "story_id": story.story_id,
    }


def write_export(stories: Iterable[StoryEvent], out: TextIO, fmt: str) -> int:
    """Write stories as CSV (lists joined by "; ") or JSON Lines; return how many."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n") if fmt == "csv" else None
    if writer:
        writer.writeheader()
    count = 0
    for story in stories:
        row = record(story)
        if writer:
            flat = {k: LIST_SEPARATOR.join(v) if isinstance(v, list) else v for k, v in row.items()}
            writer.writerow(flat)
        else:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count
