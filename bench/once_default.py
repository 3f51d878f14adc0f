"""Time one `bot.py once` over the default config's feeds, served from 127.0.0.1.

Each configured feed is replaced by a real saved feed (tests/data/feeds/) on a local
server; rules, entities and everything else are the default config's. Prints wall and
CPU time of the whole process: a cold poll (every feed parsed) and a warm one (every
feed answers 304 Not Modified).

    python bench/once_default.py
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from itertools import cycle
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import FeedServer  # noqa: E402

FEEDS = ROOT / "tests" / "data" / "feeds"


def local_config(server: FeedServer, folder: Path) -> Path:
    """The default config with every feed URL pointing at the local server."""
    text = (ROOT / "config.toml").read_text()
    files = cycle(sorted(p for p in FEEDS.iterdir() if p.suffix in (".xml", ".ashx")))
    urls = re.findall(r'^url = "(.+)"$', text, flags=re.M)
    for number, url in enumerate(urls):
        path = f"/feed{number}.xml"
        server.set_file(path, next(files))
        text = text.replace(f'url = "{url}"', f'url = "{server.url(path)}"', 1)
    text = text.replace('path = "armswatch.db"', f'path = "{folder / "bench.db"}"')
    config = folder / "config.toml"
    config.write_text(text)
    return config


def timed_once(config: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and exit code of one `bot.py once`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "--config", str(config), "once"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if "TOKEN" not in k},
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def main() -> None:
    with FeedServer() as server, tempfile.TemporaryDirectory() as folder:
        config = local_config(server, Path(folder))
        feeds = sum(1 for line in config.read_text().splitlines() if line == "[[feeds]]")
        print(f"bot.py once over the {feeds} default feeds, served from 127.0.0.1")
        print(f"{'run':<24}{'wall s':>8}{'cpu s':>8}{'exit':>6}")
        for label in ("cold (all parsed)", "warm (all 304)"):
            wall, cpu, code = timed_once(config)
            print(f"{label:<24}{wall:>8.2f}{cpu:>8.2f}{code:>6}")


if __name__ == "__main__":
    main()
