"""Figure 5: new item published on the farm -> sendMessage received by the fake Bot API.

The daemon (`bot.py run`, warm database, a token, [telegram] api_base_url pointing at
tests/servers.py's FakeBotAPI) polls a few farm feeds at a short interval. Items whose
real text alerts under the default rules are published one by one at random spacing; a
thread stamps each sendMessage as it arrives (10 ms resolution) and finds its item by the
link in the alert.
"""

from __future__ import annotations

import random
import re
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harness import PYTHON, ROOT, FarmProcess, bot_env, seed_db, write_config

from tests.servers import FakeBotAPI

_LINK = re.compile(r"https://news\d+\.example\.org/world/(\d+)/(\d+)/story\.html")


@dataclass
class Latency:
    items: int
    received: int
    interval: float
    delays: list[float]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.delays)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def measure_latency(
    farm: FarmProcess,
    alerting: list[int],
    feeds: int = 20,
    interval: float = 10.0,
    items: int = 100,
    spacing: float = 0.4,
) -> Latency:
    """Publish `items` alerting news items over the farm's first `feeds` feeds; time each."""
    rng = random.Random(7)
    api = FakeBotAPI().start()
    arrivals: dict[tuple[int, int], float] = {}
    published: dict[tuple[int, int], float] = {}
    done = threading.Event()

    def stamp() -> None:
        seen = 0
        while not done.is_set():
            messages = api.messages
            for message in messages[seen:]:
                found = _LINK.search(message.text)
                if found:
                    arrivals.setdefault((int(found[1]), int(found[2])), time.time())
            seen = len(messages)
            time.sleep(0.01)

    watcher = threading.Thread(target=stamp, daemon=True)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        telegram = {
            "chat_id": '"@armswatch_test"',
            "api_base_url": f'"{api.base_url}"',
            "per_minute": "1000",  # measure the pipeline, not Telegram's pacing
        }
        config = write_config(folder, farm, feeds, f"{interval:g}s", "1s", telegram)
        # The 100 items reuse a few real alerting headlines: story merging would rightly
        # turn repeats into edits. Each must be a message here, so merging is off.
        text = config.read_text()
        assert "merge = true" in text, "the default config's [stories] merge line moved"
        config.write_text(text.replace("merge = true", "merge = false", 1))
        seed_db(folder / "bench.db", farm, feeds)
        with open(folder / "bot.log", "w") as err:
            bot = subprocess.Popen(
                [PYTHON, str(ROOT / "bot.py"), "--config", str(config), "run"],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=bot_env(api.token),
                cwd=ROOT,
            )
            watcher.start()
            try:
                time.sleep(3.0)  # started, first polls done
                for k in range(items):
                    f = k % feeds
                    answer = farm.ctl("publish", feed=f, news=alerting[k % len(alerting)])
                    published[f, answer["seq"]] = answer["time"]
                    time.sleep(rng.uniform(0.5, 1.5) * spacing)
                deadline = time.time() + interval + 20
                while time.time() < deadline and not set(published) <= set(arrivals):
                    time.sleep(0.1)
            finally:
                done.set()
                bot.send_signal(signal.SIGINT)
                try:
                    bot.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    bot.kill()
                api.stop()
    delays = [arrivals[key] - t for key, t in published.items() if key in arrivals]
    return Latency(items, len(delays), interval, delays)
