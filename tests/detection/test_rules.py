"""The rule language on texts: words, entities, kinds, categories, roles, proximity."""

from pathlib import Path

import pytest

from watchers.config.load import parse_config
from watchers.detection.entities import Gazetteer
from watchers.detection.rules import NOTHING, RuleSet
from watchers.errors import ConfigError
from watchers.models import Item


def rules_from(toml: str) -> RuleSet:
    config = parse_config(toml, Path("rules.toml"))
    return RuleSet(config.rules, Gazetteer.load(config.entities))


def fired(rules: RuleSet, title: str, summary: str = "") -> list[str]:
    return [m.rule for m in rules.match(Item("x", title, summary)).matches]


CASES = [
    # (rule body, title, fires)
    ('any = ["arms deal", "weapons"]', "Arms deal signed in Riyadh", True),
    ('any = ["arms deal", "weapons"]', "Farms dealt a blow by drought", False),
    ('any = ["arms"]', "Harmsworth trophy awarded", False),
    ('all = ["F-16", "Ukraine"]', "Ukraine receives first F 16 jets", True),
    ('all = ["F-16", "Ukraine"]', "F-16 crashes in Arizona", False),
    ('any = ["tank"]\nnone = ["think tank"]', "Think tank says tank orders rise", False),
    ('any = ["ракет*"]', "Іран передав Росії ракети", True),
    ('any = ["=US"]', "Tell us what you think", False),
    ('any = ["=US"]', "US approves sale", True),
    ('entities = ["Iran"]', "Tehran denies shipping drones", True),
    ('entities = ["Iran"]', "Iraq election results", False),
    ('entities = ["armed_group"]', "Hezbollah fighters cross the border", True),
    ('entities = ["air_defence"]', "Germany to deliver more IRIS-T systems", True),
    ('entities = ["air_defence"]', "Germany to deliver more Leopard tanks", False),
    (
        'entities = ["Iran", "drones"]\nwithin = "sentence"',
        "Iran is in the news. Drones fly.",
        False,
    ),
    ('entities = ["Iran", "drones"]\nwithin = "sentence"', "Iran sends drones to Russia.", True),
    ('all = ["missiles", "Iran"]\nwithin = 3', "Iran said on Monday that missiles", False),
    ('all = ["missiles", "Iran"]\nwithin = 3', "Iran ships missiles abroad", True),
    (
        'detector = "arms_transfer"\nsupplier = ["Iran"]\nrecipient = ["Russia"]',
        "Russia moves ahead with plan to purchase ballistic missiles from Iran",
        True,
    ),
    (
        'detector = "arms_transfer"\nsupplier = ["Russia"]\nrecipient = ["Iran"]',
        "Russia moves ahead with plan to purchase ballistic missiles from Iran",
        False,
    ),
    ('detector = "arms_transfer"', "Russia strikes Kyiv with ballistic missiles", False),
]


@pytest.mark.parametrize("body,title,fires", CASES)
def test_rule_language(body, title, fires):
    rules = rules_from(f'[[rules]]\nname = "r"\n{body}\n')
    assert fired(rules, title) == (["r"] if fires else [])


def test_every_fired_rule_is_named_once():
    rules = rules_from(
        '[[rules]]\nname = "a"\nany = ["missiles"]\n[[rules]]\nname = "b"\nentities = ["Iran"]\n'
        '[[rules]]\nname = "c"\nany = ["tanks"]\n'
    )
    assert fired(rules, "Iran ships missiles") == ["a", "b"]


def test_match_carries_its_reasons():
    rules = rules_from('[[rules]]\nname = "r"\nall = ["deal"]\nentities = ["Iran"]\n')
    (match,) = rules.match(Item("x", "Tehran signs a deal")).matches
    assert match.entities == ("Iran",) and match.terms == ("deal",)


def test_user_entities_extend_the_gazetteer():
    rules = rules_from(
        '[[entities]]\nname = "Shahed-238"\nkind = "weapon"\ncategory = "drones"\n'
        'aliases = ["Geran-3"]\n[[rules]]\nname = "r"\nentities = ["Shahed-238"]\n'
    )
    assert fired(rules, "Russia fields the Geran 3") == ["r"]


@pytest.mark.parametrize("key", ["entities", "supplier", "recipient"])
def test_unknown_entity_is_named(key):
    with pytest.raises(ConfigError, match=rf"rules.toml line 1: rule 'r' key '{key}'.*'Atlantis'"):
        rules_from(f'[[rules]]\nname = "r"\n{key} = ["Atlantis"]\n')


def _real_news() -> list[Item]:
    """Every 10th item of the 2022-2023 world news and every 5th Ukrainian/Russian one."""
    import json

    news = Path(__file__).resolve().parents[2] / "tests" / "data" / "news"
    items = []
    for name in ("rss2022_2023_every10th.jsonl", "ukru_2022_every5th.jsonl"):
        lines = (news / name).read_text(encoding="utf-8").splitlines()
        for record in map(json.loads, lines):
            items.append(Item(record["id"], record["title"], record.get("summary", "")))
    return items


def _default_rules() -> RuleSet:
    from watchers.config.load import load_config
    from watchers.detection.rules import compile_rules

    return compile_rules(load_config(Path(__file__).resolve().parents[2] / "config.toml"))


def test_quick_scan_gives_the_verdict_a_full_reading_gives():
    """match() skips items with none of the words any rule needs; on real news (English,
    Ukrainian, Russian) that must change no verdict."""
    rules = _default_rules()
    skipped = 0
    for item in _real_news():
        quick = rules.match(item, exact=True)
        assert quick == rules.verdict(item, rules.read(item)), item.title
        skipped += quick.detection is NOTHING  # the scan said nothing could fire
    assert skipped > 1000  # the scan is worth having


def test_items_left_unread_below_the_floor_fire_the_same_rules():
    """The daemon's match() does not read an item that could not reach the lowest
    min_score whatever the reading found: the same rules fire as with the whole reading,
    the score it gives is an upper bound, and items at or above the floor read the same."""
    rules = _default_rules()
    assert rules.floor == 0.5
    unread = 0
    for item in _real_news():
        fast, exact = rules.match(item), rules.match(item, exact=True)
        assert fast.matches == exact.matches, item.title
        if fast.detection.reasons[:1] and fast.detection.reasons[0].startswith("not read"):
            unread += 1
            assert exact.detection.score <= fast.detection.score < rules.floor, item.title
        elif exact.detection.score >= rules.floor:
            assert fast.detection == exact.detection, item.title
    assert unread >= 5  # the bound is worth having (9 of the 1,000 or so items)


def test_floor_is_zero_when_a_rule_needs_the_reading_at_any_score():
    keyword = '[[rules]]\nname = "k"\nany = ["arms"]\n'
    detector = '[[rules]]\nname = "d"\ndetector = "arms_transfer"\nmin_score = 0.4\n'
    assert rules_from(keyword + detector).floor == 0.4
    assert rules_from(detector + '[[rules]]\nname = "e"\nentities = ["Iran"]\n').floor == 0.0
    roles = '[[rules]]\nname = "s"\nany = ["arms"]\nsupplier = ["Iran"]\n'
    assert rules_from(detector + roles).floor == 0.0


def test_fold_fast_paths_agree_with_folding_each_character():
    from watchers.detection.textmatch import _fold_slowly, fold

    texts = [
        "Germany’s Leopard-2 tanks — and “IRIS-T” –\nfor Kyiv",
        "Росія  отримала\u00a0ракети з Ірану",
        "plain ascii text with  double spaces",
        "ﬁnal ligature and Straße",
        "Kyiv gets Patriots… Continue reading…",
    ]
    for text in texts:
        folded, origin = fold(text)
        slow, slow_origin = _fold_slowly(text)
        assert folded == slow
        assert origin is None or origin == slow_origin


def test_fold_text_is_fold_without_the_offset_map():
    from watchers.detection.textmatch import fold, fold_text

    for text in ["Leopard-2  tanks —\n\nfor Kyiv", "Росія  отримала\u00a0ракети", "ﬁnal  Straße"]:
        assert fold_text(text) == fold(text)[0]


def test_phrase_groups_find_whole_words_stems_and_phrases_ending_in_a_mark():
    from watchers.detection.textmatch import PhraseGroups, fold_text

    groups = PhraseGroups(
        {"weapon": ["tanks", "ракет*", "F-16"], "transfer": ["to get", "U.S."], "none": []}
    )
    assert groups.found_in(fold_text("Kyiv to get F-16 jets")) == {"weapon", "transfer"}
    assert groups.found_in(fold_text("Think-tanks to getaway")) == {"weapon"}
    assert groups.found_in(fold_text("Россия купит ракеты")) == {"weapon"}
    assert groups.found_in(fold_text("Росія купить ракетні системи")) == {"weapon"}
    assert groups.found_in(fold_text("U.S.-made arms; F-160 drones")) == {"transfer"}
    assert groups.found_in(fold_text("thanks")) == set()
    assert PhraseGroups({}).found_in("tanks") == set()
