"""Measure the arms-transfer detector on the labelled dev items; list what it flags elsewhere.

    python bench/eval_detection.py                # through `python bot.py score` if bot.py exists
    python bench/eval_detection.py --direct       # call the Detector in-process
    python bench/eval_detection.py --flags agnews # list what it flags on AG News 2004
    python bench/eval_detection.py --flags ukru   # ... on the Ukrainian/Russian items

Prints precision, recall, F1 and role accuracy (supplier AND recipient both right on the
true positives), then the false positives and false negatives by title.

Role labels are free text ("US", "US, UK", "NATO allies", "Western backers"). Each is split
on ",", "/", "+" and " and ", and each part is mapped to canonical actors: through the
gazetteer (so "US" -> United States, "UK" -> United Kingdom, "Pyongyang" -> North Korea,
"US smuggling ring" -> United States) or, for collective labels, to the collective class.
NATO, the European Union, the G7, the Ramstein group, "Western allies" and "Europe" form
one collective class: "NATO allies" is right when the detector says Western allies, and
"European nations" when it says NATO. A predicted side is right when it shares an actor
with the label's side; a label part that names no actor ("businessman", "Viktor Bout")
accepts any prediction for that side.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from watchers.detection.detect import Detector  # noqa: E402
from watchers.detection.entities import Gazetteer  # noqa: E402
from watchers.detection.textmatch import PhraseMatcher  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "news"
COLLECTIVE = frozenset(
    {"NATO", "European Union", "G7", "Ramstein group", "Western allies", "Europe"}
)
COLLECTIVE_WORDS = re.compile(r"\b(allies|backers|western|european|nations|nato|g7)\b", re.I)


def read_jsonl(path: Path) -> list[dict]:
    """Items of a JSONL file."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_labels(path: Path) -> dict[str, dict]:
    """Label rows by id."""
    with path.open(encoding="utf-8") as f:
        return {row["id"]: row for row in csv.DictReader(f, delimiter="\t")}


def read_agnews(path: Path) -> list[dict]:
    """AG News rows as items (ids a00001...)."""
    with path.open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return [
        {"id": f"a{i:05d}", "title": r[1].replace("\\", " "), "summary": r[2].replace("\\", " ")}
        for i, r in enumerate(rows, 1)
    ]


def score_direct(items: list[dict]) -> dict[str, dict]:
    """Run the Detector in-process; results in the shape of `bot.py score` lines."""
    gazetteer = Gazetteer.load()
    detector = Detector(gazetteer)
    matcher = PhraseMatcher([*gazetteer.phrases(), *detector.phrases()])
    out = {}
    for item in items:
        text = f"{item['title']}\n{item.get('summary', '')}"
        d = detector.detect(text, matcher.find(text))
        out[item["id"]] = {
            "alert": d.score >= 0.5,
            "score": d.score,
            "supplier": list(d.supplier),
            "recipient": list(d.recipient),
            "weapons": [w.name for w in d.weapons],
            "status": d.status,
        }
    return out


def score_with_bot(items: list[dict]) -> dict[str, dict]:
    """Run `python bot.py score FILE --config config.toml`; results by id."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "items.jsonl"
        path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
        cmd = [sys.executable, "bot.py", "score", str(path), "--config", "config.toml"]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return {r["id"]: r for r in map(json.loads, done.stdout.splitlines()) if r}


def label_actors(label: str, gazetteer: Gazetteer, matcher: PhraseMatcher) -> set[str] | None:
    """Canonical actors of one label side; None when it names no actor (any is right)."""
    actors: set[str] = set()
    for part in re.split(r",|/|\+|\band\b", label):
        if COLLECTIVE_WORDS.search(part):
            actors |= COLLECTIVE
        for mention in gazetteer.mentions(matcher.find(part)):
            actor = gazetteer.actor_of(mention.entity)
            actors |= COLLECTIVE if actor in COLLECTIVE else {actor} if actor else set()
    return actors or None


def side_right(predicted: list[str], label: str, gazetteer, matcher) -> bool:
    """Whether a predicted side shares an actor with the label's side."""
    gold = label_actors(label, gazetteer, matcher)
    if gold is None:
        return True
    said = {a for p in predicted for a in (COLLECTIVE if p in COLLECTIVE else {p})}
    return bool(said & gold)


def evaluate(results: dict[str, dict], labels: dict[str, dict], items: dict[str, dict]) -> None:
    """Print P/R/F1, role accuracy, and the FPs and FNs by title."""
    gazetteer = Gazetteer.load()
    matcher = PhraseMatcher(gazetteer.phrases())
    tp, fp, fn, roles_ok = [], [], [], 0
    for item_id, label in labels.items():
        flagged, positive = bool(results[item_id]["alert"]), label["label"] == "1"
        if flagged and positive:
            tp.append(item_id)
            r = results[item_id]
            ok = side_right(r["supplier"], label["supplier"], gazetteer, matcher)
            ok = ok and side_right(r["recipient"], label["recipient"], gazetteer, matcher)
            roles_ok += ok
            if not ok:
                print(
                    f"ROLE {item_id} said {r['supplier']}->{r['recipient']} "
                    f"label {label['supplier']}->{label['recipient']}: {items[item_id]['title']}"
                )
        elif flagged:
            fp.append(item_id)
        elif positive:
            fn.append(item_id)
    for name, ids in (("FP", fp), ("FN", fn)):
        for item_id in ids:
            r = results[item_id]
            print(
                f"{name} {item_id} {r.get('score', '')} [{labels[item_id]['kind']}] "
                f"{items[item_id]['title'][:110]}"
            )
    precision = len(tp) / max(1, len(tp) + len(fp))
    recall = len(tp) / max(1, len(tp) + len(fn))
    f1 = 2 * precision * recall / max(1e-9, precision + recall)
    print(f"\nitems={len(labels)} positives={len(tp) + len(fn)} flagged={len(tp) + len(fp)}")
    print(
        f"precision={precision:.3f} recall={recall:.3f} F1={f1:.3f} "
        f"roles={roles_ok}/{len(tp)}={roles_ok / max(1, len(tp)):.3f}"
    )


def list_flags(results: dict[str, dict], items: list[dict]) -> None:
    """Print every flagged item with its roles."""
    flagged = [i for i in items if results[i["id"]]["alert"]]
    for item in flagged:
        r = results[item["id"]]
        print(
            f"{item['id']} {r.get('score', '')} {r['supplier']}->{r['recipient']} "
            f"{r['weapons'][:3]} | {item['title'][:100]}"
        )
    print(f"\nflagged {len(flagged)} of {len(items)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--direct", action="store_true", help="call the Detector in-process")
    parser.add_argument("--flags", choices=("agnews", "ukru"), help="list flags on a corpus")
    args = parser.parse_args()
    run = score_direct if args.direct or not (ROOT / "bot.py").exists() else score_with_bot
    if args.flags:
        items = (
            read_agnews(DATA / "test.csv")
            if args.flags == "agnews"
            else read_jsonl(DATA / "ukru_news.jsonl")
        )
        list_flags(run(items), items)
        return
    labels = read_labels(DATA / "labels-dev.tsv")
    items = {i["id"]: i for i in read_jsonl(DATA / "rss2022_2023.jsonl") if i["id"] in labels}
    evaluate(run(list(items.values())), labels, items)


if __name__ == "__main__":
    main()
