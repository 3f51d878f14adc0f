"""The read-only queries the SQLite and the PostgreSQL store run alike, written once.

Each is SQL both engines read, with "?" placeholders; a store runs it through _read()
(PostgreSQL writes its placeholders "%s") and wraps each method in its own error guard,
which names the method in what it raises:

    events_since = _guarded(SharedReads.events_since)
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from watchers.models import EventRow, Item, Label, StoryRow
from watchers.store.base import PENDING, SENDING, SENT
from watchers.store.items import known_sightings, unseen_items
from watchers.store.tables import event_from_row, story_from_row


class SharedReads:
    """The shared reads; a store provides _select(sql, params) and, if its placeholder is
    not "?", PARAM."""

    PARAM = "?"

    def _select(self, sql: str, params: Sequence = ()) -> list[dict]:
        raise NotImplementedError

    def _read(self, sql: str, params: Sequence = ()) -> list[dict]:
        """Rows of a shared query, as dicts."""
        return self._select(sql if self.PARAM == "?" else sql.replace("?", self.PARAM), params)

    def known(self, sightings: Sequence[tuple[str, str, str]]) -> set[int]:
        """Indexes of the (feed id, link, title) sightings that are stored items by the
        exact rules; the pre-scan parses the others, and unseen() decides about them."""
        return known_sightings(self, sightings)

    def unseen(self, items: Sequence[Item]) -> list[Item]:
        """The items that are no stored item nor an earlier one of the batch (see
        identity.py), in order, each with an id no stored item has."""
        return unseen_items(self, items)

    def undelivered_count(self) -> int:
        """How many alerts wait in the outbox."""
        sql = "select count(*) as n from outbox where status in (?, ?)"
        return self._read(sql, [PENDING, SENDING])[0]["n"]

    def events_since(self, since: float) -> list[EventRow]:
        """Events of items seen since a moment, oldest first."""
        sql = "select * from events where seen_at >= ? order by seen_at, item_id"
        return [event_from_row(row) for row in self._read(sql, [since])]

    def event_stories(self, since: float) -> dict[str, str]:
        """Item id -> story id, for events seen since a moment whose item joined a story."""
        sql = (
            "select distinct e.item_id, o.story_id from events e join outbox o "
            "on o.item_id = e.item_id where e.seen_at >= ? and o.story_id is not null"
        )
        return {row["item_id"]: row["story_id"] for row in self._read(sql, [since])}

    def due_digests(self, now: float, periods: dict[str, float]) -> list[tuple[str, ...]]:
        """(rule, chat_id, cadence) of collected digests whose oldest item waited a period."""
        sql = (
            "select rule, chat_id, cadence, min(created) as oldest from digest "
            "where sent_in is null group by rule, chat_id, cadence"
        )
        return [
            (row["rule"], row["chat_id"], row["cadence"])
            for row in self._read(sql)
            if now - row["oldest"] >= periods.get(row["cadence"], 0.0)
        ]

    def digest_lines(self, rule: str, chat_id: str, cadence: str) -> list[tuple[int, str]]:
        """(id, line) of the items collected for one digest, oldest first."""
        sql = (
            "select id, line from digest where sent_in is null and rule = ? and chat_id = ? "
            "and cadence = ? order by id"
        )
        return [(row["id"], row["line"]) for row in self._read(sql, [rule, chat_id, cadence])]

    def recent_stories(self, since: float) -> list[StoryRow]:
        """Stories that started since a moment, oldest first."""
        sql = "select * from stories where started >= ? order by started"
        return [story_from_row(row) for row in self._read(sql, [since])]

    def stories_changed(self, since: float) -> list[StoryRow]:
        """Stories stored or changed since a moment (by any instance), oldest first."""
        sql = "select * from stories where changed >= ? order by changed"
        return [story_from_row(row) for row in self._read(sql, [since])]

    def story_sources(self, story_id: str) -> list[tuple[str, str]]:
        """The (source, link) pairs that joined a story after its first item."""
        rows = self._read("select sources from stories where id = ?", [story_id])
        return [tuple(pair) for pair in json.loads(rows[0]["sources"])] if rows else []

    def sent_alert(self, item_id: str, chat_id: str) -> tuple[str, int | None, str] | None:
        """(status, message_id, text) of an item's alert in a chat, if there is one."""
        sql = "select status, message_id, text from outbox where item_id = ? and chat_id = ?"
        rows = self._read(sql, [item_id, chat_id])
        return (rows[0]["status"], rows[0]["message_id"], rows[0]["text"]) if rows else None

    def recent_alerts(self, limit: int = 10) -> list[dict]:
        """The latest alerts of feed items (not edits or admin notices), newest first."""
        sql = (
            "select o.status, o.chat_id, o.created_at, o.sent_at, o.error, i.title, i.link, "
            "i.feed from outbox o join items i on i.id = o.item_id "
            "where coalesce(o.kind, 'send') != 'edit' order by o.id desc limit ?"
        )
        return self._read(sql, [limit])

    def alerts_sent_since(self, since: float) -> int:
        """How many alerts of feed items Telegram accepted since a moment."""
        sql = (
            "select count(*) as n from outbox o join items i on i.id = o.item_id "
            "where o.status = ? and o.sent_at >= ? and coalesce(o.kind, 'send') != 'edit'"
        )
        return self._read(sql, [SENT, since])[0]["n"]

    def muted_rules(self, now: float) -> dict[str, float]:
        """Rules muted at this moment, with the time each mute ends."""
        sql = "select rule, until from mutes where until > ?"
        return {row["rule"]: row["until"] for row in self._read(sql, [now])}

    def item_by_link(self, link: str) -> dict | None:
        """The latest stored item (id, title, summary, link) with this link, or None."""
        sql = "select id, title, summary, link from items where link = ? order by seen_at desc"
        rows = self._read(sql + " limit 1", [link]) if link else []
        return rows[0] if rows else None

    def labels(self) -> list[Label]:
        """Every stored label, oldest first."""
        return [Label(**row) for row in self._read("select * from labels order by id")]
