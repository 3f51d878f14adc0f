"""Deliver the outbox: pace each chat, honour retry_after, retry passing errors, keep order.

Retry policy: an alert is marked ``sending`` (attempts + 1) before each attempt and
``sent`` with Telegram's message_id after. A send that timed out may have reached
Telegram, so it is retried: a timeout or a crash mid-send can cause at most one
duplicate of that one alert, never a loss. Per chat, alerts go out in queue order; a
passing failure (429, 5xx, network) holds back the rest of that chat only.

When the store cannot record (StoreUnavailable: the disk is full, the file is locked),
an alert whose attempt cannot be recorded is not sent, and a sent alert whose ``sent``
cannot be recorded is remembered in memory, kept from being sent again and recorded on
the next pass; `trouble` says why, until a pass records everything it did.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, TextIO, TypeVar

from watchers.config.load import TelegramConfig
from watchers.errors import StoreUnavailable
from watchers.models import Alert
from watchers.store.base import FAILED, SENT, Store
from watchers.telegram.message import console_text, with_sources

log = logging.getLogger("armswatch.deliver")
T = TypeVar("T")

MAX_BACKOFF = 300.0


class RetryLater(Exception):
    """Telegram could not take the message now; try again after `delay` seconds."""

    def __init__(self, reason: str, delay: float | None = None, exact: bool = False):
        super().__init__(reason)
        self.delay = delay
        self.exact = exact  # a retry_after from Telegram: wait exactly that long


class Rejected(Exception):
    """Telegram refused this message for good (bad request)."""


class Sender(Protocol):
    async def send(self, chat_id: str, html: str, reply_to: int | None = None) -> int | None: ...

    async def edit(self, chat_id: str, message_id: int | None, html: str) -> None: ...


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    waiting: int = 0


class ConsoleSender:
    """Prints alerts to the terminal: the no-token mode."""

    def __init__(self, out: TextIO | None = None):
        self.out = out or sys.stdout

    async def send(self, chat_id: str, html: str, reply_to: int | None = None) -> int | None:
        self.out.write(console_text(html, chat_id))
        self.out.flush()
        return None

    async def edit(self, chat_id: str, message_id: int | None, html: str) -> None:
        self.out.write(console_text(html, chat_id, update=True))
        self.out.flush()


def retry_after_seconds(value: int | float | timedelta) -> float:
    """retry_after is an int or a timedelta depending on PTB settings: handle both."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramSender:
    """Sends through python-telegram-bot; maps its errors to RetryLater / Rejected."""

    def __init__(self, token: str, config: TelegramConfig):
        from telegram import Bot, LinkPreviewOptions
        from telegram.request import HTTPXRequest

        timeout = config.send_timeout
        self._request = HTTPXRequest(
            connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout
        )
        kwargs = {"base_url": config.api_base_url} if config.api_base_url else {}
        self.bot = Bot(token, request=self._request, **kwargs)
        self.preview = LinkPreviewOptions(is_disabled=not config.link_preview)
        self._token = token

    async def start(self) -> None:
        # Not bot.initialize(): its get_me fails while Telegram is down and names the token.
        await self._request.initialize()

    async def close(self) -> None:
        await self._request.shutdown()

    async def send(self, chat_id: str, html: str, reply_to: int | None = None) -> int | None:
        from telegram import ReplyParameters

        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        message = await self._call(
            self.bot.send_message(
                chat_id=chat_id,
                text=html,
                parse_mode="HTML",
                link_preview_options=self.preview,
                reply_parameters=reply,
            )
        )
        return message.message_id

    async def edit(self, chat_id: str, message_id: int | None, html: str) -> None:
        call = self.bot.edit_message_text(
            chat_id=chat_id,
            message_id=message_id,
            text=html,
            parse_mode="HTML",
            link_preview_options=self.preview,
        )
        try:
            await self._call(call)
        except Rejected as exc:
            if "not modified" not in str(exc).lower():
                raise

    async def _call(self, call: Awaitable[T]) -> T:
        """Await a Bot API call, mapping its errors to RetryLater and Rejected."""
        from telegram import error

        try:
            return await call
        except error.RetryAfter as exc:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                delay = retry_after_seconds(exc.retry_after)
            raise RetryLater(f"429 flood control: retry after {delay:g}s", delay, True) from None
        except error.InvalidToken:
            raise RetryLater("the bot token was rejected (401): check the token", 600) from None
        except error.BadRequest as exc:
            if "chat not found" in exc.message.lower():
                raise RetryLater(f"{exc.message}: check [telegram] chat_id", 600) from None
            raise Rejected(self._clean(exc.message)) from None
        except error.Forbidden as exc:
            raise RetryLater(f"{self._clean(exc.message)}: is the bot an admin?", 600) from None
        except error.TelegramError as exc:  # NetworkError, TimedOut, 5xx
            raise RetryLater(f"{type(exc).__name__}: {self._clean(exc.message)}") from None

    def _clean(self, text: str) -> str:
        return text.replace(self._token, "[token]") if self._token else text


class Deliverer:
    """Works through the outbox, pacing each chat to Telegram's limits."""

    def __init__(
        self,
        store: Store,
        sender: Sender,
        per_minute: int | None = 20,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.sender = sender
        self.per_minute = per_minute
        self.clock = clock
        self.trouble: str | None = None  # why the last pass could not record everything
        self.unrecorded: dict[int, tuple[Alert, int | None, float]] = {}  # sent, not marked
        self._failures: list[str] = []  # of this pass

    async def deliver_due(self, until: float) -> DeliveryReport:
        """Send every due alert, chats in parallel, giving up on waits past `until`."""
        report = DeliveryReport()
        self._failures = []
        self._record_unrecorded()
        due = self.store.due_alerts(self.clock(), limit=1000)
        chats = dict.fromkeys(a.chat_id for a in due if a.id not in self.unrecorded)
        await asyncio.gather(*(self._deliver_chat(chat, until, report) for chat in chats))
        report.waiting = self.store.undelivered_count() - len(self.unrecorded)
        self.trouble = self._failures[-1] if self._failures else None
        return report

    def _record(self, mark: Callable[..., object], *args: object) -> bool:
        """Record a step of delivery in the store; False (noted) when it cannot."""
        try:
            mark(*args)
        except StoreUnavailable as exc:
            self._failures.append(str(exc))
            return False
        return True

    def _record_unrecorded(self) -> None:
        """Record the sends that the store could not record when they happened."""
        for alert_id, (alert, message_id, when) in list(self.unrecorded.items()):
            if self._record(self._mark_sent, alert, message_id, when):
                del self.unrecorded[alert_id]

    def _mark_sent(self, alert: Alert, message_id: int | None, when: float) -> None:
        self.store.mark_sent(alert.id, message_id, when)
        if alert.kind == "edit" and alert.target_item:
            self.store.settle_edits(alert.target_item, alert.chat_id, when)

    def _claim(self, chat_id: str) -> bool:
        """Take or renew the chat (several instances: one sends to it at a time); False
        while another instance holds it, or when the store cannot say."""
        try:
            return self.store.claim_chat(chat_id, self.clock())
        except StoreUnavailable as exc:
            self._failures.append(str(exc))
            return False

    async def _deliver_chat(self, chat_id: str, until: float, report: DeliveryReport):
        """A chat's due alerts in order, unless another instance is sending to it (its
        alerts are read again once the chat is ours: that instance may have sent some)."""
        if not self._claim(chat_id):
            return
        try:
            for alert in self.store.due_alerts(self.clock(), limit=1000, chat_id=chat_id):
                if alert.id in self.unrecorded:
                    continue
                if not await self._send_one(alert, until, report):
                    return  # keep this chat's order: the rest waits for this one
        finally:
            self._record(self.store.release_chat, chat_id)

    async def _send_one(self, alert: Alert, until: float, report: DeliveryReport) -> bool:
        attempts = alert.attempts
        while True:
            if not await self._wait_for_pace(alert.chat_id, until):
                return False
            if not self._claim(alert.chat_id):  # renewed after a wait
                return False
            if not self._record(self.store.mark_sending, alert.id, self.clock()):
                return False  # an attempt that cannot be recorded is not made
            attempts += 1
            try:
                message_id = await self._attempt(alert)
            except Rejected as exc:
                self._record(self.store.mark_failed, alert.id, str(exc))
                log.error(
                    "event=alert_rejected alert=%s chat=%s reason=%r",
                    alert.id,
                    alert.chat_id,
                    str(exc),
                )
                report.failed += 1
                return True
            except RetryLater as exc:
                delay = exc.delay if exc.delay is not None else _backoff(attempts)
                self._record(self.store.mark_retry, alert.id, str(exc), self.clock() + delay)
                log.warning(
                    "event=alert_retry alert=%s chat=%s wait=%.1fs reason=%r",
                    alert.id,
                    alert.chat_id,
                    delay,
                    str(exc),
                )
                if self.clock() + delay > until:
                    return False
                await asyncio.sleep(delay)
                continue
            if not self._record(self._mark_sent, alert, message_id, self.clock()):
                self.unrecorded[alert.id] = (alert, message_id, self.clock())
            report.sent += 1
            log.info(
                "event=alert_sent alert=%s chat=%s message_id=%s",
                alert.id,
                alert.chat_id,
                message_id,
            )
            return True

    async def _attempt(self, alert: Alert) -> int | None:
        """One send: a new alert, an edit of a story's first alert, or a reply to it."""
        if alert.kind == "send" or not alert.target_item:
            return await self.sender.send(alert.chat_id, alert.text)
        target = self.store.sent_alert(alert.target_item, alert.chat_id)
        if target is None or target[0] == FAILED:
            return await self.sender.send(alert.chat_id, alert.text)  # no first alert here
        status, message_id, first_text = target
        if status != SENT:
            raise RetryLater("waiting for the story's first alert to be sent", 5.0)
        if alert.kind == "reply":
            return await self.sender.send(alert.chat_id, alert.text, reply_to=message_id)
        sources = self.store.story_sources(alert.story_id or alert.target_item)
        await self.sender.edit(alert.chat_id, message_id, with_sources(first_text, sources))
        return message_id

    async def _wait_for_pace(self, chat_id: str, until: float) -> bool:
        """Sleep until a send to this chat keeps within per_minute and 1/s; False past until."""
        if self.per_minute is None:
            return True
        now = self.clock()
        recent = self.store.sent_since(chat_id, now - 60.0)
        ready = now
        if recent:  # about one message a second per chat, closer only if allowed more
            ready = max(ready, recent[-1] + min(1.0, 60.0 / self.per_minute))
        if len(recent) >= self.per_minute:
            ready = max(ready, recent[-self.per_minute] + 60.0)
        if ready > until:
            return False
        if ready > now:
            await asyncio.sleep(ready - now)
        return True


def _backoff(attempts: int) -> float:
    return min(MAX_BACKOFF, 2.0 ** min(attempts, 10))
