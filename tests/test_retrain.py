"""The channel's labels as training records, and eval's report of two models' changes."""

from __future__ import annotations

import pytest

from watchers.detection.model import Model
from watchers.detection.train import Example
from watchers.models import Label
from watchers.retrain import agrees, changes, feedback_records


def label(id_: int, title: str, value: int = 1, summary: str = "") -> Label:
    return Label(value, "missed", 1, "@c", 1704369600.0, None, "", title, summary, "", id_)


@pytest.mark.parametrize(
    "labels,used,skipped",
    [
        ([], [], 0),
        ([label(3, "Norway to send NASAMS")], [("fb3", 1)], 0),
        ([label(1, ""), label(2, "  "), label(4, "Real", value=0)], [("fb4", 0)], 2),
    ],
)
def test_only_labels_with_a_title_are_used(labels, used, skipped):
    records, left = feedback_records(labels)
    assert [(r["id"], r["label"]) for r in records] == used and left == skipped


def test_a_label_becomes_a_labelled_record():
    (record,), _ = feedback_records([label(3, "Norway to send NASAMS", summary="Two more.")])
    assert record == {
        "id": "fb3",
        "title": "Norway to send NASAMS",
        "summary": "Two more.",
        "label": 1,
        "published": "2024-01-04T12:00:00+00:00",
    }


def example(title: str, features: set[str] | None, value: int = 0) -> Example:
    frozen = None if features is None else frozenset(features)
    return Example(title, "", value, frozen, {"title": title})


OLD = Model({"a": 1.0}, -0.5, {})  # alerts on a
NEW = Model({"b": 1.0}, -0.5, {})  # alerts on b

CASES = [
    ([], 5, False, ["x (0): 0 newly alerted, 0 newly dropped"]),
    (
        [example("A", {"a"}), example("B", {"b"}, 1), example("AB", {"a", "b"}),
         example("none", None, 1)],
        5,
        True,
        ["x (4): 1 newly alerted, 1 newly dropped", "  + B  [label 1]", "  - A  [label 0]"],
    ),
    (
        [example(f"B{i}", {"b"}) for i in range(4)],
        2,
        False,
        ["x (4): 4 newly alerted, 0 newly dropped", "  + B0", "  + B1", "  + … and 2 more"],
    ),
]  # fmt: skip


@pytest.mark.parametrize("examples,shown,labelled,lines", CASES)
def test_changes_lists_at_most_shown_titles_and_counts_all(examples, shown, labelled, lines):
    assert changes("x", OLD, NEW, examples, shown, labelled) == lines


@pytest.mark.parametrize(
    "features,value,right",
    [({"a"}, 1, True), ({"a"}, 0, False), ({"b"}, 0, True), (None, 0, True), (None, 1, False)],
)
def test_agrees(features, value, right):
    assert agrees(OLD, example("t", features, value)) is right
