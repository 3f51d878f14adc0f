"""The naive loop, the baseline of figure 1: what a first script for this job looks like.

    python bench/naive.py URLS_FILE SEEN_FILE [--record-only]

Sequentially `feedparser.parse(url)` each feed (feedparser's own fetching: no timeout,
no conditional GET), then for every entry not in SEEN_FILE a per-keyword regex loop over
title + summary: one compiled whole-word, case-insensitive regex per keyword (the
default rules' words and the gazetteer's aliases). Seen ids are kept in a JSON file, as
such a script would, so only new entries are matched; --record-only (the first run)
records ids without matching, like the bot's backfill on a feed's first poll.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def keywords() -> list[str]:
    """The default rules' words and every gazetteer alias (stems without their '*')."""
    from watchers.config.load import load_config
    from watchers.detection.entities import Gazetteer

    config = load_config(ROOT / "config.toml")
    words = {w for r in config.rules for w in (*r.any, *r.all, *r.none)}
    words |= {alias for alias, _ in Gazetteer.load(config.entities).phrases()}
    return sorted(w.lstrip("=") for w in words if w.strip("=*"))


def compile_keywords(words: list[str]) -> list[tuple[str, re.Pattern]]:
    """One whole-word, case-insensitive regex per keyword; a trailing '*' is a stem."""
    out = []
    for word in words:
        stem = word.endswith("*")
        body = re.escape(word.rstrip("*"))
        out.append((word, re.compile(rf"\b{body}" + ("" if stem else r"\b"), re.IGNORECASE)))
    return out


def main(argv: list[str]) -> int:
    urls = Path(argv[0]).read_text().split()
    seen_path = Path(argv[1])
    record_only = "--record-only" in argv
    seen = set(json.loads(seen_path.read_text())) if seen_path.exists() else set()
    patterns = [] if record_only else compile_keywords(keywords())
    new = hits = 0
    for url in urls:
        parsed = feedparser.parse(url)
        for entry in parsed.entries:
            key = entry.get("id") or entry.get("link")
            if key in seen:
                continue
            seen.add(key)
            new += 1
            text = f"{entry.get('title', '')}\n{entry.get('summary', '')}"
            matched = [word for word, pattern in patterns if pattern.search(text)]
            if matched:
                hits += 1
                print(f"MATCH {entry.get('title', '')!r}: {', '.join(matched[:5])}")
    seen_path.write_text(json.dumps(sorted(seen)))
    print(f"naive: {len(urls)} feeds, {new} new entries, {hits} matched", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
