"""Figure 2 as a running daemon pays it: warm poll cycles in one process, no start-up.

    python bench/warm.py --data DIR [--feeds 1000] [--rounds 3]

Opens the app the way `run` does (store, rules, HTTP session) over the farm's feeds,
seeded as a first poll would leave them, and times whole cycles of `poll_all` plus
delivery with this process's CPU clock: all feeds 304, 10% changed (3 new items each),
and all feeds answering 200 with the same bytes. Per unit = cycle CPU / units, the new
items net of an all-304 cycle. The median of --rounds rounds is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from benchdata import NEWS, add_data_option, data_files  # noqa: E402
from cycles import CHANGED, NEW  # noqa: E402
from harness import FarmProcess, seed_db, write_config  # noqa: E402

from watchers.app import App, open_app  # noqa: E402
from watchers.config.load import load_config  # noqa: E402


@dataclass
class Warm:
    """Milliseconds of CPU per unit in a warm daemon (medians over the rounds)."""

    feeds: int
    per_304: float
    per_identical: float
    per_new_item: float
    new_items: int


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def cycle(app: App) -> tuple[float, int]:
    """CPU seconds of one poll of every feed with its deliveries, and the new items."""
    started = cpu()
    results = await app.poll_all()
    await app.deliver_until(time.time() + 5)
    return cpu() - started, sum(r.new for r in results)


async def rounds(app: App, farm: FarmProcess, feeds: int, count: int) -> Warm:
    quiet, identical, per_item, new_items = [], [], [], 0
    await cycle(app)  # connections and caches warm
    for _ in range(count):
        base, _ = await cycle(app)
        quiet.append(base / feeds)
        farm.ctl("change", fraction=CHANGED, new=NEW, limit=feeds)
        changed, new_items = await cycle(app)
        per_item.append((changed - base) / max(1, new_items))
        farm.ctl("conditional", on=0)
        try:
            same, _ = await cycle(app)
        finally:
            farm.ctl("conditional", on=1)
        identical.append(same / feeds)
    ms = 1e3
    return Warm(
        feeds,
        statistics.median(quiet) * ms,
        statistics.median(identical) * ms,
        statistics.median(per_item) * ms,
        new_items,
    )


def measure_warm(farm: FarmProcess, feeds: int = 1000, count: int = 3) -> Warm:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        config = load_config(write_config(folder, farm, feeds))
        seed_db(folder / "bench.db", farm, feeds)

        async def main() -> Warm:
            async with open_app(config, out=io.StringIO()) as app:
                return await rounds(app, farm, feeds, count)

        return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    add_data_option(parser)
    args = parser.parse_args()
    data_files(args.data, NEWS)
    with FarmProcess(args.feeds, args.data) as farm:
        warm = measure_warm(farm, args.feeds, args.rounds)
    print(f"warm daemon, {warm.feeds} feeds, median of {args.rounds} rounds (CPU ms):")
    print(f"  per unchanged feed, 304:        {warm.per_304:.3f}")
    print(f"  per unchanged feed, same bytes: {warm.per_identical:.3f}")
    print(f"  per new item ({warm.new_items} a cycle):   {warm.per_new_item:.3f}")


if __name__ == "__main__":
    main()
