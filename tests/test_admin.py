"""Admin commands end to end: `bot.py run` answers /commands from getUpdates, admins only."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.helpers import (
    CHAT,
    keyword_items,
    keyword_title,
    rss,
    seed_item,
    start_run,
)
from tests.helpers import write_config as _write_config
from watchers.answers import describe_rule, split_message
from watchers.config.load import parse_config
from watchers.errors import ConfigError
from watchers.models import RuleSpec

ROOT = Path(__file__).resolve().parent.parent
ADMIN, STRANGER = 4242, 999


def wait_for(condition, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def write_config(path: Path, feeds, api_url: str) -> Path:
    config = _write_config(path, feeds, api_url, interval="1s")
    text = config.read_text().replace(
        "[telegram]\n", f"[telegram]\nper_minute = 6000\nadmins = [{ADMIN}]\n"
    )
    config.write_text(text)
    return config


class Admin:
    """Sends commands as a user and waits for the bot's answers in that user's chat."""

    def __init__(self, bot_api, user: int = ADMIN):
        self.api, self.user = bot_api, user
        bot_api.add_chat(user)

    def ask(self, text: str) -> str:
        """The plain text of the answer to a command."""
        before = len(self.api.messages_for(self.user))
        self.api.push_message(text, chat_id=self.user, user_id=self.user)
        answers = wait_for(lambda: self.api.messages_for(self.user)[before:])
        return "\n".join(m.plain for m in answers)


def edited(text: str, user: int) -> dict:
    """An edited private message: not a new command."""
    return {
        "message_id": 1,
        "date": int(time.time()) - 5,
        "edit_date": int(time.time()),
        "chat": {"id": user, "type": "private", "first_name": "Tester"},
        "from": {"id": user, "is_bot": False, "first_name": "Tester"},
        "text": text,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
    }


def item_ids(db_path: Path) -> set[str]:
    try:
        with sqlite3.connect(db_path) as db:
            return {row[0] for row in db.execute("select id from items")}
    except sqlite3.OperationalError:  # not made yet
        return set()


def outbox_items(db_path: Path) -> set[str]:
    with sqlite3.connect(db_path) as db:
        return {row[0] for row in db.execute("select item_id from outbox")}


def test_admin_commands_end_to_end(tmp_path, feed_server, bot_api, bot_token):
    feed_server.set("/f.xml", rss([seed_item(), *keyword_items(1)]))
    feeds = [("Kyiv <Post> & co", feed_server.url("/f.xml"))]
    config = write_config(tmp_path / "c.toml", feeds, bot_api.base_url)
    admin, stranger = Admin(bot_api), Admin(bot_api, STRANGER)
    daemon = start_run(config, bot_token)
    try:
        wait_for(lambda: len(bot_api.messages_for(CHAT)) == 2, timeout=20)

        stranger.api.push_message("/status", chat_id=STRANGER, user_id=STRANGER)
        bot_api.push_update({"edited_message": edited("/status", ADMIN)})
        help_text = admin.ask("/help")  # answered after the stranger's and the edit's updates
        assert help_text.startswith("armswatch commands") and "/mute RULE DURATION" in help_text
        assert bot_api.messages_for(STRANGER) == []

        status = admin.ask("/status")
        assert "Feeds: 1 ok, 0 failing, 0 not polled yet" in status
        assert "Outbox: 0 queued" in status and "Alerts sent today: 2" in status
        assert "Last poll: 20" in status and "ago)" in status

        recent = admin.ask("/recent")
        assert "Last 2 alerts" in recent and keyword_title(0) in recent
        assert "Russia moves ahead with plan" in recent and "Kyiv <Post> & co" in recent
        (answer,) = bot_api.messages_for(ADMIN)[-1:]
        links = [e["url"] for e in answer.entities if e["type"] == "text_link"]
        assert seed_item()["link"] in links

        feeds_answer = admin.ask("/feeds")
        assert "1 feeds" in feeds_answer and "✅ Kyiv <Post> & co ok" in feeds_answer

        rules = admin.ask("/rules")
        assert "‼️ iran-to-russia: detector arms_transfer score ≥ 0.5; supplier: Iran" in rules
        assert "🚨 keyword: any of: armswatch-test-keyword" in rules

        explain = admin.ask("/explain Iran will supply ballistic missiles to Russia <&>")
        assert "alert: yes" in explain and "rule arms-transfer" in explain
        assert "supplier=['Iran'] recipient=['Russia']" in explain
        assert "rule keyword: did not fire" in explain

        assert "No rule named nosuch" in admin.ask("/mute nosuch 1h")
        assert "Usage: /mute RULE DURATION" in admin.ask("/mute keyword soon")
        assert "Rule keyword muted for 1h, until" in admin.ask("/mute keyword 1h")
        assert "🔇 keyword muted until" in admin.ask("/status")
        assert "muted until" in admin.ask("/rules")

        sent = len(bot_api.messages_for(CHAT))
        feed_server.set("/f.xml", rss([seed_item(), *keyword_items(2)]))
        db = tmp_path / "state.db"
        wait_for(lambda: any(i.endswith("k1") for i in item_ids(db)))  # seen while muted
        time.sleep(0.5)
        assert not any(i.endswith("k1") for i in outbox_items(db))
        assert len(bot_api.messages_for(CHAT)) == sent

        assert "Rule keyword unmuted" in admin.ask("/unmute keyword")
        assert "was not muted" in admin.ask("/unmute keyword")
        feed_server.set("/f.xml", rss([seed_item(), *keyword_items(3)]))
        wait_for(lambda: len(bot_api.messages_for(CHAT)) == sent + 1)
        assert keyword_title(2) in bot_api.messages_for(CHAT)[-1].plain
        assert keyword_title(1) not in "\n".join(m.plain for m in bot_api.messages_for(CHAT))
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=10)
        log = daemon.stderr.read()
        print(log)  # shown when the test fails
    assert code == 0
    assert f"event=command_ignored user={STRANGER}" in log
    assert "event=rule_muted rule=keyword for=3600s by=4242" in log
    assert "Traceback" not in log and bot_token not in log
    assert bot_api.messages_for(STRANGER) == []


def test_commands_work_once_telegram_is_back_after_being_down_at_start(
    tmp_path, feed_server, bot_api, bot_token
):
    feed_server.set("/f.xml", rss(keyword_items(1)))
    config = write_config(tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))], bot_api.base_url)
    admin = Admin(bot_api)
    bot_api.stop()  # connection refused: getMe fails, the daemon goes on polling feeds
    daemon = start_run(config, bot_token)
    try:
        wait_for(lambda: item_ids(tmp_path / "state.db"), timeout=20)
        bot_api.start()
        assert "Feeds: 1 ok, 0 failing" in admin.ask("/status")
        wait_for(lambda: bot_api.messages_for(CHAT), timeout=15)  # the alert was retried
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=10)
        log = daemon.stderr.read()
        print(log)  # shown when the test fails
    assert code == 0
    assert "event=admin_start_failed retry_in=2s" in log and "event=admin_started" in log
    assert bot_token not in log


def test_no_admins_means_no_polling_for_updates(tmp_path, feed_server, bot_api, bot_token):
    feed_server.set("/f.xml", rss(keyword_items(1)))
    config = _write_config(
        tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))], bot_api.base_url
    )
    daemon = start_run(config, bot_token)
    try:
        wait_for(lambda: len(bot_api.messages_for(CHAT)) == 1, timeout=20)
        bot_api.push_message("/status", chat_id=ADMIN, user_id=ADMIN)
        time.sleep(0.5)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
    assert not [c for c in bot_api.calls if c.method == "getUpdates"]


@pytest.mark.parametrize(
    "lines,limit,expected",
    [
        (["a", "b"], 10, ["a\nb"]),
        (["aaaa", "bbbb", "cc"], 9, ["aaaa\nbbbb", "cc"]),
        (["x" * 12, "y"], 10, ["x" * 12, "y"]),  # a long line is never cut
        (["🚨🚨", "ab"], 6, ["🚨🚨", "ab"]),  # counted in UTF-16 units, as Telegram does
        ([], 10, []),
    ],
)
def test_split_message(lines, limit, expected):
    assert split_message(lines, limit) == expected


@pytest.mark.parametrize(
    "spec,expected",
    [
        (
            RuleSpec("r", "", detector="arms_transfer", supplier=("Iran",), min_score=0.7),
            "detector arms_transfer score ≥ 0.7; supplier: Iran",
        ),
        (
            RuleSpec("r", "", all=("F-16",), any=("Kyiv", "Ukraine"), none=("crash",), within=30),
            "all of: F-16; any of: Kyiv, Ukraine; none of: crash; within 30 words",
        ),
        (
            RuleSpec("r", "", entities=("Iran", "drones"), within_sentence=True, chat_id="@x"),
            "mentions all of: Iran, drones; within one sentence; sent to @x",
        ),
    ],
)
def test_describe_rule(spec, expected):
    assert describe_rule(spec) == expected


@pytest.mark.parametrize(
    "value,admins",
    [("[4242]", (4242,)), ("[1, 2, 1]", (1, 2)), ("[]", ())],
)
def test_admins_key(value, admins):
    config = parse_config(f"[telegram]\nadmins = {value}\n", Path("c.toml"))
    assert config.telegram.admins == admins


@pytest.mark.parametrize("value", ['"4242"', "[-5]", '["@me"]', "[true]", "4242"])
def test_admins_key_rejects(value):
    with pytest.raises(ConfigError, match=r"c.toml line 2: \[telegram\] admins"):
        parse_config(f"[telegram]\nadmins = {value}\n", Path("c.toml"))
