"""Corrections from the channel end to end: an alert sent by `bot.py run`, an admin's
/wrong reply and /missed messages through getUpdates, the labels in the SQLite file, then
`bot.py train --with-feedback` and `bot.py eval` on them."""

from __future__ import annotations

import itertools
import json
import re
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.helpers import CHAT, DATA, keyword_items, keyword_title, rss, run_bot, seed_item
from tests.servers import SentMessage
from tests.test_admin import ADMIN, STRANGER, start_run, wait_for, write_config
from watchers.corrections import read_missed
from watchers.detection.model import MODEL_FILE

SAMPLE = DATA / "news" / "labelled_sample.jsonl"
PARK = "Local council approves new park by the river"
PARK_LINK = "https://news.example.org/2024/park"
DISCUSSION = -1009876  # a channel's discussion group, where posts arrive as copies
_IDS = itertools.count(50_000)


class GroupAdmin:
    """Speaks in the group the alerts go to (@armswatch_test) and reads the bot's answers."""

    def __init__(self, bot_api, user: int = ADMIN, username: str = "ann"):
        self.api, self.user, self.username = bot_api, user, username
        self.chat = {"id": bot_api.chat_id(CHAT), "type": "group", "title": "Armswatch Test"}
        self.chat["username"] = CHAT.lstrip("@")

    def ask(self, text: str, reply_to: SentMessage | None = None, copy: bool = False) -> str:
        """The plain text of the bot's answer in the group (or, with copy, in the
        discussion group, replying to the copy of the alert there)."""
        chat = DISCUSSION if copy else CHAT
        before = len(self.api.messages_for(chat))
        message = self.message(text, reply_to)
        if copy:
            message = self.in_discussion(message)
        self.api.push_update({"message": message})
        answers = wait_for(lambda: self.api.messages_for(chat)[before:])
        return "\n".join(m.plain for m in answers)

    def in_discussion(self, message: dict) -> dict:
        """The message said in the discussion group, replying to the copy of the post."""
        channel = {**self.chat, "type": "channel"}
        group = {"id": DISCUSSION, "type": "supergroup", "title": "Comments"}
        post = message["reply_to_message"]
        origin = {"type": "channel", "chat": channel, "message_id": post["message_id"]}
        origin["date"] = post["date"]
        copy = {**post, "message_id": 7, "chat": group, "is_automatic_forward": True}
        copy |= {"forward_origin": origin, "sender_chat": channel}
        return {**message, "chat": group, "reply_to_message": copy}

    def message(self, text: str, reply_to: SentMessage | None) -> dict:
        user = {"id": self.user, "is_bot": False, "first_name": "Ann"}
        if self.username:
            user["username"] = self.username
        message = {"message_id": next(_IDS), "date": int(time.time()), "chat": self.chat}
        message |= {"from": user, "text": text}
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if reply_to is not None:
            message["reply_to_message"] = {
                "message_id": reply_to.message_id,
                "date": reply_to.date,
                "chat": self.chat,
                "from": {"id": 123456, "is_bot": True, "first_name": "Armswatch Test"},
                "text": reply_to.plain,
            }
        return message


def stored_labels(db: Path) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute("select * from labels order by id")]


def alert_about(bot_api, words: str) -> SentMessage:
    (message,) = [m for m in bot_api.messages_for(CHAT) if words in m.plain]
    return message


@pytest.fixture(scope="module")
def corrected(tmp_path_factory):
    """A daemon alerted the seed and a keyword item, read a park story, and took an
    admin's corrections; its config, its database and the answers it gave."""
    from tests.conftest import BOT_TOKEN
    from tests.servers import FakeBotAPI, FeedServer

    tmp = tmp_path_factory.mktemp("corrections")
    with FeedServer() as feeds, FakeBotAPI(BOT_TOKEN) as bot_api:
        park = {"guid": "park", "title": PARK, "summary": "Trees.", "link": PARK_LINK}
        feeds.set("/f.xml", rss([seed_item(), *keyword_items(1), park]))
        config = write_config(tmp / "c.toml", [("F", feeds.url("/f.xml"))], bot_api.base_url)
        bot_api.add_chat(DISCUSSION, title="Comments")
        admin, stranger = GroupAdmin(bot_api), GroupAdmin(bot_api, STRANGER, "")
        daemon = start_run(config, BOT_TOKEN)
        try:
            answers = converse(bot_api, admin, stranger)
        finally:
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=10)
            log = daemon.stderr.read()
        assert not feeds.errors and not bot_api.errors
    print(log)  # shown when a test fails
    assert code == 0 and "Traceback" not in log and BOT_TOKEN not in log
    return config, tmp / "state.db", answers, log


def converse(bot_api, admin: GroupAdmin, stranger: GroupAdmin) -> dict[str, str]:
    """The corrections an admin (and a stranger) sends once both alerts are out."""
    wait_for(lambda: len(bot_api.messages_for(CHAT)) == 2, timeout=20)
    keyword = alert_about(bot_api, keyword_title(0))
    seed = alert_about(bot_api, "Russia moves ahead with plan")
    stranger.api.push_update({"message": stranger.message("/wrong", seed)})  # ignored
    answers = {"wrong": admin.ask("/wrong", keyword)}
    answers["no reply"] = admin.ask("/wrong")
    answers["not an alert"] = admin.ask("/wrong", bot_api.messages_for(CHAT)[-1])
    answers["wrong again"] = admin.ask("/wrong", keyword)  # one label, the newest
    answers["wrong in discussion"] = admin.ask("/wrong", seed, copy=True)
    answers["missed seen"] = admin.ask(f"/missed {PARK_LINK}?utm_source=rss")
    answers["missed unseen"] = admin.ask("/missed https://news.example.org/never")
    admin.ask("/missed https://news.example.org/later")
    later = "/missed https://news.example.org/later\nItaly sends SAMP/T to Kyiv\nA second one."
    answers["missed later"] = admin.ask(later)  # the headline for a link stored alone
    headline = "Norway to send NASAMS to Ukraine\nOslo will deliver two more systems."
    answers["missed headline"] = admin.ask(f"/missed {headline}")
    answers["missed empty"] = admin.ask("/missed")
    answers["help"] = admin.ask("/help")
    return answers


def test_wrong_and_missed_are_answered(corrected):
    _, _, answers, log = corrected
    assert (
        answers["wrong"]
        == (f"👎 Noted: {keyword_title(0)} is not an arms transfer story.")
        == answers["wrong again"]
    )
    assert answers["wrong in discussion"] == (
        f"👎 Noted: {seed_item()['title']} is not an arms transfer story."
    )
    assert answers["no reply"].startswith("Reply /wrong to the alert you mean")
    assert answers["not an alert"].startswith("That message is not an alert of mine.")
    assert answers["missed seen"] == (
        f"📌 Noted as a missed arms transfer story (an item I had read): {PARK}"
    )
    unseen = answers["missed unseen"]
    assert "https://news.example.org/never" in unseen and "cannot be trained on" in unseen
    assert answers["missed headline"] == (
        "📌 Noted as a missed arms transfer story: Norway to send NASAMS to Ukraine"
    )
    assert answers["missed empty"].startswith("Usage: /missed LINK")
    assert "/wrong as a reply to an alert" in answers["help"] and "/missed LINK" in answers["help"]
    assert f"event=command_ignored user={STRANGER}" in log
    assert answers["missed later"] == (
        "📌 Noted as a missed arms transfer story: Italy sends SAMP/T to Kyiv"
    )
    assert log.count("event=label_stored") == 8


def test_the_labels_are_in_the_database(corrected):
    _, db, _, _ = corrected
    labels = stored_labels(db)
    found = [(x["kind"], x["label"], x["title"], x["link"]) for x in labels]
    assert found == [
        ("wrong", 0, keyword_title(0), ""),
        ("wrong", 0, seed_item()["title"], seed_item()["link"]),
        ("missed", 1, PARK, PARK_LINK),
        ("missed", 1, "", "https://news.example.org/never"),
        ("missed", 1, "Italy sends SAMP/T to Kyiv", "https://news.example.org/later"),
        ("missed", 1, "Norway to send NASAMS to Ukraine", ""),
    ]
    summaries = [x["summary"] for x in labels]
    assert summaries[0] == summaries[3] == "" and summaries[2] == "Trees."
    assert summaries[1].startswith("Russia is planning to buy short-range ballistic missiles")
    assert summaries[4:] == ["A second one.", "Oslo will deliver two more systems."]
    assert [x["item_id"] is None for x in labels] == [False] * 3 + [True] * 3
    assert {(x["user_id"], x["username"]) for x in labels} == {(ADMIN, "ann")}
    assert [x["chat_id"] for x in labels] == [str(-1001234567890), str(DISCUSSION)] + [
        str(-1001234567890)
    ] * 4
    assert all(abs(x["created_at"] - time.time()) < 120 for x in labels)


def test_train_with_feedback_adds_the_stored_labels_that_have_a_title(corrected, tmp_path):
    config, _, _, _ = corrected
    out = tmp_path / "model.json"
    args = ["--config", str(config), "train", "--data", str(SAMPLE), "--out", str(out)]
    plain = run_bot(*args)
    fed = run_bot(*args, "--with-feedback")
    assert plain.returncode == fed.returncode == 0, plain.stderr + fed.stderr
    assert "stored labels" not in plain.stderr
    assert "stored labels: 5 used, 1 skipped (no title: a /missed link never seen)" in fed.stderr
    assert "trained on 205 items" in fed.stderr and "trained on 200 items" in plain.stderr
    about = json.loads(out.read_text())["about"]
    assert (about["items"], about["feedback"]) == (205, 5)


def test_eval_shows_what_a_retrained_model_would_change(corrected):
    config, db, _, _ = corrected
    before = db.read_bytes(), MODEL_FILE.read_bytes()
    done = run_bot("--config", str(config), "eval", "--with-feedback", "--data", str(SAMPLE))
    print(done.stdout, done.stderr)  # shown when the test fails
    assert done.returncode == 0, done.stderr
    assert "stored labels: 5 used, 1 skipped" in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("candidate: trained on 205 items, 5 of them stored labels (")
    stored = next(line for line in lines if line.startswith("stored items (3): "))
    labelled = next(line for line in lines if line.startswith("labelled news (200): "))
    assert re.fullmatch(r"stored items \(3\): \d+ newly alerted, \d+ newly dropped", stored)
    assert re.fullmatch(r"labelled news \(200\): \d+ newly alerted, \d+ newly dropped", labelled)
    assert re.fullmatch(
        r"stored labels \(5 with a title\): shipped model right on [0-5], candidate right on "
        r"[0-5] \(the candidate was trained on them\)",
        lines[-1],
    )
    changed = [line for line in lines if line.startswith(("  + ", "  - "))]
    counts = [int(n) for line in (stored, labelled) for n in re.findall(r"(\d+) newly", line)]
    assert len(changed) == sum(counts)  # every change listed with its title (under --show)
    assert (db.read_bytes(), MODEL_FILE.read_bytes()) == before  # no model written


@pytest.mark.parametrize(
    "text,read",
    [
        ("", ("", "", "")),
        ("https://x.org/a?utm_source=rss", ("https://x.org/a", "", "")),
        ("https://x.org/a\nNorway sends NASAMS\nTwo more.\nSoon.",
         ("https://x.org/a", "Norway sends NASAMS", "Two more.\nSoon.")),
        ("https://x.org/a Norway sends NASAMS\nTwo more.",
         ("https://x.org/a", "Norway sends NASAMS", "Two more.")),
        ("Norway  sends NASAMS \n Two more.", ("", "Norway sends NASAMS", "Two more.")),
        ("ftp://x.org/a", ("", "ftp://x.org/a", "")),  # not a link we read: a headline
    ],
)  # fmt: skip
def test_read_missed(text, read):
    assert read_missed(text) == read


def test_eval_without_feedback_trains_on_the_labelled_news_alone(corrected):
    config, _, _, _ = corrected
    done = run_bot("--config", str(config), "eval", "--data", str(SAMPLE), "--show", "0")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("candidate: trained on 200 items (")
    listed = [line for line in lines if line.startswith(("  + ", "  - "))]
    assert all(re.fullmatch(r"  [+-] … and \d+ more", line) for line in listed)  # --show 0
    assert re.fullmatch(
        r"stored labels \(5 with a title\): shipped model right on [0-5], candidate right on "
        r"[0-5]",
        lines[-1],
    )
