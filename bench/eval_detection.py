"""Measure the arms-transfer detector only on items its model was not fitted or tuned on.

    python bench/eval_detection.py                      # the repository's labelled news
    python bench/eval_detection.py --data FILE.jsonl.gz # another labelled file, same keys
    python bench/eval_detection.py --errors             # also list each split's FPs and FNs
    python bench/eval_detection.py --flags FILE         # what the shipped model flags in an
                                                        # unlabelled JSONL or AG News CSV file
    python bench/eval_detection.py --translated FILE    # Russian/Ukrainian translations to
                                                        # score (default: data/labelled/)

Three measurements, each fitting the whole training (C and the operating point chosen by
cross-validation inside the training items, as `bot.py train` does) on one part and
testing on the rest:
  1. fitted on items published before 2023-07, tested on 2023-07..12;
  2. the reverse: fitted on 2023-07..12, tested on everything before;
  3. 5-fold cross-validation, grouped so that reports of one story stay in one fold.
Each prints precision, recall, F1 and role accuracy (supplier AND recipient right on the
true positives), for all test items and for each source set (ids r/x: the 2022-2023 world
news the issue measured; w: 2021 BBC/CNN; v: keyword-chosen items of 2020-2023). Beside
them, two baselines fitted and tested the same way: a keyword filter (a weapon word and a
transfer word) and TF-IDF words with logistic regression and no reading.

Then the same split-1 model on data/labelled/translated.jsonl.gz: 300 items of its test
half (2023-07..12; 120 transfers), each translated into Russian and into Ukrainian, against
their English originals. Its "dev" half (translation chunks 0 and 1) was read to find what
the Russian and Ukrainian reading lacked; the "test" half was not looked at.

Role labels are free text ("US", "NATO allies"); each is split on ",", "/", "+", ";" and
"and", and each part mapped to canonical actors through the gazetteer. NATO, the EU, the
G7, the Ramstein group, "Western allies" and "Europe" form one collective class. A side is
right when it shares an actor with the label's side; a label side that names no actor
accepts any prediction.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from watchers.detection.model import Model  # noqa: E402
from watchers.detection.sides import choose_sides  # noqa: E402
from watchers.detection.train import (  # noqa: E402
    Example,
    LabelActors,
    Reader,
    grouped_folds,
    read_labelled,
    story_groups,
    train,
)
from watchers.errors import ArmswatchError  # noqa: E402

DATA = ROOT / "data" / "labelled" / "news.jsonl.gz"
TRANSLATED = ROOT / "data" / "labelled" / "translated.jsonl.gz"
SPLIT = "2023-07"
SETS = {"all": "", "2022-23 (r/x)": "rx", "2021 (w)": "w", "keyword-chosen (v)": "v"}
WEAPON_WORDS = re.compile(
    r"\b(weapon\w*|arms|missile\w*|drones?|tanks?|jets?|fighter\w*|f-\d+s?|ammunition|munitions?"
    r"|shells|artillery|howitzer\w*|rocket\w*|air defen[cs]e|submarines?|warships?|helicopters?)\b",
    re.I,
)
TRANSFER_WORDS = re.compile(
    r"\b(sell\w*|sold|sale\w*|buy\w*|bought|purchas\w*|suppl\w*|deliver\w*|send\w*|sent|ship\w*"
    r"|transfer\w*|donat\w*|provid\w*|pledg\w*|aid|deal\w*|contract\w*|approv\w*|export\w*)\b",
    re.I,
)
Found = tuple[bool, bool]  # flagged, and if so whether supplier and recipient are right
Predict = Callable[[Sequence[Example], Sequence[Example]], list[Found]]
NO_SIDES = Model({}, 0.0, {})  # baselines: the reading's roles


def roles_right(example: Example, model: Model, actors: LabelActors) -> bool:
    """Supplier and recipient, as the model's side models choose them, both right."""
    supplier, recipient = example.supplier, example.recipient
    if model.sides:
        supplier, recipient = choose_sides(
            example.candidates, model.sides, supplier, recipient, model.fill
        )
    record = example.record
    return actors.side_right(supplier, record.get("supplier") or "") and actors.side_right(
        recipient, record.get("recipient") or ""
    )


def predict_model(training: Sequence[Example], test: Sequence[Example]) -> list[Found]:
    """The detector: the model trained as `bot.py train` does, at its operating point."""
    return predict_with(train(training, ACTORS), test)


def predict_with(model: Model, test: Sequence[Example]) -> list[Found]:
    """A fitted model's flags at its operating point, with its roles judged."""
    flagged = [e.features is not None and model.score(e.features) >= 0.5 for e in test]
    return [(f, roles_right(e, model, ACTORS)) for f, e in zip(flagged, test, strict=True)]


def predict_keywords(training: Sequence[Example], test: Sequence[Example]) -> list[Found]:
    """Baseline: a weapon word and a transfer word in the title or summary."""
    flagged = [
        bool(WEAPON_WORDS.search(text_of(e)) and TRANSFER_WORDS.search(text_of(e))) for e in test
    ]
    return with_reading_roles(test, flagged)


def predict_tfidf(training: Sequence[Example], test: Sequence[Example]) -> list[Found]:
    """Baseline: TF-IDF words and bigrams, logistic regression, cut chosen on training CV."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x = vectorizer.fit_transform([text_of(e) for e in training])
    y = [e.label for e in training]
    classifier = LogisticRegression(C=10.0, solver="liblinear")
    scores = cross_val_predict(classifier, x, y, cv=5, method="decision_function")
    cut = best_cut(y, list(scores))
    classifier.fit(x, y)
    scores = classifier.decision_function(vectorizer.transform([text_of(e) for e in test]))
    return with_reading_roles(test, [bool(s >= cut) for s in scores])


def with_reading_roles(test: Sequence[Example], flagged: list[bool]) -> list[Found]:
    """Flags with the reading's own roles judged (no side models)."""
    return [(f, roles_right(e, NO_SIDES, ACTORS)) for f, e in zip(flagged, test, strict=True)]


def best_cut(labels: Sequence[int], scores: Sequence[float]) -> float:
    """The score cut with the best F1."""
    positives, best, cut, tp, fp = sum(labels), 0.0, 0.0, 0, 0
    for score, label in sorted(zip(scores, labels, strict=True), reverse=True):
        tp, fp = tp + label, fp + 1 - label
        f1 = 2 * tp / (tp + fp + positives)
        if f1 > best:
            best, cut = f1, score
    return cut


def text_of(example: Example) -> str:
    """Title and summary."""
    return f"{example.record['title']}\n{example.record.get('summary') or ''}"


def figures(test: Sequence[Example], found: Sequence[Found]) -> str:
    """Precision, recall, F1 and role accuracy of one prediction."""
    pairs = list(zip(test, found, strict=True))
    tp = [ok for e, (f, ok) in pairs if f and e.label]
    fp = sum(1 for e, (f, _) in pairs if f and not e.label)
    fn = sum(1 for e, (f, _) in pairs if not f and e.label)
    if not tp and not fn:
        return "no transfers"
    precision = len(tp) / max(1, len(tp) + fp)
    recall = len(tp) / (len(tp) + fn)
    f1 = 2 * precision * recall / max(1e-9, precision + recall)
    right = sum(tp)
    return (
        f"P={precision:.3f} R={recall:.3f} F1={f1:.3f} roles={right}/{len(tp)}="
        f"{right / max(1, len(tp)):.3f}  (items {len(test)}, transfers {len(tp) + fn})"
    )


def report(name: str, test: Sequence[Example], found: Sequence[Found]) -> None:
    """Figures for all test items and for each source set."""
    print(f"  {name}")
    for label, prefixes in SETS.items():
        chosen = [i for i, e in enumerate(test) if not prefixes or e.id[0] in prefixes]
        if chosen:
            part = [test[i] for i in chosen]
            print(f"    {label:20} {figures(part, [found[i] for i in chosen])}")


def list_errors(test: Sequence[Example], found: Sequence[Found]) -> None:
    """The false positives, false negatives and wrong roles, by title."""
    for e, (f, ok) in zip(test, found, strict=True):
        name = "FP" if f and not e.label else "FN" if e.label and not f else ""
        name = name or ("ROLES" if f and not ok else "")
        if name:
            print(f"      {name} {e.id} {e.record['title'][:100]} | {e.record.get('note', '')}")


def cross_validated(examples: Sequence[Example], predict: Predict) -> list[Found]:
    """Each example's prediction from a fit on the other folds (grouped by story)."""
    flagged = [(False, False)] * len(examples)
    for test_indices in grouped_folds(story_groups(examples)):
        held = set(test_indices)
        training = [e for i, e in enumerate(examples) if i not in held]
        test = [examples[i] for i in test_indices]
        for i, f in zip(test_indices, predict(training, test), strict=True):
            flagged[i] = f
    return flagged


def evaluate(examples: list[Example], translated: list[Example], show_errors: bool) -> None:
    """The three measurements, the detector and the baselines, and the translations."""
    early = [e for e in examples if e.published < SPLIT]
    late = [e for e in examples if e.published >= SPLIT]
    predictors = {"detector": predict_model, "keywords": predict_keywords, "tfidf": predict_tfidf}
    for title, training, test in (
        (f"1. fitted before {SPLIT}, tested {SPLIT}..", early, late),
        (f"2. fitted {SPLIT}.., tested before {SPLIT}", late, early),
    ):
        print(title)
        for name, predict in predictors.items():
            flagged = predict(training, test)
            report(name, test, flagged)
            if show_errors and name == "detector":
                list_errors(test, flagged)
    print("3. 5-fold cross-validation grouped by story")
    for name, predict in predictors.items():
        report(name, examples, cross_validated(examples, predict))
    if translated:
        report_translated(train(early, ACTORS), examples, translated, show_errors)


def report_translated(
    model: Model, examples: Sequence[Example], translated: Sequence[Example], show_errors: bool
) -> None:
    """The split-1 model on the Russian and Ukrainian translations of some of its test
    items and on their English originals, by half (dev was read, test was not)."""
    by_id = {e.id: e for e in examples}
    originals = [e.record["original"] for e in translated]
    fitted = [i for i in originals if by_id[i].published < SPLIT]
    if fitted:
        raise ArmswatchError(f"translations of items the model was fitted on: {fitted[:3]}")
    print("4. the split-1 model on translations of its test items (Russian, Ukrainian)")
    for half in ("dev", "test"):
        part = [e for e in translated if e.record.get("half") == half]
        originals = [by_id[i] for i in dict.fromkeys(e.record["original"] for e in part)]
        print(f"  {half} half")
        for lang, test in (
            ("en (originals)", originals),
            ("ru", [e for e in part if e.record["lang"] == "ru"]),
            ("uk", [e for e in part if e.record["lang"] == "uk"]),
        ):
            found = predict_with(model, test)
            print(f"    {lang:20} {figures(test, found)}")
            if show_errors and lang != "en (originals)":
                list_errors(test, found)


def read_unlabelled(path: Path) -> list[dict]:
    """Items of a JSONL file, or of an AG News CSV (class, title, description)."""
    with path.open(encoding="utf-8") as f:
        if path.suffix == ".csv":
            rows = list(csv.reader(f))
            return [
                {"id": f"a{i:05d}", "title": r[1], "summary": r[2]} for i, r in enumerate(rows, 1)
            ]
        return [json.loads(line) for line in f if line.strip()]


def list_flags(path: Path) -> None:
    """What the shipped model flags in an unlabelled file, with its roles."""
    from watchers.config.load import load_config
    from watchers.detection.rules import compile_rules
    from watchers.models import Item

    rules = compile_rules(load_config(ROOT / "config.toml"))
    items = read_unlabelled(path)
    flagged = 0
    for record in items:
        item = Item(str(record["id"]), record["title"], record.get("summary") or "")
        d = rules.match(item).detection
        if d.score >= 0.5:
            flagged += 1
            sides = f"{list(d.supplier)}->{list(d.recipient)}"
            print(f"{item.id} {d.score:.2f} {sides} | {item.title[:90]}")
    print(f"\nflagged {flagged} of {len(items)}")


ACTORS = LabelActors()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="labelled JSONL(.gz)")
    parser.add_argument("--errors", action="store_true", help="list FPs and FNs per split")
    parser.add_argument("--flags", type=Path, help="list what the model flags in this file")
    parser.add_argument(
        "--translated", type=Path, default=TRANSLATED, help="labelled translations (JSONL.gz)"
    )
    args = parser.parse_args()
    try:
        if args.flags:
            list_flags(args.flags)
            return 0
        reader = Reader()
        examples = [reader.example(record) for record in read_labelled(args.data)]
        translated = [reader.example(record) for record in read_labelled(args.translated)]
        evaluate(examples, translated, args.errors)
    except (ArmswatchError, OSError) as exc:
        print(f"eval_detection: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
