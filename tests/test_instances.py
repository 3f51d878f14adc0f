"""Several `bot.py run` processes on one PostgreSQL database, for real: feed server ->
daemons -> fake Bot API. Each story is delivered once, a feed is polled once per interval
rather than once per instance, a killed instance's feeds are taken over, and the
database going away only delays things."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from tests.helpers import (
    CHAT,
    TOKEN_ENV,
    keyword_items,
    keyword_title,
    rss,
    start_run,
    wait_for,
    write_config,
)
from tests.stories.test_stories import POLAND

INTERVAL = 2.0
LEASE = 3.0


def pg_config(path: Path, url: str, feeds, api_url: str, extra: str = "") -> Path:
    """A test config on PostgreSQL: short interval and lease, no pacing to wait for."""
    config = write_config(path, feeds, api_url, interval=f"{INTERVAL:g}s", extra=extra)
    text = config.read_text().replace('path = "state.db"', f'url = "{url}"\nlease = "{LEASE:g}s"')
    config.write_text(text.replace("[telegram]\n", "[telegram]\nper_minute = 6000\n"))
    return config


def stop(*daemons: subprocess.Popen) -> list[str]:
    """SIGTERM each daemon still running; their logs."""
    for daemon in daemons:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
    logs = []
    for daemon in daemons:
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        logs.append(daemon.stderr.read())
    return logs


def headlines(bot_api) -> Counter:
    """How many times each headline was sent (without the alert's marker)."""
    return Counter(m.plain.split("\n")[0][2:] for m in bot_api.messages_for(CHAT))


def test_two_instances_deliver_each_story_once_and_poll_each_feed_once_per_interval(
    tmp_path, pg_url, feed_server, bot_api, bot_token
):
    feeds = []
    for n in range(4):
        items = [{"guid": f"f{n}-{k}", "title": keyword_title(10 * n + k)} for k in range(3)]
        feed_server.set(f"/f{n}.xml", rss(items))
        feeds.append((f"F{n}", feed_server.url(f"/f{n}.xml")))
    config = pg_config(tmp_path / "c.toml", pg_url, feeds, bot_api.base_url)
    daemons = [start_run(config, bot_token) for _ in range(2)]
    started = time.monotonic()
    try:
        assert wait_for(lambda: sum(headlines(bot_api).values()) >= 12, timeout=30)
        time.sleep(max(0.0, 8.0 - (time.monotonic() - started)))
    finally:
        logs = stop(*daemons)
    elapsed = time.monotonic() - started
    assert all(count == 1 for count in headlines(bot_api).values()), headlines(bot_api)
    assert len(headlines(bot_api)) == 12
    once_per_interval = elapsed / INTERVAL
    hits = [feed_server.hits(f"/f{n}.xml") for n in range(4)]
    print(f"two instances, {elapsed:.0f}s at {INTERVAL:g}s: polls per feed {hits}")
    assert all(once_per_interval - 3 <= h <= once_per_interval + 2 for h in hits), hits
    assert all("Traceback" not in log for log in logs), logs


def test_a_story_filed_by_one_instance_merges_reports_another_polls(
    tmp_path, pg_url, feed_server, bot_api, bot_token
):
    reports = [
        {"guid": f"p{n}", "title": t, "link": f"https://o{n}.org/a"} for n, t in enumerate(POLAND)
    ]
    feed_server.set("/a.xml", rss(reports[:1]))
    feed_server.set("/b.xml", rss([]))
    first = pg_config(
        tmp_path / "a.toml", pg_url, [("Outlet A", feed_server.url("/a.xml"))], bot_api.base_url
    )
    second = pg_config(
        tmp_path / "b.toml", pg_url, [("Outlet B", feed_server.url("/b.xml"))], bot_api.base_url
    )
    daemons = [start_run(first, bot_token), start_run(second, bot_token)]
    try:
        assert wait_for(lambda: len(bot_api.messages_for(CHAT)) == 1, timeout=20)
        feed_server.set("/b.xml", rss(reports[1:2]))  # the same story, on B's feed only
        assert wait_for(lambda: bot_api.messages_for(CHAT)[0].edit_date is not None, timeout=20)
    finally:
        stop(*daemons)
    (alert,) = bot_api.messages_for(CHAT)  # an edit of the first alert, not a second one
    assert "Also reported by: Outlet B" in alert.plain


def test_a_killed_instances_feeds_and_queue_are_taken_over_and_nothing_is_lost(
    tmp_path, pg_url, feed_server, bot_api, bot_token
):
    feeds = [(f"F{n}", feed_server.url(f"/f{n}.xml")) for n in range(6)]
    posted = []

    def post(round_: int) -> None:
        for n in range(6):
            items = [
                {"guid": f"r{r}-{n}", "title": keyword_title(100 * r + n)}
                for r in range(round_ + 1)
            ]
            feed_server.set(f"/f{n}.xml", rss(items))
        posted.extend(keyword_title(100 * round_ + n) for n in range(6))

    post(0)
    config = pg_config(tmp_path / "c.toml", pg_url, feeds, bot_api.base_url)
    killed = start_run(config, bot_token)
    survivor = None
    try:
        assert wait_for(lambda: len(headlines(bot_api)) == 6, timeout=30)  # all its feeds
        survivor = start_run(config, bot_token)
        post(1)
        time.sleep(INTERVAL * 0.6)  # some of round 1 polled, some queued, some not yet
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
        killed_at = time.monotonic()
        post(2)
        ok = wait_for(
            lambda: set(posted) <= set(headlines(bot_api)), timeout=LEASE + 6 * INTERVAL + 10
        )
        took = time.monotonic() - killed_at
    finally:
        (_, log) = stop(killed, *([survivor] if survivor else []))
    got = headlines(bot_api)
    assert ok, sorted(set(posted) - set(got))
    print(f"kill -9: the other instance delivered everything {took:.1f}s later (lease {LEASE}s)")
    # the killed one had all the feeds: the survivor adopted them (or took one at its tick)
    assert "event=feed_adopted" in log
    assert set(got) == set(posted)  # nothing lost
    assert sum(got.values()) - len(posted) <= 1  # at most the send in flight at the kill


def healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def test_the_database_away_is_a_503_and_the_daemon_resumes_by_itself(
    tmp_path, pg_server, pg_url, feed_server, bot_api, bot_token, free_port
):
    feed_server.set("/f.xml", rss(keyword_items(1)))
    extra = f'\n[metrics]\nlisten = "127.0.0.1:{free_port}"\n'
    config = pg_config(
        tmp_path / "c.toml", pg_url, [("F", feed_server.url("/f.xml"))], bot_api.base_url, extra
    )
    daemon = start_run(config, bot_token)
    try:
        assert wait_for(lambda: len(bot_api.messages) == 1, timeout=20)
        assert wait_for(lambda: healthz(free_port) == 200, timeout=10)
        pg_server.stop()
        try:
            assert wait_for(lambda: healthz(free_port) == 503, timeout=15)
            feed_server.set("/f.xml", rss(keyword_items(2)))  # posted while the database is away
            time.sleep(2 * INTERVAL)
            assert daemon.poll() is None  # still running
        finally:
            pg_server.restart()
        assert wait_for(lambda: len(bot_api.messages) == 2, timeout=40)
        assert wait_for(lambda: healthz(free_port) == 200, timeout=10)
    finally:
        (log,) = stop(daemon)
    assert daemon.returncode == 0
    assert "event=store_unavailable" in log and "event=store_back" in log
    assert list(headlines(bot_api)) == [keyword_title(0), keyword_title(1)]


def test_a_wrong_password_at_start_is_a_clear_error_and_exit_1(tmp_path, pg_url):
    from tests.helpers import run_bot

    config = pg_config(
        tmp_path / "c.toml", pg_url, [("F", "http://127.0.0.1:9/f.xml")], "http://127.0.0.1:9/bot"
    )
    env = {"PGPASSWORD": "not-it", "PATH": "/usr/bin:/bin"}
    done = run_bot("--config", str(config), "run", env=env)
    assert done.returncode == 1
    assert "password authentication failed" in done.stderr and "Traceback" not in done.stderr
    assert "not-it" not in done.stderr


def test_once_on_postgresql_alerts_once(tmp_path, pg_url, feed_server, bot_api, bot_token):
    from tests.helpers import run_bot

    feed_server.set("/f.xml", rss(keyword_items(2)))
    config = pg_config(
        tmp_path / "c.toml", pg_url, [("F", feed_server.url("/f.xml"))], bot_api.base_url
    )
    env = {**os.environ, TOKEN_ENV: bot_token}
    for _ in range(2):
        done = run_bot("--config", str(config), "once", env=env)
        assert done.returncode == 0, done.stderr
    assert sorted(headlines(bot_api)) == [keyword_title(0), keyword_title(1)]
    assert all(count == 1 for count in headlines(bot_api).values())


def test_admins_on_every_instance_one_reads_the_commands_and_another_takes_over(
    tmp_path, pg_url, feed_server, bot_api, bot_token
):
    from tests.test_admin import ADMIN, Admin

    feed_server.set("/f.xml", rss([]))
    config = pg_config(
        tmp_path / "c.toml", pg_url, [("F", feed_server.url("/f.xml"))], bot_api.base_url
    )
    config.write_text(
        config.read_text().replace("[telegram]\n", f"[telegram]\nadmins = [{ADMIN}]\n")
    )
    first = start_run(config, bot_token)
    assert wait_for(lambda: any(c.method == "getUpdates" for c in bot_api.calls), timeout=20)
    second = start_run(config, bot_token)
    admin = Admin(bot_api)
    first_log: list[str] = []
    try:
        time.sleep(3)  # the second one is up, standing by
        assert "feeds" in admin.ask("/status").lower()
        time.sleep(1)
        assert len(bot_api.messages_for(ADMIN)) == 1  # answered once
        first_log = stop(first)  # gives the lease back: the second takes over
        assert "feeds" in admin.ask("/status").lower()
        time.sleep(1)
        assert len(bot_api.messages_for(ADMIN)) == 2
    finally:
        second_log = stop(second) + ([] if first_log else stop(first))
    assert "event=admin_polling" in first_log[0] and "event=admin_standby" not in first_log[0]
    assert second_log[0].index("event=admin_standby") < second_log[0].index("event=admin_polling")
