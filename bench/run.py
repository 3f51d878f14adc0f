"""All five benchmark figures from a fresh clone, in about three minutes on 2 cores.

    python bench/run.py --data DIR      # prints the table, writes results.md and the plot
    python bench/run.py --data DIR --full   # baselines on all 1,000 feeds (not a subset)
    python bench/run.py --data DIR --soak-feeds 10000 --soak-interval 600 --soak-seconds 1800

DIR holds news/rss2022_2023.jsonl, the real news the farm's items and figure 3 read
(bench/benchdata.py says where it comes from).

One loopback farm (bench/farm.py, its own process) serves 10,000 generated feeds.
  1. a warm `bot.py once` cycle of 1,000 feeds with 10% changed (3 new items each),
     against the naive loop (bench/naive.py) and newsboat (`newsboat -x reload`);
  2. CPU of an unchanged feed (304, or identical bytes) and of one new item, by
     differencing whole `once` cycles at 100, 1,000 and 10,000 feeds, and in warm
     cycles of one long-running process as the daemon runs them (bench/warm.py);
  3. `bot.py score` items/s against raw pyahocorasick (bench/bench_matching.py);
  4. `bot.py run` on many feeds at a short interval (bench/soak.py): lag, CPU, RSS;
  5. farm -> fake Bot API latency over 100 alerting items (bench/latency.py).
Every ratio's baseline is measured in the same run. Timings are figures, not tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from benchdata import NEWS, add_data_option, data_files  # noqa: E402
from cycles import CHANGED, NEW, Series, baselines, bot_series  # noqa: E402
from feedgen import load_news  # noqa: E402
from harness import PYTHON, ROOT, FarmProcess, timed  # noqa: E402
from latency import measure_latency  # noqa: E402
from report import Figure, machine, plot, write_results  # noqa: E402
from soak import soak  # noqa: E402
from warm import measure_warm  # noqa: E402

SIZES = (100, 1000, 10_000)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def figure_cycles(farm: FarmProcess, args) -> tuple[list[Figure], dict[int, Series], list]:
    """Figures 1 and 2 from warm cycles at each size and the two baselines."""
    series = {}
    for n in args.sizes:
        log(f"[1/2] warm once cycles at {n} feeds")
        repeat = 3 if n <= 1000 else 1
        series[n] = bot_series(farm, n, n == 1000, unchanged=n <= 1000, repeat=repeat)
    subset = 1000 if args.full else args.baseline_feeds
    log(f"[1] naive loop and newsboat on {subset} feeds")
    base = baselines(farm, subset)
    bot = series[1000].changed
    figures = [
        Figure("1", "once, 1,000 feeds, 10% changed: wall s", bot.wall, "", None, ">= 40x naive"),
        Figure("1", "once, 1,000 feeds, 10% changed: CPU s", bot.cpu, "", None, ""),
    ]
    for b in base:
        if b.warm is None:
            figures.append(Figure("1", f"vs {b.name}", float("nan"), b.note, None, ""))
            continue
        wall, cpu = b.scaled(1000)
        how = "measured" if b.feeds == 1000 else f"measured on {b.feeds}, x{1000 / b.feeds:g}"
        target = ">= 40x" if b.name == "naive loop" else ""
        figures.append(Figure("1", f"  {b.name} wall s ({how})", wall, "", wall / bot.wall, target))
        figures.append(Figure("1", f"  {b.name} CPU s", cpu, "", cpu / bot.cpu, ""))
    figures += per_unit(series)
    return figures, series, base


def per_unit(series: dict[int, Series]) -> list[Figure]:
    """Figure 2 by differencing cycles: a line through the all-304 cycles gives per feed."""
    sizes = sorted(n for n, s in series.items() if s.unchanged is not None)
    small, large = series[sizes[0]], series[sizes[-1]]
    per_304 = (large.unchanged.cpu - small.unchanged.cpu) / (large.feeds - small.feeds)
    startup = small.unchanged.cpu - per_304 * small.feeds
    mid = series[1000]
    out = [
        Figure(
            "2", "CPU per unchanged feed, 304 (ms)", per_304 * 1e3, "100 vs 1,000", None, "<= 1 ms"
        ),
        Figure("2", "  process start-up + config + rules (s)", startup, "", None, ""),
    ]
    if mid.identical is not None:
        ident = (mid.identical.cpu - startup) / mid.feeds
        out.append(
            Figure("2", "CPU per unchanged feed, same bytes (ms)", ident * 1e3, "", None, "<= 1 ms")
        )
    if mid.new_items > 0:  # at 100 feeds 30 items are within one process's noise
        per_item = (mid.changed.cpu - mid.unchanged.cpu) / mid.new_items
        label = "CPU per new item at 1000 feeds (ms)"
        note = f"{NEW} per changed feed"
        out.append(Figure("2", label, per_item * 1e3, note, None, "<= 1 ms"))
    return out


def figure_warm(farm: FarmProcess) -> list[Figure]:
    """Figure 2 as a running daemon pays it: warm cycles in one process (bench/warm.py)."""
    log("[2] warm daemon cycles at 1,000 feeds (bench/warm.py)")
    w = measure_warm(farm)
    rows = [
        ("unchanged feed, 304", w.per_304, ""),
        ("unchanged feed, same bytes", w.per_identical, ""),
        ("new item", w.per_new_item, f"{w.new_items} a cycle"),
    ]
    return [
        Figure("2", f"warm daemon: CPU per {what} (ms)", value, note, None, "<= 1 ms")
        for what, value, note in rows
    ]


def figure_matching(folder: Path, data: Path) -> tuple[list[Figure], list[int]]:
    """Figure 3: `bot.py score` items/s against raw pyahocorasick; the alerting items."""
    log("[3] matching: bench_matching.py and bot.py score")
    with open(folder / "matching.txt", "w") as out:
        timed([PYTHON, str(BENCH / "bench_matching.py"), "--data", str(data)], stdout=out)
    text = (folder / "matching.txt").read_text()
    rates = {
        key: float(line.split(":")[1].split()[0].replace(",", ""))
        for line in text.splitlines()
        for key in ("raw pyahocorasick", "default rules", "match + detect")
        if line.startswith(key)
    }
    news_file = data / NEWS
    news = load_news(news_file)
    one = folder / "one.jsonl"
    one.write_text(json.dumps(news[0]) + "\n")
    score = [PYTHON, str(ROOT / "bot.py"), "--config", str(ROOT / "config.toml"), "score"]
    with open(one) as stdin:
        start = timed(score, stdin=stdin)
    with open(news_file) as stdin, open(folder / "scores.jsonl", "w") as out:
        full = timed(score, stdin=stdin, stdout=out)
    verdicts = [json.loads(line) for line in (folder / "scores.jsonl").read_text().splitlines()]
    index = {n["id"]: i for i, n in enumerate(news)}
    alerting = [index[v["id"]] for v in verdicts if v.get("alert")]
    net = len(news) / max(1e-9, full.cpu - start.cpu)
    raw = rates.get("raw pyahocorasick", float("nan"))
    inproc = rates.get("default rules", rates.get("match + detect", float("nan")))
    return [
        Figure("3", "raw pyahocorasick, same texts (items/s)", raw, "baseline", None, ""),
        Figure("3", "bot.py score, net of start-up (items/s)", net, "", net / raw, ">= 30% of raw"),
        Figure(
            "3",
            "bot.py score, whole process (items/s)",
            len(news) / full.cpu,
            f"{len(news)} items, {len(alerting)} alert",
            len(news) / full.cpu / raw,
            "",
        ),
        Figure(
            "3",
            "default rules in-process (items/s)",
            inproc,
            "bench_matching.py (RuleSet.match)",
            inproc / raw,
            "",
        ),
    ], alerting


def figure_scale(farm: FarmProcess, args) -> list[Figure]:
    log(
        f"[4] bot.py run: {args.soak_feeds} feeds at {args.soak_interval:g} s for "
        f"{args.soak_seconds:g} s"
    )
    r = soak(farm, args.soak_feeds, args.soak_interval, args.soak_seconds, CHANGED, log=log)
    what = f"{r.feeds} feeds @ {r.interval:g} s, {r.seconds:.0f} s"
    halves = f"1st half {r.lag_p95_first:.2f}, 2nd {r.lag_p95_second:.2f}"
    rss = f"warm {r.rss_warm_mb:.0f}, end {r.rss_end_mb:.0f}"
    jitter = f"jitter 0..{r.jitter:g}"
    return [
        Figure("4", f"poll gap - interval p50 (s), {what}", r.lag_p50, jitter, None, ""),
        Figure("4", "poll gap - interval p95 (s)", r.lag_p95, halves, None, "no growth"),
        Figure("4", "CPU (% of one core)", r.cpu_percent, f"{r.polls} polls", None, ""),
        Figure("4", "peak RSS (MB)", r.rss_peak_mb, rss, None, "< 200 MB, flat"),
        Figure("4", "failed feeds (log lines)", r.failed_feeds, "", None, "0"),
    ]  # fmt: skip


def figure_latency(farm: FarmProcess, alerting: list[int], args) -> list[Figure]:
    log(f"[5] latency: {args.latency_items} items, interval {args.latency_interval:g} s")
    lat = measure_latency(farm, alerting, interval=args.latency_interval, items=args.latency_items)
    target = f"<= {lat.interval + 2:g} s"
    got = f"{lat.received}/{lat.items} received"
    every = f"interval {lat.interval:g} s"
    return [
        Figure("5", "farm -> sendMessage p50 (s)", lat.percentile(50), got, None, ""),
        Figure("5", "farm -> sendMessage p95 (s)", lat.percentile(95), every, None, target),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: sorted({1000, *map(int, text.split(","))}),
        default=list(SIZES),
        help="feed counts of the once cycles (100,1000,10000); 1000 is always in",
    )
    parser.add_argument("--full", action="store_true", help="baselines on all 1,000 feeds")
    parser.add_argument("--baseline-feeds", type=int, default=250)
    parser.add_argument("--soak-feeds", type=int, default=1000)
    parser.add_argument("--soak-interval", type=float, default=60.0)
    parser.add_argument("--soak-seconds", type=float, default=100.0)
    parser.add_argument("--latency-items", type=int, default=100)
    parser.add_argument("--latency-interval", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=BENCH, help="where results.md and the plot go")
    add_data_option(parser)
    args = parser.parse_args()
    data_files(args.data, NEWS)
    args.out.mkdir(parents=True, exist_ok=True)  # before minutes of work, not after
    started = time.time()
    figures = []
    with (
        FarmProcess(max(*args.sizes, args.soak_feeds), args.data) as farm,
        tempfile.TemporaryDirectory() as tmp,
    ):
        cycle_figures, series, base = figure_cycles(farm, args)
        figures += cycle_figures
        figures += figure_warm(farm)
        matching, alerting = figure_matching(Path(tmp), args.data)
        figures += matching
        figures += figure_scale(farm, args)
        figures += figure_latency(farm, alerting, args)
    notes = [n for s in series.values() for n in s.notes]
    info = machine(time.time() - started)
    table = write_results(args.out / "results.md", figures, info, series, notes)
    plot(args.out / "cost_vs_feeds.png", series, base)
    print(table)


if __name__ == "__main__":
    main()
