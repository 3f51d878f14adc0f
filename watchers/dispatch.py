"""Matched items -> outbox work: an alert per item and chat filed into stories, digest
entries, and the detector's event for each, ready to store in the poll's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from watchers.config.load import Config
from watchers.detection.rules import RuleSet
from watchers.models import (
    Detection,
    DigestEntry,
    EventRow,
    Item,
    Match,
    StoryRow,
    Verdict,
)
from watchers.store.base import QueuedAlert, Store
from watchers.stories.merge import Filing, StoryBook, story_row
from watchers.telegram.digest import PERIODS, compose_digest, digest_line
from watchers.telegram.message import format_alert, weapon_names

log = logging.getLogger("armswatch.dispatch")

CONSOLE_CHAT = "console"
# A story's `changed` is its poll's start, committed up to a fetch timeout and a parse
# later (and other machines' clocks differ a little): stories are read back this far.
CHANGED_SLACK = 120.0


@dataclass
class Outgoing:
    """What matching new items produced: alerts to queue and stories to remember."""

    alerts: list[QueuedAlert] = field(default_factory=list)
    stories: list[StoryRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)  # one per alerted item
    digest: list[DigestEntry] = field(default_factory=list)  # collected for digests


def _queued(item_id: str, chat: str, text: str, filing: Filing | None) -> QueuedAlert:
    if filing is None or filing.kind == "send":
        story = filing.story.id if filing else None
        return QueuedAlert(item_id, chat, text, story_id=story)
    return QueuedAlert(item_id, chat, text, filing.kind, filing.story.first_item, filing.story.id)


class Dispatcher:
    """Turns new items into alerts, stories, digest entries and events (nothing is sent)."""

    def __init__(
        self, config: Config, store: Store, rules: RuleSet, stories: StoryBook | None = None
    ):
        self.config = config
        self.store = store
        self.rules = rules
        self.stories = stories
        self._stories_stale = False  # filed in memory, then not stored: read them again
        self._stories_read: float | None = None  # when stories changed elsewhere were read

    def discard_unstored(self) -> None:
        """The alerts_for() just made were not stored: forget the stories it filed (the
        store's are read again before the next filing)."""
        self._stories_stale = self.stories is not None

    def alerts_for(self, items: Sequence[Item], now: float) -> Outgoing:
        """Match items against the rules; one alert per item and chat, filed into stories."""
        if self._stories_stale:
            since = now - self.config.story_window
            self.stories = StoryBook(self.config.story_window, self.store.recent_stories(since))
            self._stories_stale = False
        out = Outgoing()
        others_read = False  # on a shared store: once per call, under the story lock
        muted = self.store.muted_rules(now)  # /mute: these rules' matches are not alerted
        for item in items:
            verdict, seen = self.rules.examine(item)
            kept = tuple(m for m in verdict.matches if m.rule not in muted)
            verdict = replace(verdict, matches=tuple(m for m in kept if not m.digest))
            chats = self._by_chat(verdict)
            collected = self._collect(item, verdict.detection, kept, chats, now)
            out.digest.extend(collected)
            if not chats:
                if collected:
                    out.events.append(event_row(item, replace(verdict, matches=kept), now))
                continue
            out.events.append(event_row(item, verdict, now))
            filing = None
            if self.stories is not None:
                if not others_read:
                    self._take_others_stories(now)
                    others_read = True
                seen = seen or self.rules.read(item)  # its entities: the story's words
                filing = self.stories.file(item, seen.text, seen.mentions, verdict.detection, now)
                out.stories.append(story_row(filing.story))
            for chat, matches in chats.items():
                text = format_alert(item, matches, verdict.detection, self.rules.gazetteer.flag)
                out.alerts.append(_queued(item.id, chat, text, filing))
        return out

    def _take_others_stories(self, now: float) -> None:
        """On a shared store, wait until no other instance is filing (the lock is held
        until this poll's items are recorded: run alerts_for() and record_items() inside
        store.filing()), then follow the stories the others filed or changed since the
        last look, so one story alerts once whichever instance polled its reports, and a
        source another instance added is kept when this one adds its own."""
        if self.stories is None or not self.store.shared:
            return
        self.store.lock_stories()
        since = (self._stories_read or now) - CHANGED_SLACK
        self.stories.take(self.store.stories_changed(since))
        self._stories_read = now

    def _collect(
        self,
        item: Item,
        detection: Detection,
        matches: tuple[Match, ...],
        alerted: dict[str, tuple[Match, ...]],
        now: float,
    ) -> list[DigestEntry]:
        """Digest rules' matches, except in chats the item alerts in anyway."""
        default = self.config.telegram.chat_id or CONSOLE_CHAT
        entries = []
        for match in matches:
            chat = match.chat_id or default
            if match.digest and chat not in alerted:
                line = digest_line(item, detection, self.rules.gazetteer.flag)
                entries.append(DigestEntry(match.rule, chat, match.digest, item.id, line, now))
        return entries

    def flush_digests(self, now: float) -> int:
        """Queue every digest whose oldest item has waited its period; how many were queued."""
        queued = 0
        for rule, chat, cadence in self.store.due_digests(now, PERIODS):
            entries = self.store.digest_lines(rule, chat, cadence)
            text = compose_digest(rule, cadence, [line for _, line in entries])
            alert = QueuedAlert(f"digest:{rule}:{cadence}:{int(now)}", chat, text)
            if not self.store.queue_digest(alert, [entry_id for entry_id, _ in entries], now):
                continue  # another instance queued these entries first
            queued += 1
            log.info("event=digest_queued rule=%s chat=%s items=%d", rule, chat, len(entries))
        return queued

    def _by_chat(self, verdict: Verdict) -> dict[str, tuple[Match, ...]]:
        default = self.config.telegram.chat_id or CONSOLE_CHAT
        chats: dict[str, tuple[Match, ...]] = {}
        for match in verdict.matches:
            chat = match.chat_id or default
            chats[chat] = (*chats.get(chat, ()), match)
        return chats


def event_row(item: Item, verdict: Verdict, now: float) -> EventRow:
    """The detector's reading of an alerted item, to store beside it."""
    found = verdict.detection
    return EventRow(
        item_id=item.id,
        seen_at=now,
        published=item.published.isoformat() if item.published else None,
        source=item.source,
        title=item.title,
        link=item.link,
        supplier=found.supplier,
        recipient=found.recipient,
        weapons=tuple(weapon_names(found)),
        categories=tuple(dict.fromkeys(w.category for w in found.weapons)),
        status=found.status,
        rules=tuple(m.rule for m in verdict.matches),
        score=found.score,
    )
