"""Whether the daemon's writes work, and saying so once each way: in the log, on /healthz
(through Metrics) and to the admin chat.

A write that fails for a passing reason (StoreUnavailable: a full disk, [storage]
max_bytes reached, a file locked past the busy timeout) is redone by whoever made it: a
poll on its feed's next tick (Pipeline.unstored), the deferred feed states on the flush
timer, digests and delivery on the delivery tick (Deliverer.trouble). This module only
gathers why writes fail and tells when that starts and when it ends. The admin notices go
straight to Telegram: the outbox may be the very thing that cannot be written.
"""

from __future__ import annotations

import logging
import time
from html import escape

from watchers.app import App
from watchers.config.durations import format_duration
from watchers.errors import StoreUnavailable
from watchers.ops.metrics import Metrics
from watchers.telegram.deliver import Rejected, RetryLater

log = logging.getLogger("armswatch.schedule")


class StoreWatch:
    """The daemon's view of its writes: what fails, since when, and who has been told."""

    def __init__(self, app: App, metrics: Metrics):
        self.app = app
        self.metrics = metrics
        self.jobs: dict[str, str] = {}  # the daemon's own jobs whose last write failed: why
        self.failing_since: float | None = None  # when writes started failing, as told
        self.notices: list[tuple[str, str]] = []  # (chat, html) not yet sent, in order

    def note(self, job: str, error: StoreUnavailable | None) -> None:
        """Record whether a job's last write worked (None) or why it did not."""
        if error is None:
            self.jobs.pop(job, None)
        else:
            self.jobs[job] = str(error)

    def trouble(self) -> str | None:
        """Why some write keeps failing (a poll waiting to be stored, deferred feed states,
        digests, delivery), or None while every write works."""
        reasons = [*self.app.pipeline.unstored.values(), *self.jobs.values()]
        reasons.append(self.app.deliverer.trouble)
        return next((reason for reason in reasons if reason), None)

    def changed(self) -> bool:
        """Whether writes started or stopped failing since it was last told."""
        return (self.trouble() is None) != (self.failing_since is None)

    async def report(self) -> None:
        """Tell a change (the log, /healthz, the admin chat), then send the admin chat
        what it has not had yet."""
        reason, now = self.trouble(), time.time()
        self.metrics.record_store(reason)
        if reason and self.failing_since is None:
            self.failing_since = now
            log.error("event=store_failing error=%r note='running on; retrying'", reason)
            self._tell_admin(failing_text(reason))
        elif not reason and self.failing_since is not None:
            took, self.failing_since = now - self.failing_since, None
            log.info("event=store_recovered after=%.0fs", took)
            self._tell_admin(recovered_text(took))
        await self._send_notices()

    def _tell_admin(self, text: str) -> None:
        if self.app.config.telegram.admin_chat_id:
            self.notices.append((self.app.config.telegram.admin_chat_id, text))

    async def _send_notices(self) -> None:
        """Send the admin notices in order; one Telegram cannot take now waits."""
        while self.notices:
            chat, text = self.notices[0]
            try:
                await self.app.deliverer.sender.send(chat, text)
            except RetryLater as exc:
                log.warning("event=notice_waiting chat=%s reason=%r", chat, str(exc))
                return
            except Rejected as exc:
                log.error("event=notice_rejected chat=%s reason=%r", chat, str(exc))
            self.notices.pop(0)


def failing_text(reason: str) -> str:
    """The admin notice when writes start failing."""
    return (
        f"⚠️ armswatch cannot write its database: {escape(reason)}\n"
        "It keeps running: feeds whose new items cannot be stored are polled again, and "
        "alerts already queued still go out while their sending can be recorded. Free "
        "some space (or raise [storage] max_bytes): it catches up by itself."
    )


def recovered_text(took: float) -> str:
    """The admin notice when writes work again."""
    return (
        f"✅ armswatch writes its database again (after {format_duration(round(took))}); "
        "the feeds that waited are stored on their next poll."
    )
