"""Plumbing shared by the benchmarks: the farm process, bench configs, seeding, timing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from benchdata import NEWS  # noqa: E402
from feedgen import FeedMaker, FeedState, load_news  # noqa: E402

PYTHON = sys.executable
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy


class FarmProcess:
    """bench/farm.py in its own process, its items' text from `data` (the --data folder);
    `ctl` calls its control endpoints."""

    def __init__(self, feeds: int, data: Path):
        self.feeds = feeds
        self.news = data / NEWS
        self.proc = subprocess.Popen(
            [PYTHON, str(BENCH / "farm.py"), "--feeds", str(feeds), "--data", str(data)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = json.loads(self.proc.stdout.readline())["port"]

    def url(self, f: int) -> str:
        return f"http://127.0.0.1:{self.port}/feed/{f}.xml"

    def ctl(self, action: str, **params: object) -> object:
        query = urlencode(params)
        url = f"http://127.0.0.1:{self.port}/_ctl/{action}?{query}"
        with _OPENER.open(url, timeout=60) as response:
            return json.loads(response.read())

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def __enter__(self) -> FarmProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_config(
    folder: Path,
    farm: FarmProcess,
    feeds: int,
    interval: str = "10m",
    jitter: str = "30s",
    telegram: dict[str, str] | None = None,
    name: str = "config.toml",
) -> Path:
    """The default config (rules, entities) with `feeds` farm feeds and a database in folder."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^\[\[feeds\]\]\nname = .*\nurl = .*\n(interval = .*\n)?", "", text)
    text = re.sub(r'(?m)^path = "armswatch.db"', f'path = "{folder / "bench.db"}"', text)
    text = re.sub(r'(?m)^interval = "10m"', f'interval = "{interval}"', text)
    text = re.sub(r'(?m)^jitter = "30s"', f'jitter = "{jitter}"', text)
    # the farm stands for thousands of sites on one address: no per-host limit among them
    text = text.replace("[fetch]\n", "[fetch]\nper_host = 1000\n", 1)
    for key, value in (telegram or {}).items():  # TOML literals, replacing the default's
        text, found = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text, count=1)
        if not found:
            text = text.replace("[telegram]\n", f"[telegram]\n{key} = {value}\n", 1)
    text += "".join(
        f'\n[[feeds]]\nname = "farm {f}"\nurl = "{farm.url(f)}"\n' for f in range(feeds)
    )
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def seed_db(db_path: Path, farm: FarmProcess, feeds: int, now: float | None = None) -> None:
    """Write the database a first poll of the farm's feeds would leave (without parsing)."""
    from watchers.feeds.parse import MAX_TITLE, canonical_link, clean_text
    from watchers.models import Item
    from watchers.store.sqlite import FeedState as StoredState
    from watchers.store.sqlite import open_store

    now = now or time.time()
    maker = FeedMaker(load_news(farm.news))
    states = [FeedState.from_json(s) for s in farm.ctl("state", limit=feeds)]
    store = open_store(db_path)
    try:
        with store.db.atomic():
            for f, state in enumerate(states):
                seqs = range(state.head, state.head - 50, -1)
                items = [  # the titles too (as parsed): an item is known by them
                    Item(
                        maker.guid(f, s),
                        clean_text(maker.news[maker.news_index(f, s, state)]["title"], MAX_TITLE),
                        link=canonical_link(maker.link(f, s)),
                    )
                    for s in seqs
                ]
                store.record_items(f"farm {f}", items, [], now)
                store.save_feed_state(
                    StoredState(
                        url=farm.url(f),
                        name=f"farm {f}",
                        etag=maker.etag(f, state),
                        last_modified=maker.last_modified(state),
                        body_hash=maker.body_hash(f, state),
                        status="ok",
                        last_poll=now,
                        last_ok=now,
                        polled_once=True,
                        items_total=50,
                    )
                )
    finally:
        store.close()


@dataclass
class Timed:
    wall: float
    cpu: float
    rss_mb: float
    code: int
    stderr: str


def bot_env(token: str | None = None) -> dict[str, str]:
    """The environment of a bot process: no token unless given, no proxies."""
    env = {k: v for k, v in os.environ.items() if "TOKEN" not in k and "proxy" not in k.lower()}
    if token:
        env["TELEGRAM_BOT_TOKEN"] = token
    return env


def timed(
    cmd: list[str], env: dict | None = None, stdin=None, stdout=None, timeout: float = 600
) -> Timed:
    """Run a command to the end: wall, CPU (user+sys) and peak RSS of that process alone."""
    with tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdin=stdin,
            stdout=stdout or subprocess.DEVNULL,
            stderr=err,
            env=env or bot_env(),
            cwd=ROOT,
        )
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
    cpu = usage.ru_utime + usage.ru_stime
    return Timed(wall, cpu, usage.ru_maxrss / 1024, proc.returncode, stderr)


def once(config: Path, wait: float = 20.0, env: dict | None = None) -> Timed:
    """`bot.py once` on a config, timed."""
    return timed(
        [PYTHON, str(ROOT / "bot.py"), "--config", str(config), "once", "--wait", str(wait)], env
    )


def new_items_of(result: Timed) -> int:
    """The 'N new items' count from once's summary line (-1 when absent)."""
    match = re.search(r"polled (\d+) feeds \((\d+) failed\), (\d+) new items", result.stderr)
    return int(match.group(3)) if match else -1
