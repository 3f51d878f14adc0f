"""The learned verdict: the model file, its training, and what the daemon loads."""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from watchers.detection.detect import Detector
from watchers.detection.entities import Gazetteer
from watchers.detection.features import plain_features, weighed_plain_features, word_tokens
from watchers.detection.model import MODEL_FILE, Model, load_model
from watchers.detection.sides import SideModel, choose_sides
from watchers.detection.slots import Mark
from watchers.detection.train import (
    Example,
    best_f1_cut,
    build_model,
    forward_cut,
    forward_logits,
    read_labelled,
    story_groups,
)
from watchers.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "data" / "news" / "labelled_sample.jsonl"


def test_training_is_deterministic_and_the_model_loads(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    model = build_model(SAMPLE, first)
    build_model(SAMPLE, second)
    assert first.read_bytes() == second.read_bytes()
    loaded = load_model(first)
    assert loaded.about["items"] == 200 and loaded.about["transfers"] > 0
    assert loaded.weights == pytest.approx(model.weights, abs=1e-6)


def test_the_operating_point_is_the_best_f1_that_keeps_precision_at_the_target():
    # Ranked by logit: 1 1 0 1 0 1 1 0 (and an unread positive). The best F1 overall is at
    # the last positive (P 5/7, F1 10/13); at a precision of 0.75 or more, 3 of 4 (F1 0.6)
    # beats 2 of 2 (F1 0.5).
    labels = [1, 1, 0, 1, 0, 1, 1, 0, 1]
    logits = [8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, None]
    assert best_f1_cut(labels, logits, min_precision=0.0) == (2.0, pytest.approx(10 / 13))
    assert best_f1_cut(labels, logits, min_precision=0.75) == (5.0, pytest.approx(0.6))
    # No cut reaches it: the best F1 of all.
    assert best_f1_cut(labels, logits, min_precision=1.01) == (2.0, pytest.approx(10 / 13))
    # Items of one logit are flagged together: a cut at 5.0 is one right and one wrong.
    assert best_f1_cut([1, 0, 1], [5.0, 5.0, 1.0], 0.75) == (1.0, pytest.approx(0.8))


def test_the_shipped_model_was_built_from_the_repository_data():
    about = load_model(MODEL_FILE).about
    with gzip.open(ROOT / "data" / "labelled" / "news.jsonl.gz", "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    assert about["items"] == len(records)
    assert about["data"] == "news.jsonl.gz"


def test_translations_are_of_test_items_of_split_one_and_keep_their_labels():
    """bench/eval_detection.py scores the Russian and Ukrainian translations with the model
    fitted on items before 2023-07: each must translate a later item, with its label."""
    labelled = ROOT / "data" / "labelled"
    originals = {r["id"]: r for r in read_labelled(labelled / "news.jsonl.gz")}
    translated = read_labelled(labelled / "translated.jsonl.gz")
    assert {r["lang"] for r in translated} == {"ru", "uk"}
    assert {r["half"] for r in translated} == {"dev", "test"}
    for record in translated:
        original = originals[record["original"]]
        assert original["published"] >= "2023-07", record["id"]
        assert (record["label"], record["supplier"]) == (original["label"], original["supplier"])
        assert record["title"] != original["title"]
    pairs = {(r["original"], r["lang"]) for r in translated}
    assert len(pairs) == len(translated) == 2 * len({r["original"] for r in translated})


def test_the_forward_scores_come_from_models_fitted_on_earlier_news_only():
    examples = []
    for month in range(1, 6):  # five blocks of ten items, one month each
        for n in range(10):
            features = {"a"} if n < 5 else {"b"}
            if month == 5 and n == 0:
                features = {"a", "new"}  # a word the news had not used before
            examples.append(
                Example(
                    f"{month}-{n}",
                    f"2022-0{month}-10",
                    int(n < 5),
                    frozenset(features),
                    {"title": ""},
                )
            )
    groups = story_groups(examples)
    labels, logits = forward_logits(examples, 1.0, 1.0, groups)
    assert labels == [int(n < 5) for _ in range(2, 6) for n in range(10)]  # not the first
    last = logits[-10:]
    assert last[0] == pytest.approx(last[1])  # "new" weighs nothing: not fitted on
    assert min(last[:5]) > max(last[5:])
    assert forward_cut(examples, 1.0, 1.0, groups) == pytest.approx(
        min(logits[i] for i in range(40) if labels[i])
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no model file"),
        ("{not json", "not a model file"),
        ('{"format": 99, "weights": {}, "intercept": 0}', "format 1"),
        ('{"format": 1, "weights": {"a": "x"}, "intercept": 0}', "bad model field"),
    ],
)
def test_a_broken_model_file_is_named(tmp_path, text, problem):
    path = tmp_path / "model.json"
    if text:
        path.write_text(text)
    with pytest.raises(ConfigError, match=problem) as raised:
        load_model(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", "line 2: not JSON"),
        ('{"id": "a", "title": "t", "label": 3}', "line 2: needs an id and a label"),
        ('{"id": "a", "label": 1}', "line 2: needs a title"),
    ],
)
def test_bad_labelled_data_names_the_line(tmp_path, line, problem):
    path = tmp_path / "labelled.jsonl"
    path.write_text('{"id": "ok", "title": "t", "label": 0}\n' + line + "\n")
    with pytest.raises(ConfigError, match=problem):
        read_labelled(path)


def test_weighed_names_the_features_for_and_against():
    model = Model({"a": 2.0, "b": -1.0, "c": 0.5, "d": -3.0}, 0.0, {})
    for_, against = model.weighed({"a", "b", "c", "d", "unknown"}, top=1)
    assert for_ == [("a", 2.0)] and against == [("d", -3.0)]
    assert model.score(["a", "d"]) < 0.5 < model.score(["a", "c"])


def test_actors_and_weapons_become_placeholders():
    text = "Germany sends Leopard tanks to Ukraine"
    marks = [
        Mark(0, 7, "actor", "Germany"),
        Mark(14, 27, "weapon", "Leopard 2"),
        Mark(31, 38, "actor", "Ukraine"),
    ]
    tokens = word_tokens(text, marks)
    assert tokens == ["<actor>", "sends", "<weapon>", "to", "<actor>"]


def test_the_daemons_word_lookup_weighs_exactly_the_named_features():
    detector = Detector(Gazetteer.load())
    model, matcher = detector.model, detector.matcher()
    records = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    weighed_some = 0
    for record in records:
        text = f"{record['title']}\n{record['summary']}"
        marks = detector.mark_text(text, matcher.find(text))
        named = model.present(plain_features(text, marks, detector.context))
        looked_up = weighed_plain_features(
            text, marks, detector.context, model.words, model.weights
        )
        assert sorted(looked_up) == sorted(named), record["id"]
        weighed_some += any(name.startswith("w:") and " " in name for name, _ in named)
    assert weighed_some > 20  # word pairs among them, not only single words


def test_an_empty_side_takes_the_likeliest_other_actor_from_the_fill_score(tmp_path):
    models = {
        "supplier": SideModel({"name:A": 3.0}, -1.0),
        "recipient": SideModel({"name:B": 0.0}, -1.0),
    }
    candidates = {"A": ["name:A"], "B": ["name:B"]}  # B: 0.27 on either side
    assert choose_sides(candidates, models, (), (), fill=0.25) == (("A",), ("B",))
    assert choose_sides(candidates, models, (), ("C",), fill=0.3) == (("A",), ("C",))
    assert choose_sides({"A": ["name:A"]}, models, (), (), fill=0.0) == (("A",), ())
    path = tmp_path / "model.json"
    path.write_text(Model({"a": 1.0}, 0.0, {}, models, fill=0.05).to_json(), encoding="utf-8")
    assert load_model(path).fill == 0.05


def run_bot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "--config", str(ROOT / "config.toml"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_train_command_writes_the_model_the_function_builds(tmp_path):
    out = tmp_path / "model.json"
    done = run_bot("train", "--data", str(SAMPLE), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "trained on 200 items" in done.stderr
    build_model(SAMPLE, tmp_path / "again.json")
    assert out.read_bytes() == (tmp_path / "again.json").read_bytes()


def test_train_command_names_missing_data(tmp_path):
    done = run_bot("train", "--data", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "m"))
    assert done.returncode == 1
    assert "none.jsonl: no labelled news" in done.stderr
    assert not (tmp_path / "m").exists()


def test_explain_and_score_show_the_features_that_weighed_most(tmp_path):
    done = run_bot("explain", "Germany to send Leopard tanks to Ukraine")
    assert done.returncode == 0, done.stderr
    weighed = [line for line in done.stdout.splitlines() if "because model: " in line]
    assert any("model: +" in line for line in weighed)
    assert any("model: -" in line for line in weighed)
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": "1", "title": "Germany to send Leopard tanks to Ukraine"}\n')
    done = run_bot("score", str(items), "--explain")
    record = json.loads(done.stdout)
    assert record["alert"] and record["supplier"] == ["Germany"]
    assert any(reason.startswith("model: +") for reason in record["reasons"])
