"""Where the benchmarks and evaluations find their data.

The small saved feeds are in the repository (tests/data/feeds/). The large real-news files
are not: a script that needs them takes `--data DIR`, the folder that holds `news/` (the
team keeps one beside the repository: `--data ../shared/data`). Without it, or when a file
is missing, the script says so in one line and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEEDS = ROOT / "tests" / "data" / "feeds"  # real saved RSS/Atom/RDF files (SOURCE.md there)
NEWS = "news/rss2022_2023.jsonl"  # 5,957 real RSS items of 2022-2023 (id, title, summary...)
EXTRA = "news/rss2022_2023_extra.jsonl"  # 7,719 more from the same outlets, other days
ORIGIN = (
    "the team's shared/data folder; the items come from the rumca-js/RSS-Link-Database-2022 "
    "and -2023 archives, see tests/data/news/README.md"
)


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """--data DIR: the folder that holds news/ (default: none)."""
    parser.add_argument(
        "--data", type=Path, metavar="DIR", help="folder holding news/rss2022_2023.jsonl"
    )


def data_files(data: Path | None, *names: str) -> list[Path]:
    """These files under --data; one line on stderr and exit 2 when any is missing."""
    script = Path(sys.argv[0]).name
    wanted = ", ".join(names)
    if data is None:
        _fail(f"{script}: needs {wanted}: pass --data DIR, the folder holding news/ ({ORIGIN})")
    missing = [name for name in names if not (data / name).is_file()]
    if missing:
        where = f"--data DIR is the folder holding news/ ({ORIGIN})"
        _fail(f"{script}: no {', '.join(missing)} in {data}: {where}")
    return [data / name for name in names]


def _fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(2)
