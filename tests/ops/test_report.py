"""The stories chart: drawn from events the real pipeline stored, sent weekly via sendPhoto."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import bot
from tests.helpers import CHAT, TOKEN_ENV, boring, rss, seed_item, write_config
from watchers.app import open_app
from watchers.config import load as config_module
from watchers.config.load import load_config
from watchers.errors import ConfigError
from watchers.models import EventRow
from watchers.ops.export import merge_events
from watchers.ops.report import CAPTION_LIMIT, caption, summarize, weekly_report
from watchers.schedule import REPORT_JOB, Daemon

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def seed_database(tmp_path: Path, feed_server, bot_api, extra: str = "") -> Path:
    """Run `bot.py once` on the seed story; return the config."""
    feed_server.set("/news.xml", rss([seed_item(), *boring(3)]))
    feeds = [("Kyiv Post", feed_server.url("/news.xml"))]
    config = write_config(tmp_path / "c.toml", feeds, bot_api.base_url, extra=extra)
    assert bot.main(["--config", str(config), "once"]) == 0
    return config


def assert_png(data: bytes) -> None:
    assert data[:8] == PNG_MAGIC and len(data) > 10_000
    assert data[12:16] == b"IHDR"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= 800 and height >= 300


def test_report_command_draws_a_png(tmp_path, feed_server, bot_api, bot_token, monkeypatch, capsys):
    monkeypatch.setenv(TOKEN_ENV, bot_token)
    config = seed_database(tmp_path, feed_server, bot_api)
    out = tmp_path / "report.png"
    assert bot.main(["--config", str(config), "report", "--since", "30d", "--out", str(out)]) == 0
    assert_png(out.read_bytes())
    assert "1 stories drawn" in capsys.readouterr().err
    assert len(bot_api.messages) == 1  # the alert only: nothing sent without --send


def test_report_send_posts_the_chart(tmp_path, feed_server, bot_api, bot_token, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, bot_token)
    config = seed_database(tmp_path, feed_server, bot_api)
    argv = ["--config", str(config), "report", "--out", str(tmp_path / "r.png"), "--send"]
    assert bot.main(argv) == 0
    alert, chart = bot_api.messages_for(CHAT)
    assert chart.photo == (tmp_path / "r.png").read_bytes()
    assert "Iran → Russia (1)" in chart.plain and "missiles (1)" in chart.plain


def test_weekly_job_sends_the_chart_from_the_daemon(
    tmp_path, feed_server, bot_api, bot_token, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, bot_token)
    path = seed_database(tmp_path, feed_server, bot_api, '\n[report]\nweekly = "mon 09:00"\n')

    async def run_until_sent() -> None:
        config = load_config(path)
        async with open_app(config) as app:
            daemon = Daemon(app, config.path)
            running = asyncio.create_task(daemon.run())
            while not daemon.scheduler.running or not daemon.scheduler.get_job(REPORT_JOB):
                await asyncio.sleep(0.01)
            job = daemon.scheduler.get_job(REPORT_JOB)
            assert str(job.trigger) == "cron[day_of_week='mon', hour='9', minute='0']"
            job.modify(next_run_time=datetime.now(UTC))  # it is Monday 09:00
            deadline = time.monotonic() + 10
            while len(bot_api.messages_for(CHAT)) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            daemon.stop("test")
            await running

    asyncio.run(run_until_sent())
    alert, chart = bot_api.messages_for(CHAT)
    assert_png(chart.photo)
    assert chart.parse_mode == "HTML" and len(chart.text) <= CAPTION_LIMIT
    first_line = chart.plain.split("\n")[0]
    assert first_line.startswith("📊 Arms-transfer stories, ") and first_line.endswith(": 1")
    assert "Top pairs: Iran → Russia (1)" in chart.plain


def test_weekly_job_without_a_token_saves_the_png_and_prints_the_caption(
    tmp_path, feed_server, bot_api, bot_token, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, bot_token)
    config = load_config(seed_database(tmp_path, feed_server, bot_api))
    out = io.StringIO()

    async def job():
        async with open_app(config) as app:
            return await weekly_report(config, app.pipeline.store, "", time.time(), out)

    path = asyncio.run(job())
    assert path.parent == tmp_path and path.name.startswith("report-")
    assert_png(path.read_bytes())
    assert "Iran → Russia (1)" in out.getvalue() and str(path) in out.getvalue()
    assert len(bot_api.messages) == 1


def test_weekly_job_when_telegram_refuses_is_logged_not_fatal(
    tmp_path, feed_server, bot_api, bot_token, monkeypatch, caplog
):
    monkeypatch.setenv(TOKEN_ENV, bot_token)
    config = load_config(seed_database(tmp_path, feed_server, bot_api))
    bot_api.queue_errors(400, method="sendPhoto")
    logging.getLogger("armswatch.report").addHandler(caplog.handler)  # armswatch: no propagate

    async def job():
        async with open_app(config) as app:
            return await weekly_report(config, app.pipeline.store, bot_token, time.time())

    assert asyncio.run(job()) is None
    assert "event=report_failed" in caplog.text


def story(n: int, supplier=("Iran",), recipient=("Russia",), categories=("drones",)):
    row = EventRow(f"i{n}", 0.0, supplier=supplier, recipient=recipient, categories=categories)
    return merge_events(f"s{n}", [row])


def test_summary_counts_pairs_and_categories_with_the_rest_folded():
    stories = [story(0), story(1), story(2, ("USA", "UK"), ("Ukraine",), ("air_defence",))]
    stories += [story(3, (), ("Taiwan",), ())]
    summary = summarize(stories, 0.0, 86400.0, top=2)
    assert summary.stories == 4
    assert summary.pairs == [("Iran → Russia", 2), ("UK → Ukraine", 1)]
    assert summary.other_pairs == 2  # USA → Ukraine and ? → Taiwan
    assert summary.categories == [("drones", 2), ("air defence", 1), ("unspecified", 1)]


def test_caption_escapes_names_and_fits_telegrams_limit():
    stories = [story(n, (f"<b>&Co{n}" + "x" * 300,), ("R",)) for n in range(8)]
    text = caption(summarize(stories, 0.0, 86400.0))
    assert "<b>&amp;Co" not in text and "&lt;b&gt;&amp;Co0xxx" in text
    assert "xxx… → R (1)" in text and "Weapons: drones (8)" in text
    assert len(text) <= CAPTION_LIMIT and text.startswith("📊 <b>")


def test_empty_period_still_draws(tmp_path, monkeypatch):
    config = write_config(tmp_path / "c.toml", [])
    assert bot.main(["--config", str(config), "report", "--out", str(tmp_path / "e.png")]) == 0
    assert (tmp_path / "e.png").read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize(
    "value,expected",
    [('"mon 09:00"', "mon 09:00"), ('"Friday 7:30"', "fri 07:30"), ('"sun 23:59"', "sun 23:59")],
)
def test_weekly_accepts_a_weekday_and_utc_time(tmp_path, value, expected):
    path = write_config(tmp_path / "c.toml", [], extra=f"\n[report]\nweekly = {value}\n")
    assert load_config(path).report_weekly == expected


@pytest.mark.parametrize("value", ['"monkey 09:00"', '"mon 24:00"', '"09:00"', "9", '"mon"'])
def test_weekly_rejects_anything_else_naming_the_line(tmp_path, value):
    path = write_config(tmp_path / "c.toml", [], extra=f"\n[report]\nweekly = {value}\n")
    with pytest.raises(ConfigError, match=r"c\.toml line \d+: \[report\] weekly"):
        load_config(path)


def test_report_is_off_by_default(tmp_path):
    assert load_config(write_config(tmp_path / "c.toml", [])).report_weekly is None


@pytest.mark.parametrize("key", list(config_module.REPORT))
def test_report_keys_are_documented(key):
    assert f"`[report] {key}`" in README
