"""Figure 4, scale: `bot.py run` on many farm feeds for minutes; poll lag, CPU, memory.

    python bench/soak.py --data DIR --minutes 30         # the full soak: 10,000 feeds, 10 min
    python bench/soak.py --data DIR --feeds 1000 --interval 60 --minutes 2   # run.py's short mode

The bot starts warm (its database seeded as a first poll would leave it) in console mode
(no token, stdout to /dev/null). The farm changes `--changed` of the feeds (3 new items
each) once per interval. Poll lag comes from the farm's request log: for each feed, the
gap between two consecutive polls minus the interval (the scheduler's jitter adds 0..J
to each gap, so on-time polls give 0..J). CPU % and RSS are sampled from /proc once a
second; the last line compares the first and second half of the run (growth).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import NEWS, add_data_option, data_files  # noqa: E402
from harness import PYTHON, ROOT, FarmProcess, bot_env, seed_db, write_config  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class SoakResult:
    feeds: int
    interval: float
    jitter: float
    seconds: float
    polls: int
    lag_p50: float
    lag_p95: float
    lag_p95_first: float
    lag_p95_second: float
    cpu_percent: float
    rss_peak_mb: float
    rss_warm_mb: float
    rss_end_mb: float
    failed_feeds: int

    def lines(self) -> list[str]:
        return [
            f"{self.feeds} feeds at {self.interval:g} s (jitter {self.jitter:g} s), "
            f"{self.seconds:.0f} s, {self.polls} polls",
            f"poll gap - interval: p50 {self.lag_p50:.2f} s, p95 {self.lag_p95:.2f} s "
            f"(first half p95 {self.lag_p95_first:.2f} s, second half {self.lag_p95_second:.2f} s)",
            f"CPU {self.cpu_percent:.0f}% of one core; RSS peak {self.rss_peak_mb:.0f} MB "
            f"(after warm-up {self.rss_warm_mb:.0f} MB, at the end {self.rss_end_mb:.0f} MB); "
            f"failed feeds {self.failed_feeds}",
        ]


def proc_sample(pid: int) -> tuple[float, float, float]:
    """(CPU seconds, RSS MB, peak RSS MB) of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return cpu, int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def gaps(
    hits: list[list[float]], interval: float, after: float = 0.0, before: float = float("inf")
) -> list[float]:
    """Gap between consecutive polls of each feed minus the interval (polls in a window)."""
    out = []
    for times in hits:
        for a, b in zip(times, times[1:], strict=False):
            if after <= b < before:
                out.append(b - a - interval)
    return out


def soak(
    farm: FarmProcess,
    feeds: int,
    interval: float,
    seconds: float,
    changed: float = 0.1,
    jitter: float | None = None,
    log=print,
) -> SoakResult:
    """Run the daemon for `seconds` on feeds 0..feeds-1 of the farm; measure it."""
    jitter = interval * 30 / 600 if jitter is None else jitter  # the default's share
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        config = write_config(folder, farm, feeds, f"{interval:g}s", f"{jitter:g}s")
        seed_db(folder / "bench.db", farm, feeds)
        farm.ctl("auto", every=interval, fraction=changed, new=3, limit=feeds)
        started = time.time()
        with open(folder / "bot.log", "w") as err:
            bot = subprocess.Popen(
                [PYTHON, str(ROOT / "bot.py"), "--config", str(config), "run"],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=bot_env(),
                cwd=ROOT,
            )
            samples = watch(bot.pid, started, seconds, log)
            bot.send_signal(signal.SIGINT)
            try:
                bot.wait(timeout=30)
            except subprocess.TimeoutExpired:
                bot.kill()
        farm.ctl("auto", every=0)
        hits = farm.ctl("hits", since=started, limit=feeds)
        failed = (folder / "bot.log").read_text().count("event=feed_failed")
    return summarize(feeds, interval, jitter, started, seconds, samples, hits, failed)


def watch(pid: int, started: float, seconds: float, log) -> list[tuple[float, float, float, float]]:
    """(time, CPU s, RSS MB, peak MB) once a second until `seconds` passed."""
    samples = []
    next_report = started + 60
    while time.time() < started + seconds:
        time.sleep(1.0)
        try:
            samples.append((time.time(), *proc_sample(pid)))
        except (FileNotFoundError, ProcessLookupError):
            break
        if time.time() >= next_report:
            t, cpu, rss, _ = samples[-1]
            log(f"  {t - started:5.0f} s: CPU {cpu:.1f} s, RSS {rss:.0f} MB")
            next_report += 60
    return samples


def summarize(feeds, interval, jitter, started, seconds, samples, hits, failed) -> SoakResult:
    half = started + seconds / 2
    all_gaps = gaps(hits, interval)
    first, second = gaps(hits, interval, before=half), gaps(hits, interval, after=half)
    warm = [s for s in samples if s[0] >= started + min(interval, seconds / 2)]
    cpu_pct = 0.0
    if len(samples) >= 2:
        cpu_pct = 100 * (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0])
    return SoakResult(
        feeds=feeds,
        interval=interval,
        jitter=jitter,
        seconds=seconds,
        polls=sum(len(h) for h in hits),
        lag_p50=statistics.median(all_gaps) if all_gaps else float("nan"),
        lag_p95=percentile(all_gaps, 95),
        lag_p95_first=percentile(first, 95),
        lag_p95_second=percentile(second, 95),
        cpu_percent=cpu_pct,
        rss_peak_mb=max((s[3] for s in samples), default=0.0),
        rss_warm_mb=warm[0][2] if warm else float("nan"),
        rss_end_mb=samples[-1][2] if samples else float("nan"),
        failed_feeds=failed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=600.0, help="seconds (600)")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--changed", type=float, default=0.1, help="share changed per interval")
    add_data_option(parser)
    args = parser.parse_args()
    data_files(args.data, NEWS)
    with FarmProcess(args.feeds, args.data) as farm:
        result = soak(farm, args.feeds, args.interval, args.minutes * 60, args.changed)
    print("\n".join(result.lines()))


if __name__ == "__main__":
    main()
