"""Throughput of the default rules (what the daemon runs per item) against raw
pyahocorasick over the same texts.

    python bench/bench_matching.py --data DIR

Both sides see the 5,957 RSS items (title + "\\n" + summary). Raw: one pyahocorasick
automaton of the same phrases (gazetteer, detector cues and rule terms, case-folded),
iterating over each lower-cased text and doing nothing with the hits. Ours: the default
config's RuleSet.match (folding, word boundaries, stems, exact-case phrases, mentions,
the detector, every rule; items that cannot reach a rule's min_score are not read, as in
the daemon). Prints items/s and the ratio, and the steps alone (so a slow step shows
which module to work on); the runs take turns within each of 7 rounds and the best of
each is kept, so a slow spell of a shared machine slows them all alike.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import ahocorasick

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from benchdata import NEWS, add_data_option, data_files  # noqa: E402

from watchers.config.load import load_config  # noqa: E402
from watchers.detection.rules import compile_rules  # noqa: E402
from watchers.detection.textmatch import fold_phrase  # noqa: E402
from watchers.models import Item  # noqa: E402

ROUNDS = 7


def read_texts(path: Path) -> list[str]:
    """title + newline + summary of each item."""
    with path.open(encoding="utf-8") as f:
        items = [json.loads(line) for line in f if line.strip()]
    return [f"{i['title']}\n{i.get('summary', '')}" for i in items]


def best_rates(runs: list, texts: list[str]) -> list[float]:
    """Best items/s of each run over a few rounds, the runs taking turns within a round so
    that a slow spell of a shared machine slows them all alike."""
    best = [float("inf")] * len(runs)
    for _ in range(ROUNDS):
        for n, run in enumerate(runs):
            start = time.perf_counter()
            run(texts)
            best[n] = min(best[n], time.perf_counter() - start)
    return [len(texts) / seconds for seconds in best]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser)
    (news,) = data_files(parser.parse_args().data, NEWS)
    texts = read_texts(news)
    rules = compile_rules(load_config(ROOT / "config.toml"))
    matcher, detector = rules.matcher, rules.detector
    phrases = [*rules.gazetteer.phrases(), *detector.phrases(), *((t, t) for t in rules._folded)]
    items = [Item(str(n), text) for n, text in enumerate(texts)]
    automaton = ahocorasick.Automaton()
    for phrase, _key in phrases:
        folded = fold_phrase(phrase.lstrip("=").rstrip("*"))
        automaton.add_word(folded, folded)
    automaton.make_automaton()

    def raw(batch: list[str]) -> None:
        for text in batch:
            for _ in automaton.iter(text.lower()):
                pass

    def ours(batch: list[str]) -> None:
        for item in items:
            rules.match(item)

    def match_only(batch: list[str]) -> None:
        for text in batch:
            matcher.find(text)

    hits = [matcher.find(text) for text in texts]

    def detect_only(batch: list[str]) -> None:
        for text, found in zip(batch, hits, strict=True):
            detector.detect(text, found, rules.floor)

    raw_rate, our_rate, match_rate, detect_rate = best_rates(
        [raw, ours, match_only, detect_only], texts
    )
    print(f"texts={len(texts)} phrases={len(phrases)}")
    print(f"raw pyahocorasick: {raw_rate:,.0f} items/s")
    print(f"default rules:     {our_rate:,.0f} items/s (RuleSet.match: all of it)")
    print(f"  match alone:     {match_rate:,.0f} items/s (PhraseMatcher.find)")
    print(f"  detect alone:    {detect_rate:,.0f} items/s (Detector.detect on found hits)")
    print(f"ratio: {our_rate / raw_rate:.1%} of raw (target >= 30%)")


if __name__ == "__main__":
    main()
