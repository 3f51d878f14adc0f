"""Profile one warm `bot.py once` cycle (1,000 feeds, 10% changed) with cProfile.

    python bench/profile_once.py --data DIR [--feeds 1000] [--top 30] [--out /tmp/once.prof]

Seeds the database as a first poll would, changes 10% of the farm's feeds (3 new items
each), runs `python -m cProfile -o OUT bot.py once` and prints the top functions by
cumulative and by own time. Open OUT later with `python -m pstats OUT`.
"""

from __future__ import annotations

import argparse
import pstats
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import NEWS, add_data_option, data_files  # noqa: E402
from harness import PYTHON, ROOT, FarmProcess, new_items_of, seed_db, timed, write_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "once.prof")
    add_data_option(parser)
    args = parser.parse_args()
    data_files(args.data, NEWS)
    with FarmProcess(args.feeds, args.data) as farm, tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        config = write_config(folder, farm, args.feeds)
        seed_db(folder / "bench.db", farm, args.feeds)
        farm.ctl("change", fraction=0.1, new=3, limit=args.feeds)
        cmd = [PYTHON, "-m", "cProfile", "-o", str(args.out), str(ROOT / "bot.py")]
        run = timed([*cmd, "--config", str(config), "once", "--wait", "20"])
    print(f"profiled: wall {run.wall:.2f} s, CPU {run.cpu:.2f} s, {new_items_of(run)} new items")
    stats = pstats.Stats(str(args.out))
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
