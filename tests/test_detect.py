"""Tests for the arms-transfer detector on real sentences: roles, weapons, status, negatives."""

from pathlib import Path

import pytest

from watchers.detect import Detector, detect_text
from watchers.entities import Gazetteer
from watchers.models import Weapon
from watchers.textmatch import PhraseMatcher

SEED = Path(__file__).resolve().parents[2] / "shared/data/seed/000_14ca65158709ed0b.txt"


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


def seed_text() -> str:
    """The seed article as title + "\\n" + body (its first line is a timestamp)."""
    lines = [ln for ln in SEED.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return "\n".join(lines[1:])


@pytest.mark.skipif(not SEED.exists(), reason="shared data not present")
def test_seed_article(gazetteer):
    d = detect_text(seed_text(), gazetteer)
    assert d.score >= 0.5
    assert (d.supplier, d.recipient, d.status) == (("Iran",), ("Russia",), "planned")
    assert Weapon("ballistic missiles", "missiles") in d.weapons


@pytest.mark.parametrize(
    ("text", "supplier", "recipient", "weapon", "status"),
    [
        (
            'At the end of November, Iran announced the "finalization" of an agreement with '
            "Russia on the supply of Su-35 fighter jets, as well as Mi-28 attack helicopters "
            "and Yak-130 trainer aircraft made in Russia.",
            "Russia",
            "Iran",
            "Su-35",
            "signed",
        ),
        ("Tehran may supply missiles to Russia this spring.", "Iran", "Russia", "missiles", None),
        ("Norway to donate F-16 fighter jets to Ukraine", "Norway", "Ukraine", "F-16", None),
        (
            "GOP senator blocks arms sale to Hungary",
            "United States",
            "Hungary",
            "weapons",
            "blocked",
        ),
        (
            "Slovakia Delivers First 4 Soviet-Era MiG-29 Jets to Ukraine",
            "Slovakia",
            "Ukraine",
            "MiG-29",
            None,
        ),
        (
            "Belarus starts taking delivery of Russian nuclear weapons",
            "Russia",
            "Belarus",
            "nuclear weapons",
            "delivered",
        ),
        (
            "North Korea has sent '1,000 containers of weapons' to Russia",
            "North Korea",
            "Russia",
            "weapons",
            "delivered",
        ),
        ("Иран передал России баллистические ракеты", "Iran", "Russia", "ballistic missiles", None),
        ("Німеччина передала Україні танки Leopard 2", "Germany", "Ukraine", "Leopard 2", None),
    ],
)
def test_transfers(text, supplier, recipient, weapon, status, gazetteer):
    d = detect_text(text, gazetteer)
    assert d.score >= 0.5, d.reasons
    assert supplier in d.supplier and recipient in d.recipient, d.reasons
    assert weapon in [w.name for w in d.weapons]
    assert status is None or d.status == status


@pytest.mark.parametrize(
    "text",
    [
        "Russia Shells Kherson, Killing 5 as Zelensky Warns More Strikes Could Mar Christmas",
        "North Korea test-fires ballistic missile into the sea off its east coast",
        "Pentagon orders more artillery shells from US defence industry to refill stocks",
        "Russia sells more oil to India as Western buyers turn away",
        "Ukraine and Russia hold peace talks in Istanbul",
        "Russia says Su-27 jet sent to prevent US planes violating border",
        "US military resumes drone, crewed aircraft operations in post-coup Niger",
        "Росія завдала ракетного удару по Києву",
    ],
)
def test_not_transfers(text, gazetteer):
    d = detect_text(text, gazetteer)
    assert d.score < 0.5, d.reasons


def test_shared_matcher_ignores_foreign_keys(gazetteer):
    detector = Detector(gazetteer)
    phrases = [*gazetteer.phrases(), *detector.phrases(), ("missiles", ("term", "x"))]
    text = "Tehran may supply missiles to Russia this spring."
    d = detector.detect(text, PhraseMatcher(phrases).find(text))
    assert (d.supplier, d.recipient) == (("Iran",), ("Russia",))
    assert all(isinstance(key, tuple) and key[0] == "cue" for _, key in detector.phrases())
