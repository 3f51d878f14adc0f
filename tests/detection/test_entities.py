"""Tests for the gazetteer: data files, aliases in three languages, validation errors."""

from pathlib import Path

import pytest

from watchers.detection.entities import Gazetteer, load_weapons
from watchers.detection.textmatch import PhraseMatcher
from watchers.errors import ConfigError
from watchers.models import Entity


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


@pytest.fixture(scope="module")
def matcher(gazetteer: Gazetteer) -> PhraseMatcher:
    return PhraseMatcher(gazetteer.phrases())


def names_in(text: str, gazetteer: Gazetteer, matcher: PhraseMatcher) -> list[str]:
    return [m.entity for m in gazetteer.mentions(matcher.find(text))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tehran may supply missiles to Russia this spring.", ["Iran", "missiles", "Russia"]),
        ("The Kremlin and the Pentagon disagree", ["Russia", "United States"]),
        ("US and U.S. officials", ["United States", "United States"]),
        ("let us go", []),
        ("Leopard 2 tanks for Kyiv", ["Leopard 2", "Ukraine"]),
        ("Rheinmetall and Hezbollah", ["Rheinmetall", "Hezbollah"]),
        ("Росія отримала іранські дрони", ["Russia", "Iran", "drones"]),
        ("Иран передал России баллистические ракеты", ["Iran", "Russia", "ballistic missiles"]),
        ("North Korean KN-23 missiles", ["North Korea", "KN-23", "missiles"]),
        ("voters in New Jersey and Georgia", []),
    ],
)
def test_mentions(text, expected, gazetteer, matcher):
    assert names_in(text, gazetteer, matcher) == expected


@pytest.mark.parametrize(
    ("name", "country", "actor"),
    [
        ("Iran", "Iran", "Iran"),
        ("Rheinmetall", "Germany", "Germany"),
        ("Hezbollah", "Lebanon", "Hezbollah"),
        ("NATO", None, "NATO"),
        ("Su-35", None, None),
    ],
)
def test_country_and_actor(name, country, actor, gazetteer):
    assert gazetteer.country_of(name) == country
    assert gazetteer.actor_of(name) == actor


def test_pycountry_names_normalised(gazetteer):
    for name in ("United States", "United Kingdom", "Russia", "Iran", "North Korea", "Taiwan"):
        assert gazetteer.get(name).kind == "country"
    assert gazetteer.get("Su-35").category == "aircraft"


def test_user_entity_extends_existing(gazetteer):
    extended = Gazetteer.load([Entity("Iran", "country", aliases=("Persia",))])
    matcher = PhraseMatcher(extended.phrases())
    assert names_in("Persia and Tehran", extended, matcher) == ["Iran", "Iran"]


def test_alias_on_two_entities_is_rejected():
    with pytest.raises(ConfigError, match="'Moscow'.*Acme.*Russia"):
        Gazetteer.load([Entity("Acme", "company", aliases=("Moscow",), country="Russia")])


def test_user_entity_with_unknown_country_is_rejected():
    with pytest.raises(ConfigError, match=r"config \[\[entities\]\] Acme.*Atlantis"):
        Gazetteer.load([Entity("Acme", "company", country="Atlantis")])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("Widget\tlasers\t\twidgets", "weapons.tsv line 2: unknown weapon category 'lasers'"),
        ("Widget\tmissiles\t\tmid*dle", "weapons.tsv line 2: bad alias 'mid\\*dle'"),
        ("Widget\tmissiles\t\ta\tb\tc", "weapons.tsv line 2: expected 4"),
    ],
)
def test_bad_data_line_names_file_and_line(tmp_path: Path, line, message):
    path = tmp_path / "weapons.tsv"
    path.write_text(f"# comment\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_weapons(path)
