"""Corrections from the channel: /wrong and /missed stored as labels for training.

An admin replies /wrong to an alert that is no arms-transfer story (label 0), or sends
/missed with a link, or a headline and a summary, for one the bot did not alert (label 1).
The answers here are pure functions of the store and what was said; watchers/admin.py
reads the Telegram update into a Said. `bot.py train --with-feedback` and `bot.py eval`
(watchers/retrain.py) use the labels.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from watchers.app import App
from watchers.feeds.parse import canonical_link
from watchers.models import Label

log = logging.getLogger("armswatch.admin")

WRONG_USAGE = (
    "Reply <code>/wrong</code> to the alert you mean (in the chat where it was posted): "
    "it is stored as “not an arms transfer” for the next training."
)
MISSED_USAGE = (
    "Usage: <code>/missed LINK</code>, or <code>/missed HEADLINE</code> and the summary on "
    "the next lines: a story the bot should have alerted."
)


@dataclass(frozen=True)
class Said:
    """A command as an admin said it."""

    text: str  # what follows the command
    user_id: int
    chat_id: str
    now: float
    username: str = ""
    replied_chats: tuple[str, ...] = ()  # the replied-to message's chat: id and @username
    replied_id: int | None = None  # the replied-to message's id; None: not a reply


def answer_wrong(app: App, said: Said) -> list[str]:
    """/wrong as a reply to an alert: the alerted item is labelled 0."""
    store = app.pipeline.store
    if said.replied_id is None:
        return [WRONG_USAGE]
    item = store.alerted_item(said.replied_chats, said.replied_id)
    if item is None:
        return ["That message is not an alert of mine. " + WRONG_USAGE]
    label = _label(said, 0, "wrong", item["title"], item["summary"], item["link"] or "")
    store.add_label(Label(**label, item_id=item["id"]))
    log.info("event=label_stored kind=wrong item=%s by=%d", item["id"], said.user_id)
    return [f"👎 Noted: <b>{escape(_clip(item['title']))}</b> is not an arms transfer story."]


def answer_missed(app: App, said: Said) -> list[str]:
    """/missed LINK, or HEADLINE + newline + summary: labelled 1."""
    link, headline, summary = read_missed(said.text)
    if not link and not headline:
        return [MISSED_USAGE]
    item = app.pipeline.store.item_by_link(link) if link else None
    if item is not None:
        return _store_missed(app, said, item["id"], link, item["title"], item["summary"])
    return _store_missed(app, said, None, link, headline, summary)


def read_missed(text: str) -> tuple[str, str, str]:
    """(canonical link, headline, summary) of what follows /missed: a link first (then
    optionally the headline, on its line or the next, and the summary), or a headline
    and the summary on the next lines."""
    first, _, rest = text.strip().partition("\n")
    token, _, after = first.strip().partition(" ")
    link = canonical_link(token)
    if not link:
        return "", " ".join(first.split()), rest.strip()
    if not after.strip():
        after, _, rest = rest.strip().partition("\n")
    return link, " ".join(after.split()), rest.strip()


def _store_missed(
    app: App, said: Said, item_id: str | None, link: str, title: str, summary: str
) -> list[str]:
    label = Label(**_label(said, 1, "missed", title, summary, link), item_id=item_id)
    app.pipeline.store.add_label(label)
    log.info("event=label_stored kind=missed item=%s by=%d", item_id or "-", said.user_id)
    if not title:
        return [
            f"📌 Stored the link {escape(link)} as a missed story. I have never seen it, so "
            "it cannot be trained on until it has a headline: send "
            f"<code>/missed {escape(link)}</code> with the headline and the summary on the "
            "next lines."
        ]
    where = " (an item I had read)" if item_id else ""
    return [f"📌 Noted as a missed arms transfer story{where}: <b>{escape(_clip(title))}</b>"]


def _label(said: Said, value: int, kind: str, title: str, summary: str, link: str) -> dict:
    return {
        "label": value,
        "kind": kind,
        "user_id": said.user_id,
        "chat_id": said.chat_id,
        "created_at": said.now,
        "link": link,
        "title": title,
        "summary": summary,
        "username": said.username,
    }


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


Correction = Callable[[App, Said], list[str]]
FEEDBACK: dict[str, Correction] = {"wrong": answer_wrong, "missed": answer_missed}
