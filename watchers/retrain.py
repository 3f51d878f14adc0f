"""Retraining with the channel's corrections: `bot.py train --with-feedback` and `bot.py eval`.

The labels admins stored with /wrong and /missed (watchers/corrections.py) become labelled
records beside the labelled news; `eval` trains a candidate model in memory and shows what
it would change against the shipped one before anyone adopts it. It writes no model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from watchers.detection.model import Model, load_model
from watchers.detection.train import (
    LABELLED_FILE,
    Example,
    Reader,
    read_labelled,
    train_on,
    verdict_changes,
)
from watchers.errors import ArmswatchError
from watchers.models import Label
from watchers.store.sqlite import open_store

SHOWN = 20  # titles listed per change, by default


def labelled_data(given: str | None) -> Path:
    """The labelled news file given (--data), or the repository's; ArmswatchError if missing."""
    data = Path(given) if given else LABELLED_FILE
    if not data.exists():
        raise ArmswatchError(
            f"{data}: no labelled news (a checkout has data/labelled/news.jsonl.gz; "
            "give another with --data)"
        )
    return data


def read_feedback(
    path: Path, items: bool = False
) -> tuple[list[dict], int, list[tuple[str, str, str]]]:
    """From the database: the stored labels with a title as records, how many had none,
    and with `items` the stored items' (id, title, summary). None before the first poll."""
    if not path.exists():
        return [], 0, []
    store = open_store(path)
    try:
        records, skipped = feedback_records(store.labels())
        texts = store.item_texts() if items else []
    finally:
        store.close()
    return records, skipped, texts


def feedback_records(labels: Sequence[Label]) -> tuple[list[dict], int]:
    """The labels with a title as labelled records, and how many were skipped (no title)."""
    records = [
        {
            "id": f"fb{label.id}",
            "title": label.title,
            "summary": label.summary,
            "label": label.label,
            "published": datetime.fromtimestamp(label.created_at, UTC).isoformat(),
        }
        for label in labels
        if label.title.strip()
    ]
    return records, len(labels) - len(records)


@dataclass(frozen=True)
class Evaluation:
    """What eval compares: the two models and the items read by the detector."""

    shipped: Model
    candidate: Model
    stored: list[Example]  # the items in the database
    labelled: list[Example]  # the labelled news
    feedback: list[Example]  # the stored labels with a title
    trained_on_feedback: bool


def evaluate(data: Path, path: Path, with_feedback: bool) -> tuple[Evaluation, int]:
    """A candidate trained in memory on the labelled news (and the stored labels) beside
    the shipped model, and how many stored labels had no title."""
    records, skipped, items = read_feedback(path, items=True)
    candidate = train_on(data, records if with_feedback else [])
    reader = Reader()
    evaluation = Evaluation(
        shipped=load_model(),
        candidate=candidate,
        stored=read_examples(reader, stored_records(items)),
        labelled=read_examples(reader, read_labelled(data)),
        feedback=read_examples(reader, records),
        trained_on_feedback=with_feedback,
    )
    return evaluation, skipped


def read_examples(reader: Reader, records: Sequence[dict]) -> list[Example]:
    """Each record as the detector reads it."""
    return [reader.example(record) for record in records]


def stored_records(items: Sequence[tuple[str, str, str]]) -> list[dict]:
    """Stored items (id, title, summary) as unlabelled records."""
    return [{"id": i, "title": t, "summary": s, "label": 0} for i, t, s in items]


def report(evaluation: Evaluation, shown: int = SHOWN) -> list[str]:
    """The lines eval prints: changes on the stored items and the labelled news, and how
    many stored labels each model gets right."""
    e = evaluation
    lines = [describe(e.candidate, e.trained_on_feedback)]
    lines += changes("stored items", e.shipped, e.candidate, e.stored, shown)
    lines += changes("labelled news", e.shipped, e.candidate, e.labelled, shown, labelled=True)
    total = len(e.feedback)
    right = [sum(agrees(model, x) for x in e.feedback) for model in (e.shipped, e.candidate)]
    line = f"stored labels ({total} with a title): shipped model right on {right[0]}, "
    line += f"candidate right on {right[1]}"
    if e.trained_on_feedback and total:
        line += " (the candidate was trained on them)"
    return [*lines, line]


def describe(model: Model, with_feedback: bool) -> str:
    """One line about the candidate model."""
    about = model.about
    used = f", {about.get('feedback', 0)} of them stored labels" if with_feedback else ""
    return (
        f"candidate: trained on {about['items']} items{used} ({about['read']} read by the "
        f"model, {about['transfers']} transfers), cross-validated F1 {about.get('cv_f1')}"
    )


def changes(
    what: str,
    shipped: Model,
    candidate: Model,
    examples: Sequence[Example],
    shown: int,
    labelled: bool = False,
) -> list[str]:
    """The count line and up to `shown` titles of items newly alerted and newly dropped
    (with their label, for labelled items)."""
    alerted, dropped = verdict_changes(shipped, candidate, examples)
    lines = [
        f"{what} ({len(examples)}): {len(alerted)} newly alerted, {len(dropped)} newly dropped"
    ]
    for mark, found in (("+", alerted), ("-", dropped)):
        for x in found[:shown]:
            label = f"  [label {x.label}]" if labelled else ""
            lines.append(f"  {mark} {x.record['title']}{label}")
        if len(found) > shown:
            lines.append(f"  {mark} … and {len(found) - shown} more")
    return lines


def agrees(model: Model, example: Example) -> bool:
    """The model's verdict is the example's label (an item its quick check stops is 0)."""
    alerts = example.features is not None and model.score(example.features) >= 0.5
    return alerts == bool(example.label)
