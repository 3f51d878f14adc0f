"""Operating the channel from Telegram: commands for the users in [telegram] admins.

python-telegram-bot's Application with CommandHandlers, long polling getUpdates inside
the daemon's event loop. Anyone not listed gets no answer at all. The answers are in
watchers/answers.py.

Telegram lets one client at a time read getUpdates. On a shared store (PostgreSQL) every
instance may list admins: the one holding the `telegram:getUpdates` lease (a row of
chat_leases, renewed every quarter of [storage] lease) polls, the others wait until it
gives the lease back at a stop or is a lease late (killed, cut off), then one takes over.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from watchers.answers import COMMANDS, HELP, Answer, split_message
from watchers.app import App
from watchers.corrections import FEEDBACK, Correction, Said
from watchers.errors import StoreError
from watchers.store.base import Store

log = logging.getLogger("armswatch.admin")

RETRY_FIRST, RETRY_MAX = 2.0, 300.0  # seconds between attempts to reach Telegram at start
UPDATES_LEASE = "telegram:getUpdates"  # the chat_leases row of the instance reading updates


class UpdatesLease:
    """Whose turn it is to read getUpdates: always this instance's on a store of its own;
    on a shared one, the instance holding the lease (taken or renewed by take())."""

    def __init__(self, store: Store):
        self.store = store
        self.held: bool | None = None  # None: not asked yet (the first turn is logged)

    def take(self, now: float) -> bool:
        """Take or renew the lease; True while this instance is the one to poll (False
        too when the database cannot be reached: another may have taken over)."""
        if not self.store.shared:
            return True
        try:
            mine = self.store.claim_chat(UPDATES_LEASE, now)
        except StoreError as exc:
            level = logging.WARNING if self.held else logging.DEBUG  # once, not every turn
            log.log(level, "event=admin_lease_unknown error=%r (not polling)", str(exc))
            mine = False
        if mine != self.held:
            what = "this instance reads the commands" if mine else "another instance does"
            log.info("event=admin_%s note='%s'", "polling" if mine else "standby", what)
        self.held = mine
        return mine

    def give_back(self) -> None:
        """Stopping: another instance may take the lease at once."""
        if self.store.shared and self.held:
            try:
                self.store.release_chat(UPDATES_LEASE)
            except StoreError as exc:
                log.warning("event=admin_lease_kept error=%r (expires by itself)", str(exc))
            self.held = False


async def follow_turn(lease: UpdatesLease, updater: Any, now: float, on_error: Callable) -> bool:
    """Start or stop polling getUpdates as the lease says; whether this instance polls."""
    from telegram.error import TelegramError

    mine = lease.take(now)
    if mine and not updater.running:
        try:
            await updater.start_polling(error_callback=on_error)
        except TelegramError as exc:
            log.warning("event=admin_poll_failed error=%r (retrying)", str(exc))
    elif not mine and updater.running:
        try:
            await updater.stop()
        except Exception as exc:  # stopping anyway: the next turn checks again
            log.debug("event=admin_call_failed error=%r", str(exc))
    return mine


_COMMAND = re.compile(r"^/\S+[ \t]*\n?")


class AdminBot:
    """The command interface: an Application polling getUpdates in the daemon's loop."""

    def __init__(self, app: App, token: str):
        from telegram import LinkPreviewOptions
        from telegram.ext import Application, CommandHandler, MessageHandler, filters
        from telegram.request import HTTPXRequest

        telegram = app.config.telegram
        self.app = app
        builder = Application.builder().token(token).job_queue(None)
        if telegram.api_base_url:
            builder = builder.base_url(telegram.api_base_url)
        timeout = telegram.send_timeout
        builder = builder.request(HTTPXRequest(connect_timeout=timeout, read_timeout=timeout))
        self.application = builder.build()
        self.no_preview = LinkPreviewOptions(is_disabled=True)
        admins, new = filters.User(user_id=telegram.admins), filters.UpdateType.MESSAGE
        for name, answer in COMMANDS.items():  # edited messages are not commands again
            self.application.add_handler(CommandHandler(name, self._handler(answer), admins & new))
        for name, correct in FEEDBACK.items():
            handler = CommandHandler(name, self._handler(correct, said=True), admins & new)
            self.application.add_handler(handler)
        ignored = MessageHandler(filters.COMMAND & new & ~admins, self._ignored)
        self.application.add_handler(ignored, 1)
        self.application.add_error_handler(self._failed)
        self.task: asyncio.Task | None = None
        self.lease = UpdatesLease(app.pipeline.store)
        self._ignored_users: set[int] = set()
        self._last_error = ""

    def start(self) -> None:
        """Start polling in the background; Telegram being down only delays it."""
        self.task = asyncio.create_task(self._run(), name="admin")

    async def _run(self) -> None:
        from telegram import BotCommand

        delay = RETRY_FIRST
        while not await self._start(delay):
            await asyncio.sleep(delay)
            delay = min(RETRY_MAX, delay * 2)
        commands = [BotCommand(name, what[:256]) for name, what in HELP]
        await self._quietly(self.application.bot.set_my_commands(commands))
        log.info("event=admin_started admins=%d", len(self.app.config.telegram.admins))
        if self.lease.store.shared:  # one instance at a time reads getUpdates
            every = max(1.0, self.app.config.lease / 4)
            while True:
                await follow_turn(
                    self.lease, self.application.updater, time.time(), self._poll_failed
                )
                await asyncio.sleep(every)

    async def _start(self, retry_in: float) -> bool:
        """Initialize and start polling; False (logged) while Telegram cannot be reached."""
        from telegram.error import TelegramError

        try:
            await self.application.initialize()  # getMe: fails while Telegram is down
            if not self.application.running:
                await self.application.start()
            if not self.lease.store.shared:  # shared: when this instance has the lease
                await self.application.updater.start_polling(error_callback=self._poll_failed)
        except TelegramError as exc:
            log.warning("event=admin_start_failed retry_in=%.0fs error=%r", retry_in, str(exc))
            return False
        return True

    async def stop(self, timeout: float = 1.5) -> None:
        """Stop polling and close the Application's connections, within `timeout`."""
        if self.task and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        try:
            async with asyncio.timeout(timeout):
                await self._shutdown()
        except TimeoutError:
            log.warning("event=admin_stop_timeout note='Telegram did not answer in time'")
        self.lease.give_back()

    async def _shutdown(self) -> None:
        updater = self.application.updater
        if updater and updater.running:
            await self._quietly(updater.stop())
        if self.application.running:
            await self._quietly(self.application.stop())
        await self._quietly(self.application.shutdown())

    def _handler(
        self, answer: Answer | Correction, said: bool = False
    ) -> Callable[..., Awaitable[None]]:
        """A handler answering with `answer(app, args, user)`, or with `answer(app, Said)`."""

        async def handle(update, context) -> None:
            message, user = update.effective_message, update.effective_user
            args = _COMMAND.sub("", message.text or "", count=1)
            command = (message.text or "").split(maxsplit=1)[0]
            log.info("event=admin_command command=%s user=%d", command[:40], user.id)
            lines = (
                answer(self.app, read_said(message, args))
                if said
                else answer(self.app, args, user.id)
            )
            for text in split_message(lines):
                await context.bot.send_message(
                    message.chat_id, text, parse_mode="HTML", link_preview_options=self.no_preview
                )

        return handle

    async def _ignored(self, update, _context) -> None:
        user = update.effective_user
        if user and user.id not in self._ignored_users and len(self._ignored_users) < 1000:
            self._ignored_users.add(user.id)
            log.info(
                "event=command_ignored user=%d note='not in [telegram] admins; no answer'", user.id
            )

    async def _failed(self, _update, context) -> None:
        log.error("event=admin_command_failed error=%r", str(context.error))

    def _poll_failed(self, exc: Exception) -> None:
        if str(exc) != self._last_error:
            self._last_error = str(exc)
            log.warning("event=admin_poll_failed error=%r (retrying)", str(exc))

    async def _quietly(self, call: Awaitable) -> None:
        try:
            await call
        except Exception as exc:  # shutting down or optional: log, never raise
            log.debug("event=admin_call_failed error=%r", str(exc))


def read_said(message, args: str) -> Said:
    """A command message as corrections.py reads it: who, where, and what it replies to.

    In a channel's discussion group a reply goes to the group's copy of the post: the
    post in the channel is the one that was alerted.
    """
    user, chat = message.from_user, message.chat
    replied = message.reply_to_message
    chats, replied_id = (), None
    if replied is not None:
        origin = replied.forward_origin if replied.is_automatic_forward else None
        source = origin.chat if getattr(origin, "chat", None) else replied.chat
        replied_id = origin.message_id if getattr(origin, "chat", None) else replied.message_id
        chats = (str(source.id), *([f"@{source.username}"] if source.username else []))
    return Said(
        text=args,
        user_id=user.id,
        chat_id=str(chat.id),
        now=message.date.timestamp(),
        username=user.username or "",
        replied_chats=chats,
        replied_id=replied_id,
    )


def start_admin(app: App, token: str) -> AdminBot | None:
    """The command interface when a token is set and [telegram] admins lists someone."""
    if not token or not app.config.telegram.admins:
        return None
    admin = AdminBot(app, token)
    admin.start()
    return admin
