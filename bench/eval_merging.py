"""How many alerts story merging saves on real news, and the merged groups to judge.

    python bench/eval_merging.py --data DIR [--window 48h] [--show 15]

Runs the default config's rules over news/rss2022_2023.jsonl and its _extra.jsonl in the
--data folder (bench/benchdata.py) in publication order, exactly as the daemon would see
them arrive, and places each alerting item with watchers.stories.merge: a new story (an
alert), a merge into a story (an edit of the first alert: "Also reported by"), or a
development (a reply).
Prints the counts and a sample of merged groups so a person can judge them.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from benchdata import EXTRA, NEWS, add_data_option, data_files  # noqa: E402

from watchers.config.durations import parse_duration  # noqa: E402
from watchers.config.load import load_config  # noqa: E402
from watchers.detection.rules import compile_rules  # noqa: E402
from watchers.models import Item  # noqa: E402
from watchers.stories.merge import StoryBook  # noqa: E402


def read_items(files: list[Path]) -> list[tuple[float, Item]]:
    """Every item with its publication time, oldest first."""
    items = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            when = datetime.fromisoformat(record["published"]).timestamp()
            item = Item(
                record["id"],
                record["title"],
                record.get("summary", ""),
                record.get("link", ""),
                source=record.get("source", ""),
            )
            items.append((when, item))
    return sorted(items, key=lambda pair: pair[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", default="48h")
    parser.add_argument("--show", type=int, default=15)
    add_data_option(parser)
    args = parser.parse_args()
    files = data_files(args.data, NEWS, EXTRA)
    rules = compile_rules(load_config(ROOT / "config.toml"))
    book = StoryBook(parse_duration(args.window))
    groups: dict[str, list[tuple[str, Item]]] = {}
    alerts = merged = developments = 0
    for when, item in read_items(files):
        seen = rules.read(item)
        verdict = rules.verdict(item, seen)
        if not verdict.alert:
            continue
        alerts += 1
        filing = book.file(item, seen.text, seen.mentions, verdict.detection, when)
        merged += filing.kind == "edit"
        developments += filing.kind == "reply"
        label = {"send": "first", "edit": "merged", "reply": "development"}[filing.kind]
        groups.setdefault(filing.story.id, []).append((label, item))
    sent = alerts - merged
    print(f"alerting items: {alerts}; stories: {len(groups)}")
    print(
        f"messages without merging: {alerts}; with merging: {sent} new alerts/replies "
        f"({developments} developments) + {merged} edits of earlier alerts"
    )
    print(f"alerts saved: {merged} ({merged / max(alerts, 1):.0%})")
    multi = [g for g in groups.values() if len(g) > 1]
    print(f"\nstories with more than one item: {len(multi)} (showing {args.show})")
    for group in multi[: args.show]:
        print("-" * 72)
        for kind, item in group:
            print(f"  [{kind:11}] {item.source:14.14} {item.title[:90]}")


if __name__ == "__main__":
    main()
