"""The daemon under faults, caused for real: kill -9 loops, SIGTERM mid-cycle, floods, reloads."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

import bot
from tests.helpers import (
    CHAT,
    TOKEN_ENV,
    boring,
    keyword_items,
    keyword_title,
    rss,
    run_bot,
    seed_item,
    start_run,
    wait_for,
    write_config,
)
from tests.servers import Fault

ROOT = Path(__file__).resolve().parent.parent
KILLS = 20


def fast_config(path: Path, feeds, api_url: str, extra: str = "", fetch: str = "") -> Path:
    config = write_config(path, feeds, api_url, extra=extra, interval="1s", fetch=fetch)
    config.write_text(config.read_text().replace("[telegram]\n", "[telegram]\nper_minute = 6000\n"))
    return config


def test_kill_9_loop_loses_nothing_and_repeats_at_most_the_in_flight_alert(
    tmp_path, feed_server, bot_api, bot_token
):
    rng = random.Random(7)
    feed_server.delay("/f.xml", 0.1)  # kills also land during fetches
    config = fast_config(tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))], bot_api.base_url)
    posted = 0
    for _ in range(KILLS):
        posted += 3
        feed_server.set("/f.xml", rss(keyword_items(posted)))
        bot_api.queue_errors(Fault.slow(0.3), method="sendMessage")  # and during sends
        daemon = start_run(config, bot_token)
        time.sleep(rng.uniform(0.4, 1.6))
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=10)
    daemon = start_run(config, bot_token)
    try:
        delivered = lambda: {m.plain.split("\n")[0] for m in bot_api.messages}  # noqa: E731
        assert wait_for(lambda: len(delivered()) == posted, timeout=60)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
    counts = Counter(m.plain.split("\n")[0] for m in bot_api.messages)
    assert len(counts) == posted  # nothing lost
    duplicates = sum(counts.values()) - posted
    print(f"kill -9 loop: kills={KILLS} alerts={posted} lost=0 duplicates={duplicates}")
    assert duplicates <= KILLS  # at most the in-flight alert, per kill
    with sqlite3.connect(tmp_path / "state.db") as db:
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)
        assert db.execute("select count(*) from outbox where status != 'sent'").fetchone() == (0,)


def stored_states(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("select name, status from feeds").fetchall())


def test_kill_9_before_deferred_states_are_written_only_means_a_re_poll(
    tmp_path, feed_server, bot_api, bot_token, monkeypatch
):
    feed_server.set("/f.xml", rss(keyword_items(2)))
    config = fast_config(tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))], bot_api.base_url)
    daemon = start_run(config, bot_token)
    try:
        assert wait_for(lambda: len(bot_api.messages) == 2, timeout=20)
        feed_server.set("/f.xml", rss(keyword_items(2)[::-1]))  # new bytes, no new item
        hits = feed_server.hits("/f.xml")
        assert wait_for(lambda: feed_server.hits("/f.xml") >= hits + 2, timeout=10)
    finally:
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=10)
    # Killed before the daemon's first flush (5 s): the file has the first poll's state.
    with sqlite3.connect(tmp_path / "state.db") as db:
        first = db.execute("select status, body_hash, last_poll from feeds").fetchone()
    assert first[0] == "ok"
    monkeypatch.setenv(TOKEN_ENV, bot_token)
    assert bot.main(["--config", str(config), "once"]) == 0  # reads the feed again
    assert len(bot_api.messages) == 2  # and alerts nothing twice
    with sqlite3.connect(tmp_path / "state.db") as db:
        after = db.execute("select status, body_hash, last_poll from feeds").fetchone()
    assert after[0] == "ok" and after[1] != first[1] and after[2] > first[2]


def test_sigterm_writes_the_deferred_feed_states(tmp_path, feed_server, bot_api, bot_token):
    feed_server.set("/f.xml", rss(boring(2)))
    config = fast_config(tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))], bot_api.base_url)
    daemon = start_run(config, bot_token)
    try:
        assert wait_for(lambda: feed_server.hits("/f.xml") >= 3, timeout=10)  # stored, then 304s
    finally:
        daemon.send_signal(signal.SIGTERM)  # before the daemon's first flush (5 s)
        assert daemon.wait(timeout=10) == 0
    assert stored_states(tmp_path / "state.db") == {"F": "not_modified"}


def test_once_stopped_by_sigterm_writes_the_states_it_polled(
    tmp_path, feed_server, bot_api, bot_token, monkeypatch
):
    feed_server.set("/a.xml", rss(boring(2)))
    feed_server.set("/b.xml", rss(keyword_items(1)))
    feeds = [("A", feed_server.url("/a.xml")), ("B", feed_server.url("/b.xml"))]
    config = fast_config(tmp_path / "c.toml", feeds, bot_api.base_url)
    monkeypatch.setenv(TOKEN_ENV, bot_token)
    assert bot.main(["--config", str(config), "once"]) == 0
    feed_server.delay("/b.xml", 30.0)
    cycle = subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), "--config", str(config), "once"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: feed_server.hits("/b.xml") == 2, timeout=15)
        assert wait_for(lambda: feed_server.hits("/a.xml") == 2, timeout=5)
        time.sleep(0.5)  # A's 304 is read; B's poll is still waiting
    finally:
        cycle.send_signal(signal.SIGTERM)
        code = cycle.wait(timeout=10)
    assert code == 128 + signal.SIGTERM
    assert "Traceback" not in cycle.stderr.read()
    assert stored_states(tmp_path / "state.db") == {"A": "not_modified", "B": "ok"}


def test_sigterm_during_a_busy_cycle_exits_quickly(tmp_path, feed_server, bot_api, bot_token):
    feeds = []
    for number in range(40):
        feed_server.set(f"/f{number}.xml", rss(boring(20)))
        feed_server.delay(f"/f{number}.xml", 3.0)
        feeds.append((f"F{number}", feed_server.url(f"/f{number}.xml")))
    feed_server.set("/seed.xml", rss([seed_item()]))
    feeds.append(("Seed", feed_server.url("/seed.xml")))
    # one test server stands for 41 sites: all 40 slow polls in flight at once
    config = fast_config(tmp_path / "c.toml", feeds, bot_api.base_url, fetch="per_host = 50")
    daemon = start_run(config, bot_token)
    try:
        assert wait_for(lambda: len(bot_api.messages) == 1, timeout=20)
        assert wait_for(lambda: feed_server.hits("/f0.xml") >= 1, timeout=10)
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
        assert time.monotonic() - started < 3
    finally:
        if daemon.poll() is None:  # a failed assertion must not leave the daemon running
            daemon.kill()
            daemon.wait()
    with sqlite3.connect(tmp_path / "state.db") as db:
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)


def test_pacing_holds_across_a_restart_with_a_full_outbox(
    tmp_path, feed_server, bot_api, monkeypatch, bot_token
):
    # Telegram's limit is 20 a minute per channel; scaled to 5 so the test stays short.
    monkeypatch.setenv(TOKEN_ENV, bot_token)
    bot_api.flood_limit(per_minute=5)
    feed_server.set("/f.xml", rss(keyword_items(12)))
    config = write_config(tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))], bot_api.base_url)
    config.write_text(config.read_text().replace("[telegram]\n", "[telegram]\nper_minute = 5\n"))
    assert bot.main(["--config", str(config), "once", "--wait", "2.5"]) == bot.EXIT_QUEUED
    assert len(bot_api.messages) == 3  # one a second
    assert bot.main(["--config", str(config), "once", "--wait", "4"]) == bot.EXIT_QUEUED
    assert len(bot_api.messages) == 5  # the restart remembered the minute's sends
    assert all(c.status != 429 for c in bot_api.calls)


def test_removed_feed_stops_being_polled_and_new_one_starts_with_backfill(
    tmp_path, feed_server, bot_api, bot_token
):
    feed_server.set("/a.xml", rss(boring(2)))
    feed_server.set("/b.xml", rss([dict(seed_item(), age=3 * 24 * 60), *keyword_items(1)]))
    path = tmp_path / "c.toml"
    fast_config(path, [("A", feed_server.url("/a.xml"))], bot_api.base_url)
    daemon = start_run(path, bot_token)
    try:
        assert wait_for(lambda: feed_server.hits("/a.xml") >= 2, timeout=15)
        fast_config(path, [("B", feed_server.url("/b.xml"))], bot_api.base_url)
        assert wait_for(lambda: len(bot_api.messages) == 1, timeout=15)
        hits_after = feed_server.hits("/a.xml")
        time.sleep(2.5)
        assert feed_server.hits("/a.xml") <= hits_after + 1  # at most one poll in flight
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
    (message,) = bot_api.messages_for(CHAT)
    assert "armswatch-test-keyword" in message.plain  # the 3-day-old seed was backfilled


def test_telegram_down_for_a_while_delays_alerts_in_order_exactly_once(
    tmp_path, feed_server, bot_api, bot_token
):
    config = fast_config(tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))], bot_api.base_url)
    feed_server.set("/f.xml", rss(keyword_items(3)))
    bot_api.stop()  # connection refused
    daemon = start_run(config, bot_token)
    try:
        time.sleep(2.0)
        feed_server.set("/f.xml", rss(keyword_items(6)))  # more news while Telegram is down
        time.sleep(1.5)
        bot_api.start()
        bot_api.queue_errors(502, method="sendMessage")  # then one 502 Bad Gateway
        assert wait_for(lambda: len({m.plain for m in bot_api.messages}) == 6, timeout=40)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
    titles = [m.plain.split("\n")[0] for m in bot_api.messages]
    unique = list(dict.fromkeys(titles))
    assert unique == [f"🚨 {keyword_title(i)}" for i in range(6)]  # in order
    assert len(titles) == len(unique)  # exactly once


@pytest.mark.parametrize(
    "edit,reason",
    [
        (lambda t: t + "\n[[feeds]\n", "invalid TOML"),
        (
            lambda t: t.replace('name = "keyword"', 'name = "keyword"\nentities = ["Atlantis"]'),
            "unknown entity 'Atlantis'",
        ),
        (lambda t: t.replace("[schedule]", "[schedule]\nintervall = 5"), "'intervall'"),
    ],
    ids=["syntax", "rule", "key"],
)
def test_invalid_config_edit_is_rejected_and_the_running_config_stays(
    tmp_path, feed_server, bot_api, bot_token, edit, reason
):
    feed_server.set("/f.xml", rss(keyword_items(1)))
    path = tmp_path / "c.toml"
    fast_config(path, [("F", feed_server.url("/f.xml"))], bot_api.base_url)
    good = path.read_text()
    daemon = start_run(path, bot_token)
    try:
        assert wait_for(lambda: len(bot_api.messages) == 1, timeout=15)
        path.write_text(edit(good))
        time.sleep(1.0)
        feed_server.set("/f.xml", rss(keyword_items(2)))  # the old config still polls
        assert wait_for(lambda: len(bot_api.messages) == 2, timeout=15)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
    log = daemon.stderr.read()
    assert "event=config_rejected" in log and reason in log


def test_database_path_that_cannot_be_made_is_a_clear_error(tmp_path, feed_server):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    config = write_config(tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))])
    config.write_text(config.read_text().replace('path = "state.db"', 'path = "blocker/s.db"'))
    done = run_bot("--config", str(config), "once")
    assert done.returncode == 1
    assert "blocker/s.db: cannot open the database for writing" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["once", "run"])
def test_locked_database_is_a_clear_error_and_exit_1(tmp_path, feed_server, command):
    feed_server.set("/f.xml", rss(boring(1)))
    config = write_config(tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))])
    sqlite3.connect(tmp_path / "state.db").close()
    holder = sqlite3.connect(tmp_path / "state.db")
    holder.execute("pragma journal_mode = wal")
    holder.execute("begin exclusive")
    try:
        done = run_bot("--config", str(config), command)
    finally:
        holder.rollback()
        holder.close()
    assert done.returncode == 1
    assert "state.db: cannot open the database for writing" in done.stderr
    assert "Traceback" not in done.stderr


def long_items(count: int) -> list[dict]:
    """Alerting entries whose summaries need pages a full database does not have."""
    return [
        {"guid": f"long{n}", "title": f"{keyword_title(100 + n)} long", "summary": "x" * 2900}
        for n in range(count)
    ]


def healthz(port: int) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.read().decode()


def test_a_full_database_keeps_the_daemon_running_and_it_catches_up_once_there_is_room(
    tmp_path, feed_server, bot_api, bot_token, monkeypatch, free_port
):
    admin = "@armswatch_admins"
    bot_api.add_chat(-100555, admin[1:])
    feeds = [("F", feed_server.url("/f.xml"))]
    path = tmp_path / "c.toml"

    def configure(max_bytes: str) -> None:
        fast_config(
            path, feeds, bot_api.base_url, f'\n[metrics]\nlisten = "127.0.0.1:{free_port}"\n'
        )
        text = path.read_text().replace("[telegram]\n", f'[telegram]\nadmin_chat_id = "{admin}"\n')
        path.write_text(text.replace('path = "state.db"\n', f'path = "state.db"\n{max_bytes}'))

    # Two alerts wait in the outbox (Telegram was down), then the database fills up: the
    # limit is its size now, and six new items need room it does not have.
    feed_server.set("/f.xml", rss(keyword_items(2)))
    configure("")
    monkeypatch.setenv(TOKEN_ENV, bot_token)
    bot_api.stop()
    assert bot.main(["--config", str(path), "once", "--wait", "0"]) == bot.EXIT_QUEUED
    bot_api.start()
    feed_server.set("/f.xml", rss([*keyword_items(2), *long_items(6)]))
    configure("max_bytes = 1\n")
    daemon = start_run(path, bot_token)
    try:
        told = lambda text: [m for m in bot_api.messages_for(admin) if text in m.plain]  # noqa: E731
        assert wait_for(lambda: told("cannot write its database"), timeout=20)
        assert "state.db: record_items failed: database or disk is full" in told("cannot")[0].plain
        status, body = healthz(free_port)
        assert status == 503 and "database or disk is full" in body
        # the queued alerts still go out: the store can record their sending
        assert wait_for(lambda: len(bot_api.messages_for(CHAT)) == 2, timeout=20)
        assert daemon.poll() is None
        configure("")  # room again: the daemon reloads the config
        assert wait_for(lambda: len(bot_api.messages_for(CHAT)) == 8, timeout=20)
        assert wait_for(lambda: told("writes its database again"), timeout=20)
        assert healthz(free_port)[0] == 200
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=10)
    log = daemon.stderr.read()
    assert code == 0, log[-3000:]
    assert log.count("event=store_failing") == 1 and log.count("event=store_recovered") == 1
    titles = Counter(m.plain.split("\n")[0] for m in bot_api.messages_for(CHAT))
    expected = [keyword_title(n) for n in range(2)] + [
        f"{keyword_title(100 + n)} long" for n in range(6)
    ]
    assert sorted(titles) == sorted(f"🚨 {t}" for t in expected)  # none lost
    assert set(titles.values()) == {1}  # none twice
    assert len(bot_api.messages_for(admin)) == 2  # told once each way
