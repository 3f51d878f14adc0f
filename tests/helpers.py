"""Test helpers: real RSS documents and config files pointing at the loopback servers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SEED_FILE = DATA / "seed" / "000_14ca65158709ed0b.txt"
TOKEN_ENV = "ARMSWATCH_TEST_TOKEN"
CHAT = "@armswatch_test"


def seed_item() -> dict:
    """The seed article as a feed entry: its headline and first paragraphs."""
    lines = [line.strip() for line in SEED_FILE.read_text().splitlines() if line.strip()]
    return {
        "guid": "seed-14ca65158709ed0b",
        "title": lines[1],
        "summary": " ".join(lines[3:6]),
        "link": "https://news.example.org/2024/01/04/russia-iran-ballistic-missiles",
    }


def rss(entries: list[dict], now: datetime | None = None) -> bytes:
    """An RSS 2.0 document; each entry: guid, title, summary, link, age (minutes)."""
    now = now or datetime.now(UTC)
    items = []
    for entry in entries:
        published = now - timedelta(minutes=entry.get("age", 5))
        items.append(
            "<item>"
            f'<guid isPermaLink="false">{escape(entry["guid"])}</guid>'
            f"<title>{escape(entry['title'])}</title>"
            f"<description>{escape(entry.get('summary', ''))}</description>"
            f"<link>{escape(entry.get('link', ''))}</link>"
            f"<pubDate>{format_datetime(published)}</pubDate>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Test feed</title><link>https://news.example.org/</link>"
        f"{''.join(items)}</channel></rss>"
    ).encode()


def keyword_title(number: int) -> str:
    """A headline the test keyword rule alerts on, unlike every other (no story merging)."""
    words = " ".join(f"w{number}x{k}" for k in range(6))
    return f"armswatch-test-keyword story {number} {words}"


def keyword_items(count: int) -> list[dict]:
    """Entries that each alert, each a story of its own."""
    return [{"guid": f"k{i}", "title": keyword_title(i)} for i in range(count)]


def boring(n: int) -> list[dict]:
    """Entries that match no rule."""
    return [
        {"guid": f"boring-{i}", "title": f"Local council approves new park number {i}"}
        for i in range(n)
    ]


def write_config(
    path: Path,
    feeds: list[tuple[str, str]],
    api_base_url: str | None = None,
    extra: str = "",
    interval: str = "10m",
    fetch: str = "",
) -> Path:
    """A config file for tests: feeds on the feed server, Telegram on the fake API."""
    telegram = f'chat_id = "{CHAT}"\ntoken_env = "{TOKEN_ENV}"\nsend_timeout = "3s"\n'
    if api_base_url:
        telegram += f'api_base_url = "{api_base_url}"\n'
    text = f"""
[telegram]
{telegram}
[storage]
path = "state.db"

[schedule]
interval = "{interval}"
jitter = 0
backfill = "24h"

[fetch]
timeout = "5s"
{fetch}
"""
    for name, url in feeds:
        text += f'\n[[feeds]]\nname = "{name}"\nurl = "{url}"\n'
    text += '\n[[rules]]\nname = "arms-transfer"\ndetector = "arms_transfer"\n'
    text += '\n[[rules]]\nname = "iran-to-russia"\ndetector = "arms_transfer"\n'
    text += 'supplier = ["Iran"]\nrecipient = ["Russia"]\npriority = true\n'
    text += '\n[[rules]]\nname = "keyword"\nany = ["armswatch-test-keyword"]\n'
    path.write_text(text + extra)
    return path


def start_run(config: Path, token: str | None) -> subprocess.Popen:
    """`bot.py run` as a real process (its log on stderr), with or without a token."""
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    if token:
        env[TOKEN_ENV] = token
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), "--config", str(config), "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_bot(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`bot.py ARGS` as a real process, to completion; its output captured as text."""
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )


def wait_for(condition, timeout: float = 20.0) -> bool:
    """Poll a condition until it holds (True) or the timeout passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
