"""The whole path for real: feed server -> bot.py once/run -> fake Bot API, on SQLite files."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

import bot
from tests.helpers import (
    CHAT,
    TOKEN_ENV,
    boring,
    keyword_title,
    rss,
    run_bot,
    seed_item,
    start_run,
    wait_for,
    write_config,
)
from watchers.store.sqlite import open_store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def token_env(monkeypatch, bot_token):
    monkeypatch.setenv(TOKEN_ENV, bot_token)
    return bot_token


def once(config: Path, *args: str) -> int:
    return bot.main(["--config", str(config), "once", *args])


def feed_states(config: Path) -> dict:
    store = open_store(config.parent / "state.db")
    try:
        return {s.name: s for s in store.feed_states()}
    finally:
        store.close()


def test_seed_article_becomes_one_alert_and_only_once(tmp_path, feed_server, bot_api, token_env):
    seed = seed_item()
    feed_server.set("/news.xml", rss([seed, *boring(5)]))
    config = write_config(
        tmp_path / "c.toml", [("News", feed_server.url("/news.xml"))], bot_api.base_url
    )
    assert once(config) == 0
    (message,) = bot_api.messages_for(CHAT)
    assert "🇮🇷 Iran → 🇷🇺 Russia" in message.plain and "ballistic missiles" in message.plain
    assert f'href="{seed["link"]}"' in message.text
    assert "iran-to-russia" in message.plain
    assert once(config) == 0
    assert len(bot_api.messages) == 1


def test_html_in_titles_arrives_intact(tmp_path, feed_server, bot_api, token_env):
    title = 'Tom & Jerry <b>say</b> "hello" armswatch-test-keyword <3'
    feed_server.set("/f.xml", rss([{"guid": "x1", "title": title, "link": "https://x.org/a"}]))
    config = write_config(tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))], bot_api.base_url)
    assert once(config) == 0
    (message,) = bot_api.messages
    assert title in message.plain


def test_not_modified_and_identical_body_skip_parsing(tmp_path, feed_server, bot_api, token_env):
    feed_server.set("/a.xml", rss(boring(3)))
    feed_server.set("/b.xml", rss(boring(3)), headers={"ETag": None, "Last-Modified": None})
    config = write_config(
        tmp_path / "c.toml",
        [("A", feed_server.url("/a.xml")), ("B", feed_server.url("/b.xml"))],
        bot_api.base_url,
    )
    assert once(config) == 0
    assert once(config) == 0
    states = feed_states(config)
    assert states["A"].status == "not_modified"
    assert states["B"].status == "unchanged"
    conditional = [r for r in feed_server.requests if r.path == "/a.xml"][-1]
    assert conditional.headers.get("if-none-match")


def test_broken_feeds_do_not_stop_the_others(tmp_path, feed_server, bot_api, token_env, free_port):
    feed_server.set("/good.xml", rss([seed_item()]))
    feed_server.set("/html.xml", b"<html><body>Not a feed</body></html>", "text/html")
    feed_server.fail("/down.xml", 503, headers={"Retry-After": "120"})
    feeds = [
        ("Refused", f"http://127.0.0.1:{free_port}/feed.xml"),
        ("Html", feed_server.url("/html.xml")),
        ("Down", feed_server.url("/down.xml")),
        ("Good", feed_server.url("/good.xml")),
    ]
    config = write_config(tmp_path / "c.toml", feeds, bot_api.base_url)
    assert once(config) == 0
    assert len(bot_api.messages) == 1
    states = feed_states(config)
    assert states["Good"].status == "ok"
    assert {states[n].status for n in ("Refused", "Html", "Down")} == {"error"}
    assert states["Down"].next_poll - states["Down"].last_poll >= 120


def test_feed_failure_is_logged_once_per_state_change(tmp_path, feed_server, capsys):
    feed_server.set("/f.xml", rss(boring(1)))
    feed_server.fail("/f.xml", 500)
    config = write_config(tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))])
    for _ in range(3):
        once(config)
    feed_server.clear("/f.xml")
    once(config)
    err = capsys.readouterr().err
    assert err.count("event=feed_failed feed=F") == 1
    assert err.count("event=feed_recovered feed=F") == 1
    assert feed_states(config)["F"].status == "ok"


def test_same_plain_guid_on_two_sites_is_two_items(tmp_path, feed_server, bot_api, token_env):
    other = f"http://localhost:{feed_server.port}/b.xml"  # another host name
    feed_server.set("/a.xml", rss([{"guid": "1", "title": keyword_title(1)}]))
    feed_server.set("/b.xml", rss([{"guid": "1", "title": keyword_title(2)}]))
    config = write_config(
        tmp_path / "c.toml", [("A", feed_server.url("/a.xml")), ("B", other)], bot_api.base_url
    )
    assert once(config) == 0
    assert sorted(m.plain.split("\n")[0][2:] for m in bot_api.messages) == [
        keyword_title(1),
        keyword_title(2),
    ]
    assert once(config) == 0
    assert len(bot_api.messages) == 2


def test_permanent_redirect_is_followed_from_then_on(tmp_path, feed_server, token_env, bot_api):
    feed_server.set("/new.xml", rss([seed_item()]))
    feed_server.redirect("/old.xml", "/new.xml", 301)
    config = write_config(
        tmp_path / "c.toml", [("F", feed_server.url("/old.xml"))], bot_api.base_url
    )
    assert once(config) == 0
    assert feed_states(config)["F"].moved_to == feed_server.url("/new.xml")
    assert once(config) == 0
    assert feed_server.hits("/old.xml") == 1 and feed_server.hits("/new.xml") == 2
    assert len(bot_api.messages) == 1


def test_a_feed_that_keeps_failing_is_reported_to_the_admin_chat(
    tmp_path, feed_server, bot_api, token_env
):
    bot_api.add_chat(-100555, "armswatch_admins")
    feed_server.set("/f.xml", rss(boring(1)))
    feed_server.fail("/f.xml", 500)
    config = write_config(tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))], bot_api.base_url)
    text = (
        config.read_text()
        .replace("[telegram]\n", '[telegram]\nadmin_chat_id = "@armswatch_admins"\n')
        .replace("[fetch]\n", "[fetch]\nreport_after = 2\n")
    )
    config.write_text(text)
    for _ in range(4):
        assert once(config) == 0
    (report,) = bot_api.messages_for("@armswatch_admins")
    assert "Feed F failed 2 times in a row: HTTP 500" in report.plain
    feed_server.clear("/f.xml")
    for _ in range(3):
        assert once(config) == 0
    notices = [m.plain for m in bot_api.messages_for("@armswatch_admins")]
    assert len(notices) == 2 and "Feed F works again" in notices[1]  # told once, not per poll
    assert bot_api.messages_for(CHAT) == []


def test_telegram_down_keeps_alerts_queued_then_delivers_once(
    tmp_path, feed_server, bot_api, token_env, capsys
):
    feed_server.set("/f.xml", rss([seed_item()]))
    config = write_config(tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))], bot_api.base_url)
    bot_api.stop()
    started = time.monotonic()
    assert once(config, "--wait", "3") == bot.EXIT_QUEUED
    assert time.monotonic() - started < 10  # bounded retries: gives up after --wait
    assert "1 queued" in capsys.readouterr().err
    bot_api.start()
    assert once(config) == 0
    assert once(config) == 0
    assert len(bot_api.messages) == 1


def test_flood_wait_is_honoured(tmp_path, feed_server, bot_api, token_env):
    from tests.servers import Fault

    feed_server.set("/f.xml", rss([seed_item()]))
    config = write_config(tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))], bot_api.base_url)
    bot_api.queue_errors(Fault.flood(2), method="sendMessage")
    started = time.monotonic()
    assert once(config) == 0
    assert time.monotonic() - started >= 2.0
    sends = [c for c in bot_api.calls if c.method.lower() == "sendmessage"]
    assert [c.status for c in sends] == [429, 200]
    assert len(bot_api.messages) == 1


def test_no_token_prints_alerts(tmp_path, feed_server, monkeypatch, capsys):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    feed_server.set("/f.xml", rss([seed_item()]))
    config = write_config(tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))])
    assert once(config) == 0
    out = capsys.readouterr().out
    assert "--- alert for @armswatch_test ---" in out
    assert "🇮🇷 Iran → 🇷🇺 Russia" in out and seed_item()["title"] in out


def test_old_items_on_first_poll_are_recorded_not_alerted(
    tmp_path, feed_server, bot_api, token_env
):
    old = dict(seed_item(), age=3 * 24 * 60)
    feed_server.set("/f.xml", rss([old]))
    config = write_config(tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))], bot_api.base_url)
    assert once(config) == 0
    assert bot_api.messages == []
    assert feed_states(config)["F"].items_total == 1


def test_run_delivers_reloads_config_and_stops_on_sigterm(
    tmp_path, feed_server, bot_api, bot_token
):
    feed_server.set("/a.xml", rss([seed_item()]))
    feed_server.set("/b.xml", rss([{"guid": "b1", "title": "armswatch-test-keyword here"}]))
    path = tmp_path / "c.toml"
    config = write_config(path, [("A", feed_server.url("/a.xml"))], bot_api.base_url, interval="1h")
    daemon = start_run(config, bot_token)
    try:
        assert wait_for(lambda: len(bot_api.messages) == 1)
        good_text = path.read_text()
        path.write_text(good_text.replace('interval = "1h"', 'intervall = "1h"'))
        time.sleep(1.5)
        write_config(
            path,
            [("A", feed_server.url("/a.xml")), ("B", feed_server.url("/b.xml"))],
            bot_api.base_url,
            interval="1h",
        )
        assert wait_for(lambda: len(bot_api.messages) == 2)
        assert "armswatch-test-keyword" in bot_api.messages[1].plain
        daemon.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if daemon.poll() is None:
            daemon.kill()
    log = daemon.stderr.read()
    assert "event=config_rejected" in log and "'intervall'" in log
    assert "event=config_reloaded feeds=2" in log
    assert "event=reload_requested reason=SIGHUP" in log
    assert bot_token not in log


@pytest.mark.parametrize(
    "text,message",
    [
        ("[[feeds]]\nname = 'A'\nurl = 'ftp://x.org/f'\n", "c.toml line 3: [feeds] url"),
        ("[schedule]\ninterval = 'soon'\n", "c.toml line 2: [schedule] interval"),
        ("[[rules]]\nname = 'r'\nentities = ['Atlantis']\n", "unknown entity 'Atlantis'"),
    ],
)
def test_check_names_the_fault_without_traceback(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    done = run_bot("--config", str(path), "check")
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr
