"""The PostgreSQL store's outbox, events, digests, stories, mutes and admin reads: the
queries of sqlite.py in PostgreSQL's words, plus the chat leases that let one instance at
a time send to a chat."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict

import psycopg

from watchers.models import Alert, Label
from watchers.store.base import FAILED, PENDING, SENDING, SENT, QueuedAlert, alert_row
from watchers.store.pgsql import CLAIM_CHAT, guarded, insert_sql
from watchers.store.reads import SharedReads


class OutboxQueries(SharedReads):
    """Mixed into PgStore, which provides the connection (_db, _select, _execute)."""

    PARAM = "%s"  # psycopg's placeholder, for the shared reads

    instance: str
    lease: float
    version: int
    _db: Callable[[], psycopg.Connection]
    _select: Callable[..., list[dict]]
    _execute: Callable[..., int]

    # outbox -------------------------------------------------------------------------
    @guarded
    def due_alerts(self, now: float, limit: int = 100, chat_id: str | None = None) -> list[Alert]:
        """Alerts not yet accepted by Telegram whose next attempt is due, oldest first (of
        one chat, if given)."""
        sql = (
            "select id, item_id, chat_id, text, attempts, kind, target_item, story_id from outbox "
            "where status in (%s, %s) and next_attempt <= %s "
            "and (%s::text is null or chat_id = %s) order by id limit %s"
        )
        params = [PENDING, SENDING, now, chat_id, chat_id, limit]
        return [Alert(**row) for row in self._select(sql, params)]

    undelivered_count = guarded(SharedReads.undelivered_count)

    @guarded
    def claim_chat(self, chat_id: str, now: float) -> bool:
        """Take (or renew) the right to send to a chat for `lease` seconds; False while
        another instance holds it."""
        params = {"chat": chat_id, "me": self.instance, "until": now + self.lease, "now": now}
        return bool(self._select(CLAIM_CHAT, params))

    @guarded
    def claim_once(self, key: str, now: float) -> bool:
        """True for the first instance with this key (a weekly report), False ever after."""
        sql = "insert into once_keys values (%s, %s) on conflict do nothing"
        return self._execute(sql, [key, now]) == 1

    @guarded
    def release_chat(self, chat_id: str) -> None:
        """Done sending to the chat for now: another instance may take it at once."""
        sql = "delete from chat_leases where chat_id = %s and owner = %s"
        self._execute(sql, [chat_id, self.instance])

    @guarded
    def mark_sending(self, alert_id: int, now: float) -> None:
        """Record an attempt before it is made, so a crash mid-send is visible."""
        sql = (
            "update outbox set status = %s, attempts = attempts + 1, last_attempt = %s "
            "where id = %s"
        )
        self._execute(sql, [SENDING, now, alert_id])

    @guarded
    def mark_sent(self, alert_id: int, message_id: int | None, now: float) -> None:
        """Telegram accepted the alert."""
        self._update(alert_id, status=SENT, message_id=message_id, sent_at=now, error="")

    @guarded
    def mark_retry(self, alert_id: int, error: str, next_attempt: float) -> None:
        """The attempt failed for a passing reason; try again later."""
        self._update(alert_id, status=PENDING, error=error, next_attempt=next_attempt)

    @guarded
    def mark_failed(self, alert_id: int, error: str) -> None:
        """Telegram refused the alert for good."""
        self._update(alert_id, status=FAILED, error=error)

    def _update(self, alert_id: int, **values: object) -> None:
        sets = ", ".join(f"{key} = %s" for key in values)
        self._execute(f"update outbox set {sets} where id = %s", [*values.values(), alert_id])

    @guarded
    def sent_since(self, chat_id: str, since: float) -> list[float]:
        """Times of sends (and attempts) to a chat since a moment, by every instance."""
        sql = (
            "select coalesce(sent_at, last_attempt) as t from outbox where chat_id = %s "
            "and coalesce(sent_at, last_attempt) >= %s order by t"
        )
        return [row["t"] for row in self._select(sql, [chat_id, since])]

    # events -------------------------------------------------------------------------
    events_since = guarded(SharedReads.events_since)

    event_stories = guarded(SharedReads.event_stories)

    # digests ------------------------------------------------------------------------
    due_digests = guarded(SharedReads.due_digests)

    digest_lines = guarded(SharedReads.digest_lines)

    @guarded
    def queue_digest(self, alert: QueuedAlert, entry_ids: list[int], now: float) -> bool:
        """Queue a digest message and mark its items as sent in it, in one transaction;
        False (nothing queued) when another instance sent some of them first."""
        try:
            with self._db().transaction():
                taken = self._execute(
                    "update digest set sent_in = %s where id = any(%s) and sent_in is null",
                    [alert.item_id, entry_ids],
                )
                if taken != len(entry_ids):
                    raise _Taken
                row = alert_row(alert, now)
                self._execute(insert_sql("outbox", list(row)), list(row.values()))
        except _Taken:
            return False
        return True

    # stories ------------------------------------------------------------------------
    recent_stories = guarded(SharedReads.recent_stories)

    stories_changed = guarded(SharedReads.stories_changed)

    story_sources = guarded(SharedReads.story_sources)

    sent_alert = guarded(SharedReads.sent_alert)

    @guarded
    def settle_edits(self, target_item: str, chat_id: str, now: float) -> None:
        """Pending edits of one message are all done once its latest edit went out."""
        self._execute(
            "update outbox set status = %s, sent_at = %s where kind = 'edit' and "
            "target_item = %s and chat_id = %s and status in (%s, %s)",
            [SENT, now, target_item, chat_id, PENDING, SENDING],
        )

    # admin commands and mutes -------------------------------------------------------
    recent_alerts = guarded(SharedReads.recent_alerts)

    alerts_sent_since = guarded(SharedReads.alerts_sent_since)

    muted_rules = guarded(SharedReads.muted_rules)

    @guarded
    def mute_rule(self, rule: str, until: float, by: int, now: float) -> None:
        """Hold back a rule's alerts until a moment (replacing an earlier mute)."""
        columns = ["rule", "until", "muted_by", "muted_at"]
        self._execute(insert_sql("mutes", columns, upsert="rule"), [rule, until, by, now])

    @guarded
    def unmute_rule(self, rule: str, now: float) -> bool:
        """End a rule's mute; False when it was not muted."""
        return self._execute("delete from mutes where rule = %s and until > %s", [rule, now]) > 0

    # labels (the channel's corrections) ---------------------------------------------
    @guarded
    def alerted_item(self, chats: Sequence[str], message_id: int) -> dict | None:
        """The stored item (id, title, summary, link) a sent message in one of these chats
        (ids or @usernames) alerted, or None (an edit, a digest, an admin notice)."""
        sql = (
            "select i.id, i.title, i.summary, i.link from outbox o join items i on i.id = "
            "o.item_id where o.message_id = %s and o.chat_id = any(%s) and "
            "coalesce(o.kind, 'send') != 'edit' order by o.id desc limit 1"
        )
        rows = self._select(sql, [message_id, list(chats)])
        return rows[0] if rows else None

    item_by_link = guarded(SharedReads.item_by_link)

    @guarded
    def add_label(self, label: Label) -> int:
        """Store a label, replacing earlier ones of the same story: the newest decides (the
        same item, else the same link, else the same headline). Its id."""
        row = {k: v for k, v in asdict(label).items() if k != "id"}
        with self._db().transaction():
            self._execute(
                "delete from labels where item_id = %s or (item_id is null and ("
                "(%s != '' and link = %s) or (%s = '' and link = '' and %s != '' and title = %s)))",
                [label.item_id, label.link, label.link, label.link, label.title, label.title],
            )
            sql = insert_sql("labels", list(row)).replace(" on conflict do nothing", "")
            return self._select(sql + " returning id", list(row.values()))[0]["id"]

    labels = guarded(SharedReads.labels)

    @guarded
    def item_texts(self) -> list[tuple[str, str, str]]:
        """(id, title, summary) of every stored item, in the order they were stored."""
        rows = self._select("select id, title, summary from items order by seen_at, id")
        return [(row["id"], row["title"], row["summary"]) for row in rows]

    # tools and tests ----------------------------------------------------------------
    @guarded
    def query(self, sql: str, params: Sequence = ()) -> list[dict]:
        """Rows of one read, `?` placeholders: for tests and tools, not the stages."""
        return self._select(sql.replace("%", "%%").replace("?", "%s"), params)

    def schema_version(self) -> int:
        """The schema version the database is at."""
        return self.version


class _Taken(Exception):
    """Rolls a transaction back: another instance's digest took some of its items."""
