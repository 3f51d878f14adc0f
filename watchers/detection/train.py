"""Build the learned verdict from labelled news: `bot.py train`.

Every labelled item is read by the detector (the same reading the daemon does); the items
its quick check lets through become feature sets (watchers/detection/features.py), and a
logistic regression (scikit-learn, liblinear, L2) is fitted on them. The regularisation C,
the weight of labels marked unsure and the operating point (the best F1 at a precision of
at least MIN_PRECISION) are chosen by grouped cross-validation on the training items alone
(reports of one story stay in one fold); the operating point is then raised, if need be,
to the one that holds that precision forward in time, each fifth of the items by date
scored by a model fitted on the ones before it (forward_cut), and the intercept is shifted
so that a score of 0.5 is that operating point. Deterministic: the same data gives a
byte-equal model file.

scikit-learn is imported only here: the daemon reads the JSON the training writes.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from watchers.detection.detect import Detector
from watchers.detection.entities import Gazetteer
from watchers.detection.features import item_features
from watchers.detection.model import Model
from watchers.detection.morph import LEMMA_FILE, lemma_table_text
from watchers.detection.sides import FILL_SCORE, SIDES, SideModel, choose_sides
from watchers.detection.textmatch import PhraseMatcher
from watchers.errors import ConfigError

LABELLED_FILE = Path(__file__).resolve().parents[2] / "data" / "labelled" / "news.jsonl.gz"
C_GRID = (0.03, 0.1, 0.3, 1.0)
# What an item weighs in fitting when its labeller marked it `unsure` (LABEL_GUIDE.md: a
# judgement call); chosen with C by cross-validation, which still scores every item in full.
UNSURE_WEIGHTS = (1.0, 0.3)
# The channel's precision target (issue 11): the operating point is the best F1 among the
# cuts whose cross-validated precision reaches it.
MIN_PRECISION = 0.85
SIDE_C = 0.5
# The least side-model score that fills a side the models left empty (sides.py), chosen by
# grouped cross-validation of the side models on the labelled transfers.
FILL_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
COLLECTIVE = frozenset({"NATO", "European Union", "G7", "Ramstein group", "Western allies"})
COLLECTIVE |= {"Europe"}
_COLLECTIVE_WORDS = re.compile(r"\b(allies|backers|western|european|nations|nato|g7)\b", re.I)
_LABEL_PARTS = re.compile(r",|/|\+|;|\band\b")
MIN_COUNT = 2  # a feature seen once in the training items is left out
FOLDS = 5
_WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)


@dataclass
class Example:
    """One labelled item as the model sees it."""

    id: str
    published: str
    label: int
    features: frozenset[str] | None  # None: the quick check stops it (scored 0)
    record: dict
    supplier: tuple[str, ...] = ()  # the roles the reading found
    recipient: tuple[str, ...] = ()
    candidates: dict[str, list[str]] = field(default_factory=dict)  # actor -> side features

    @property
    def unsure(self) -> bool:
        """The labeller marked the label a judgement call."""
        return "unsure" in str(self.record.get("note") or "")


def read_labelled(path: Path) -> list[dict]:
    """Labelled items from a JSON Lines file (gzip when it ends in .gz); errors name the line."""
    opener = gzip.open if path.suffix == ".gz" else open
    items = []
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    items.append(parse_labelled(line, f"{path} line {number}"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read labelled news: {exc}") from exc
    return items


def parse_labelled(line: str, where: str) -> dict:
    """One labelled item: id, title, label 0/1 required."""
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise ConfigError(f"{where}: not JSON: {exc}") from exc
    if not isinstance(record, dict) or not record.get("id") or record.get("label") not in (0, 1):
        raise ConfigError(f"{where}: needs an id and a label of 0 or 1")
    if not isinstance(record.get("title"), str):
        raise ConfigError(f"{where}: needs a title")
    return record


class Reader:
    """The detector's reading of labelled items, with a matcher of its own."""

    def __init__(self, gazetteer: Gazetteer | None = None):
        gazetteer = gazetteer or Gazetteer.load()
        self.detector = Detector(gazetteer)
        self.matcher = self.detector.matcher()

    def example(self, record: dict) -> Example:
        """Features of one labelled item (None when the quick check stops it)."""
        text = f"{record['title']}\n{record.get('summary') or ''}".strip()
        text = self.detector.reading_text(text)
        hits = self.matcher.find(text)
        published = str(record.get("published") or "")
        example = Example(record["id"], published, int(record["label"]), None, record)
        if self.detector.could_be_transfer(hits, text):
            reading = self.detector.read_item(text, hits)
            found = item_features(
                text, reading.marks, reading.detection, reading.readings, self.detector.context
            )
            example.features = frozenset(found)
            example.supplier = reading.detection.supplier
            example.recipient = reading.detection.recipient
            example.candidates = self.detector.candidates(text, reading)
        return example


class LabelActors:
    """The canonical actors a label's free-text side names ("US, UK" -> United States, ...).

    Each side is split on ",", "/", "+", ";" and "and", and each part mapped through the
    gazetteer; collective words ("NATO allies", "Western countries") stand for the
    collective class (NATO, the EU, the G7, the Ramstein group, Western allies, Europe).
    """

    def __init__(self, gazetteer: Gazetteer | None = None):
        self.gazetteer = gazetteer or Gazetteer.load()
        self.matcher = PhraseMatcher(self.gazetteer.phrases())

    def actors(self, label: str) -> set[str] | None:
        """Canonical actors of one label side; None when it names no actor."""
        actors: set[str] = set()
        for part in _LABEL_PARTS.split(label):
            if _COLLECTIVE_WORDS.search(part):
                actors |= COLLECTIVE
            for mention in self.gazetteer.mentions(self.matcher.find(part)):
                actor = self.gazetteer.actor_of(mention.entity)
                actors |= COLLECTIVE if actor in COLLECTIVE else {actor} if actor else set()
        return actors or None

    def side_right(self, predicted: Sequence[str], label: str) -> bool:
        """A predicted side shares an actor with the label's side (or the label names none)."""
        gold = self.actors(label)
        if gold is None:
            return True
        return bool(expand_collective(predicted) & gold)


def expand_collective(names: Sequence[str]) -> set[str]:
    """Names, each collective one standing for the whole collective class."""
    return {a for n in names for a in (COLLECTIVE if n in COLLECTIVE else {n})}


def fit_sides(examples: Sequence[Example], labels: LabelActors) -> dict[str, SideModel]:
    """The supplier and recipient models, from the actors of the labelled transfers."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    models = {}
    for side in SIDES:
        rows, y = [], []
        for example in examples:
            gold = labels.actors(example.record.get(side) or "") if example.label else None
            if gold is None:
                continue
            for name, features in example.candidates.items():
                rows.append(dict.fromkeys(features, 1))
                y.append(int(bool(expand_collective([name]) & gold)))
        if len(set(y)) < 2:
            continue
        vectorizer = DictVectorizer(sort=True)
        x = int32_indices(vectorizer.fit_transform(rows))
        classifier = LogisticRegression(C=SIDE_C, solver="liblinear", random_state=0)
        classifier.fit(x, y)
        names = vectorizer.get_feature_names_out()
        weights = {str(n): float(w) for n, w in zip(names, classifier.coef_[0], strict=True)}
        models[side] = SideModel(weights, float(classifier.intercept_[0]))
    return models


def int32_indices(x):
    """A CSR matrix with the 32-bit indices liblinear takes."""
    x = x.tocsr()
    x.indices, x.indptr = x.indices.astype("int32"), x.indptr.astype("int32")
    return x


def story_groups(examples: Sequence[Example]) -> list[int]:
    """A group per story: transfer reports of the same parties or words within 7 days join.

    Negatives are their own groups. Used so that cross-validation never tests on a report
    of a story it was fitted on.
    """
    parent = list(range(len(examples)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    positives = [i for i, e in enumerate(examples) if e.label == 1]
    words = {i: set(_WORD.findall(examples[i].record["title"].lower())) for i in positives}
    days = {i: day_number(examples[i].published) for i in positives}
    for a_index, a in enumerate(positives):
        for b in positives[a_index + 1 :]:
            if abs(days[a] - days[b]) > 7:
                continue
            if same_parties(examples[a], examples[b]) or jaccard(words[a], words[b]) >= 0.3:
                parent[find(a)] = find(b)
    return [find(i) for i in range(len(examples))]


def day_number(published: str) -> int:
    """Days since 2000-01-01 of an ISO date (0 when it cannot be read)."""
    try:
        year, month, day = int(published[:4]), int(published[5:7]), int(published[8:10])
    except ValueError:
        return 0
    return year * 372 + month * 31 + day


def same_parties(a: Example, b: Example) -> bool:
    """Both labels name the same supplier and recipient (and name them)."""
    sa, ra = a.record.get("supplier", ""), a.record.get("recipient", "")
    return bool(sa and ra) and (sa, ra) == (b.record.get("supplier"), b.record.get("recipient"))


def jaccard(a: set[str], b: set[str]) -> float:
    """Overlap of two word sets."""
    return len(a & b) / len(a | b) if a and b else 0.0


def fit(examples: Sequence[Example], c: float, shift: float = 0.0, unsure: float = 1.0) -> Model:
    """A logistic regression on the examples the quick check lets through; those marked
    unsure weigh `unsure`."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    seen = [e for e in examples if e.features is not None]
    counts = Counter(f for e in seen for f in e.features)
    kept = [{f: 1 for f in sorted(e.features) if counts[f] >= MIN_COUNT} for e in seen]
    vectorizer = DictVectorizer(sort=True)
    x = int32_indices(vectorizer.fit_transform(kept))
    y = [e.label for e in seen]
    sample_weights = [unsure if e.unsure else 1.0 for e in seen]
    classifier = LogisticRegression(C=c, solver="liblinear", max_iter=1000, random_state=0)
    classifier.fit(x, y, sample_weight=sample_weights)
    names = vectorizer.get_feature_names_out()
    weights = {str(n): float(w) for n, w in zip(names, classifier.coef_[0], strict=True)}
    intercept = float(classifier.intercept_[0]) - shift
    about = {"C": c, "unsure_weight": unsure, "items": len(examples), "read": len(seen)}
    about["transfers"] = sum(y)
    return Model(weights, intercept, about)


def grouped_folds(groups: Sequence[int], folds: int = FOLDS) -> list[list[int]]:
    """Indices of each fold, whole groups at a time, deterministic."""
    from sklearn.model_selection import GroupKFold

    splitter = GroupKFold(n_splits=folds)
    index = list(range(len(groups)))
    return [list(test) for _, test in splitter.split(index, groups=groups)]


def out_of_fold_logits(
    examples: Sequence[Example], c: float, unsure: float, folds: list[list[int]]
) -> list[float | None]:
    """Each example's logit from a model fitted on the other folds (None: not read)."""
    logits: list[float | None] = [None] * len(examples)
    for test in folds:
        held = set(test)
        model = fit([e for i, e in enumerate(examples) if i not in held], c, unsure=unsure)
        for i in test:
            features = examples[i].features
            logits[i] = None if features is None else model.logit(features)
    return logits


def best_f1_cut(
    labels: Sequence[int], logits: Sequence[float | None], min_precision: float = MIN_PRECISION
) -> tuple[float, float]:
    """The logit cut with the best F1 among those whose precision reaches min_precision (the
    best F1 of all when none does), and that F1 (items not read count as negatives)."""
    positives = sum(labels)
    scored = sorted(
        ((z, y) for z, y in zip(logits, labels, strict=True) if z is not None), reverse=True
    )
    best, cut, tp, fp = (False, 0.0), 0.0, 0, 0
    for index, (z, y) in enumerate(scored):
        tp, fp = tp + y, fp + (1 - y)
        if index + 1 < len(scored) and scored[index + 1][0] == z:
            continue  # a cut takes every item of a logit or none
        f1 = 2 * tp / (tp + fp + positives) if positives else 0.0
        key = (tp >= min_precision * (tp + fp), f1)
        if key > best:
            best, cut = key, z
    return cut, best[1]


def train(examples: Sequence[Example], actors: LabelActors | None = None) -> Model:
    """Choose C, the weight of unsure labels and the operating point by grouped
    cross-validation, then fit on everything; the side models are fitted on the labelled
    transfers, their fill score chosen by grouped cross-validation too."""
    labels = [e.label for e in examples]
    groups = story_groups(examples)
    folds = grouped_folds(groups)
    trials = []
    for c in C_GRID:
        for unsure in UNSURE_WEIGHTS:
            cut, f1 = best_f1_cut(labels, out_of_fold_logits(examples, c, unsure, folds))
            trials.append((f1, -c, unsure, cut))
    f1, negative_c, unsure, cut = max(trials)
    cut = max(cut, forward_cut(examples, -negative_c, unsure, groups))
    model = fit(examples, -negative_c, shift=cut, unsure=unsure)
    actors = actors or LabelActors()
    model.sides.update(fit_sides(examples, actors))
    model = replace(model, fill=choose_fill(examples, actors, folds))
    model.about["cv_f1"] = round(f1, 4)
    model.about["operating_logit"] = round(cut, 4)
    return model


def forward_cut(
    examples: Sequence[Example], c: float, unsure: float, groups: Sequence[int]
) -> float:
    """The operating point as tomorrow's news would set it: the best F1 at a precision of
    at least MIN_PRECISION over forward_logits (groups: story_groups of the examples)."""
    labels, logits = forward_logits(examples, c, unsure, groups)
    return best_f1_cut(labels, logits)[0] if any(labels) else float("-inf")


def forward_logits(
    examples: Sequence[Example], c: float, unsure: float, groups: Sequence[int]
) -> tuple[list[int], list[float | None]]:
    """The items in FOLDS blocks by publication date, each block after the first scored by
    a model fitted on the blocks before it (less the stories that reach into it): labels
    and logits (None: not read)."""
    order = sorted(range(len(examples)), key=lambda i: examples[i].published)
    size = -(-len(order) // FOLDS)
    blocks = [order[start : start + size] for start in range(0, len(order), size)]
    labels: list[int] = []
    logits: list[float | None] = []
    for index, block in enumerate(blocks[1:], start=1):
        reaching = {groups[i] for i in block}
        earlier = [examples[i] for b in blocks[:index] for i in b if groups[i] not in reaching]
        if not any(e.label for e in earlier) or all(e.label for e in earlier):
            continue
        model = fit(earlier, c, unsure=unsure)
        for example in (examples[i] for i in block):
            labels.append(example.label)
            logits.append(None if example.features is None else model.logit(example.features))
    return labels, logits


def choose_fill(examples: Sequence[Example], actors: LabelActors, folds: list[list[int]]) -> float:
    """The fill score of FILL_GRID under which side models fitted on the other folds get
    the most held-out transfers' supplier and recipient both right (ties: nearest the
    default)."""
    right = dict.fromkeys(FILL_GRID, 0)
    for test in folds:
        held = set(test)
        sides = fit_sides([e for i, e in enumerate(examples) if i not in held], actors)
        for example in (examples[i] for i in test):
            if not example.label or example.features is None:
                continue
            record = example.record
            for fill in FILL_GRID:
                supplier, recipient = choose_sides(
                    example.candidates, sides, example.supplier, example.recipient, fill
                )
                right[fill] += actors.side_right(
                    supplier, record.get("supplier") or ""
                ) and actors.side_right(recipient, record.get("recipient") or "")
    return max(FILL_GRID, key=lambda fill: (right[fill], -abs(fill - FILL_SCORE)))


def train_on(data: Path, extra: Sequence[dict] = ()) -> Model:
    """A model trained on the labelled news and extra labelled items (the channel's
    corrections)."""
    reader = Reader()
    examples = [reader.example(record) for record in [*read_labelled(data), *extra]]
    if not any(e.label for e in examples) or all(e.label for e in examples):
        raise ConfigError(f"{data}: needs items labelled 1 and items labelled 0")
    model = train(examples)
    model.about["data"] = data.name
    if extra:
        model.about["feedback"] = len(extra)
    return model


def build_model(data: Path, out: Path, extra: Sequence[dict] = ()) -> Model:
    """Train as train_on does and write the model file."""
    model = train_on(data, extra)
    out.write_text(model.to_json(), encoding="utf-8")
    return model


def verdict_changes(
    old: Model, new: Model, examples: Sequence[Example]
) -> tuple[list[Example], list[Example]]:
    """The items the new model alerts and the old does not, and the reverse."""
    alerted, dropped = [], []
    for example in examples:
        if example.features is None:
            continue
        before, after = old.score(example.features) >= 0.5, new.score(example.features) >= 0.5
        if after and not before:
            alerted.append(example)
        elif before and not after:
            dropped.append(example)
    return alerted, dropped


def write_lemma_table(path: Path = LEMMA_FILE) -> None:
    """Write the lemma forms of the built-in phrases (watchers/detection/morph.py)."""
    detector = Detector(Gazetteer.load())
    path.write_text(lemma_table_text(detector.builtin_phrases()), encoding="utf-8")
