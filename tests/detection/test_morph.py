"""Ukrainian and Russian read through their lemmas: the same reading as in English."""

from pathlib import Path

import pytest

from watchers.detection.detect import detect_text
from watchers.detection.entities import Gazetteer
from watchers.detection.morph import Lemmatizer, with_lemmas
from watchers.models import Weapon

SEEDS = Path(__file__).resolve().parents[1] / "data" / "seed"


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


@pytest.fixture(scope="module")
def lemmatizer() -> Lemmatizer:
    return Lemmatizer()


@pytest.mark.parametrize(
    ("text", "lemma_text"),
    [
        # Russian: future tense marked, "у" + genitive is "from"
        ("Россия закупит у Ирана ракеты", "Россия будет закупить from Иран ракета"),
        # Ukrainian: "в" + genitive is "from"
        ("Росія закупить в Ірану ракети", "Росія закупити from Іран ракета"),
        # a bare dative is "to", the past tense is marked
        ("Иран поставил Украине ракеты", "Иран был поставить to Украина ракета"),
        # "в" + accusative stays a preposition of place or direction; an abbreviation in
        # capitals is kept as written
        ("США передадуть танки в Україну", "США будет передати танок в Україна"),
        # "в"/"у" + a body that speaks: its subject, not "from" it
        ("В ЕС заявили", " ЕС был заявить"),
        ("У ЄС заявили", " ЄС был заявити"),
        # Latin text is untouched
        ("Iran sends drones to Russia", "Iran sends drones to Russia"),
    ],
)
def test_lemma_text(lemmatizer, text, lemma_text):
    assert lemmatizer.lemma_text(text) == lemma_text


@pytest.mark.parametrize(
    ("text", "supplier", "recipient"),
    [
        # Russian -ия names read first as genitive: after a giving noun and its object ...
        ("Канада возобновит поставки оружия Турции", "Canada", "Turkey"),
        # ... or right after a giving verb
        ("США передадут Армении бронетехнику", "United States", "Armenia"),
        # Ukrainian masculine names in -у/-ю, genitive and dative alike
        ("Росія передала Ірану винищувачі", "Russia", "Iran"),
        ("Білий дім схвалив продаж зброї Тайваню", "United States", "Taiwan"),
    ],
)
def test_a_name_after_a_giving_word_is_the_one_given_to(gazetteer, text, supplier, recipient):
    d = detect_text(text, gazetteer)
    assert (d.supplier, d.recipient) == ((supplier,), (recipient,)), d.reasons


@pytest.mark.parametrize(
    "text",
    [
        "В ЕС заявили, что вряд ли выполнят обещание по боеприпасам для Украины",
        "У ЄС заявили, що навряд чи виконають обіцянку щодо боєприпасів для України",
    ],
)
def test_a_body_that_speaks_is_the_subject(gazetteer, text):
    d = detect_text(text, gazetteer)
    assert (d.supplier, d.recipient) == (("European Union",), ("Ukraine",)), d.reasons


def test_a_name_after_other_words_keeps_its_genitive():
    """ "Министр обороны Турции": Turkey's minister, not a minister for Turkey."""
    lemmas = Lemmatizer(giving=frozenset({"поставка"}))
    assert "to" not in lemmas.lemma_text("Министр обороны Турции заявил").split()
    assert "to Турция" in lemmas.lemma_text("поставка оружия Турции")


def test_cyrillic_phrases_gain_their_lemma_forms(lemmatizer):
    pairs = with_lemmas([("балістичні ракети", "k"), ("ракет*", "s"), ("tanks", "t")], lemmatizer)
    assert ("балістичний ракета", "k") in pairs
    assert ("ракет*", "s") in pairs and ("tanks", "t") in pairs
    assert len(pairs) == len(set(pairs))


def seed(name: str) -> str:
    lines = [ln for ln in (SEEDS / name).read_text(encoding="utf-8").splitlines() if ln.strip()]
    return "\n".join(lines)


@pytest.mark.parametrize("name", ["seed_ru.txt", "seed_uk.txt"])
def test_the_seed_reads_the_same_in_russian_and_ukrainian(gazetteer, name):
    d = detect_text(seed(name), gazetteer)
    assert (d.supplier, d.recipient, d.status) == (("Iran",), ("Russia",), "planned"), d.reasons
    assert Weapon("ballistic missiles", "missiles") in d.weapons
    assert d.score >= 0.5, d.reasons


@pytest.mark.parametrize(
    ("text", "supplier", "recipient", "status"),
    [
        ("Иран поставил России беспилотники Shahed", "Iran", "Russia", "delivered"),
        ("Германия отказалась передать Украине ракеты Taurus", "Germany", "Ukraine", "blocked"),
        ("Польща передала Україні винищувачі МіГ-29", "Poland", "Ukraine", "delivered"),
        ("Франція постачатиме Україні гаубиці", "France", "Ukraine", "planned"),
    ],
)
def test_roles_and_status_from_cases_and_tenses(gazetteer, text, supplier, recipient, status):
    d = detect_text(text, gazetteer)
    assert (d.supplier, d.recipient, d.status) == ((supplier,), (recipient,), status), d.reasons


def test_the_lemma_table_is_current(gazetteer):
    """data/lemmas.tsv holds what the analyzers give for every built-in phrase; after a
    change of the data files `bot.py train` writes it again."""
    from watchers.detection.detect import Detector
    from watchers.detection.morph import LEMMA_FILE, lemma_table_text

    expected = lemma_table_text(Detector(gazetteer).builtin_phrases())
    assert LEMMA_FILE.read_text(encoding="utf-8") == expected


def test_rules_compile_without_loading_an_analyzer():
    from watchers.config.load import load_config
    from watchers.detection.rules import compile_rules

    root = Path(__file__).resolve().parents[2]
    rules = compile_rules(load_config(root / "config.toml"))
    assert rules.detector.lemmatizer.loaded() == []
