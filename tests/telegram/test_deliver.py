"""Outbox delivery through python-telegram-bot against the fake Bot API (the outbox in
SQLite and in PostgreSQL: the `store` fixture runs each test on both)."""

import asyncio
import sqlite3
import time
from datetime import timedelta

import pytest

from tests.servers import Fault
from watchers.config.load import TelegramConfig
from watchers.models import Item
from watchers.store.base import QueuedAlert
from watchers.store.sqlite import open_store
from watchers.telegram.deliver import Deliverer, TelegramSender, retry_after_seconds

CHAT = "@armswatch_test"
OTHER = "-1009999"


@pytest.fixture
async def sender(bot_api, bot_token):
    bot_api.add_chat(int(OTHER), "other_test")
    config = TelegramConfig(chat_id=CHAT, api_base_url=bot_api.base_url, send_timeout=1.0)
    sender = TelegramSender(bot_token, config)
    await sender.start()
    yield sender
    await sender.close()


def queue(store, *alerts: tuple[str, str, str]) -> None:
    items = [Item(item_id, item_id) for item_id, _, _ in alerts]
    store.record_items("f", items, [QueuedAlert(*a) for a in alerts], now=time.time())


def statuses(store) -> list[tuple[str, str]]:
    rows = store.query("select item_id, status from outbox order by id")
    return [(r["item_id"], r["status"]) for r in rows]


async def test_sends_in_order_and_stores_message_ids(store, sender, bot_api):
    queue(store, ("a", CHAT, "first"), ("b", CHAT, "second"))
    report = await Deliverer(store, sender).deliver_due(until=time.time() + 10)
    assert (report.sent, report.waiting) == (2, 0)
    assert [m.plain for m in bot_api.messages] == ["first", "second"]
    ids = [r["message_id"] for r in store.query("select message_id from outbox")]
    assert ids == [m.message_id for m in bot_api.messages]


async def test_bad_request_is_recorded_and_not_retried(store, sender, bot_api):
    queue(store, ("bad", CHAT, "a bare < breaks HTML"), ("good", CHAT, "fine"))
    report = await Deliverer(store, sender).deliver_due(until=time.time() + 10)
    assert (report.sent, report.failed) == (1, 1)
    assert statuses(store) == [("bad", "failed"), ("good", "sent")]
    (error,) = [r["error"] for r in store.query("select error from outbox where status='failed'")]
    assert "can't parse entities" in error.lower()


async def test_server_errors_keep_the_alert_queued(store, sender, bot_api):
    bot_api.queue_errors(502, 502, method="sendMessage")
    queue(store, ("a", CHAT, "text"), ("b", CHAT, "later"))
    report = await Deliverer(store, sender).deliver_due(until=time.time() + 1)
    assert report.sent == 0 and report.waiting == 2
    assert bot_api.messages == []  # b never jumped ahead of a


async def test_one_chats_flood_wait_does_not_block_another(store, sender, bot_api):
    bot_api.flood_limit(per_minute=1)
    queue(store, ("a1", CHAT, "a1"), ("a2", CHAT, "a2"), ("b1", OTHER, "b1"))
    deliverer = Deliverer(store, sender, per_minute=100)
    report = await deliverer.deliver_due(until=time.time() + 3)
    assert sorted(m.plain for m in bot_api.messages) == ["a1", "b1"]
    assert report.waiting == 1
    (error,) = [r["error"] for r in store.query("select error from outbox where item_id='a2'")]
    assert "429" in error


async def test_pacing_holds_after_a_restart(store, sender, bot_api):
    now = time.time()
    earlier = [(f"old{i}", CHAT, f"old {i}") for i in range(20)]
    queue(store, *earlier)
    for alert in store.due_alerts(now):
        store.mark_sent(alert.id, None, now - 30)  # 20 sent half a minute ago
    queue(store, ("new", CHAT, "new"))
    report = await Deliverer(store, sender, per_minute=20).deliver_due(until=now + 5)
    assert report.sent == 0 and report.waiting == 1
    assert bot_api.messages == []


async def test_timed_out_send_is_retried_at_most_one_duplicate(store, sender, bot_api):
    bot_api.queue_errors(Fault.slow(2.0), method="sendMessage")
    queue(store, ("a", CHAT, "maybe twice"))
    deliverer = Deliverer(store, sender)
    await deliverer.deliver_due(until=time.time() + 1)
    assert store.undelivered_count() == 1  # unknown outcome: still queued
    await asyncio.sleep(2.1)  # the retry's back-off
    await deliverer.deliver_due(until=time.time() + 10)
    assert [m.plain for m in bot_api.messages] == ["maybe twice", "maybe twice"]
    assert statuses(store) == [("a", "sent")]


async def test_wrong_token_keeps_alerts_and_never_shows_the_token(store, bot_api):
    config = TelegramConfig(chat_id=CHAT, api_base_url=bot_api.base_url, send_timeout=1.0)
    sender = TelegramSender("999:WRONG-token", config)
    await sender.start()
    try:
        queue(store, ("a", CHAT, "text"))
        report = await Deliverer(store, sender).deliver_due(until=time.time() + 1)
    finally:
        await sender.close()
    assert report.waiting == 1
    errors = [r["error"] for r in store.query("select error from outbox")]
    assert "401" in errors[0] and "WRONG-token" not in errors[0]


@pytest.mark.parametrize("value,seconds", [(3, 3.0), (timedelta(seconds=7), 7.0)])
def test_retry_after_int_or_timedelta(value, seconds):
    assert retry_after_seconds(value) == seconds


class LockingSender:
    """The real sender; once the first message went out, another connection holds the
    database's write lock (another process writing, for longer than the busy timeout)."""

    def __init__(self, sender: TelegramSender, path):
        self.sender = sender
        self.holder = sqlite3.connect(path, isolation_level=None)
        self.locked_once = False

    async def send(self, chat_id: str, html: str, reply_to: int | None = None) -> int | None:
        message_id = await self.sender.send(chat_id, html, reply_to)
        if not self.locked_once:
            self.holder.execute("begin immediate")
            self.locked_once = True
        return message_id

    async def edit(self, chat_id: str, message_id: int | None, html: str) -> None:
        await self.sender.edit(chat_id, message_id, html)

    def release(self) -> None:
        self.holder.rollback()


async def test_a_send_the_store_cannot_record_is_not_repeated_and_recorded_later(
    tmp_path, sender, bot_api
):
    store = open_store(tmp_path / "l.db", timeout=0.2)
    queue(store, ("a", CHAT, "first"), ("b", CHAT, "second"))
    locking = LockingSender(sender, tmp_path / "l.db")
    deliverer = Deliverer(store, locking, per_minute=None)
    try:
        report = await deliverer.deliver_due(until=time.time() + 5)
        assert report.sent == 1 and "database is locked" in deliverer.trouble
        assert [m.plain for m in bot_api.messages] == ["first"]  # b's attempt not recordable
        await deliverer.deliver_due(until=time.time() + 5)  # still locked
        assert [m.plain for m in bot_api.messages] == ["first"]  # a is not sent again
        locking.release()
        report = await deliverer.deliver_due(until=time.time() + 5)
        assert [m.plain for m in bot_api.messages] == ["first", "second"]
        assert statuses(store) == [("a", "sent"), ("b", "sent")]
        assert deliverer.trouble is None and report.waiting == 0
    finally:
        locking.holder.close()
        store.close()
