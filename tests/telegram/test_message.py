"""Alert HTML: escaped, linked, under Telegram's limit."""

from datetime import UTC, datetime

import pytest

from watchers.models import Detection, Item, Match, Weapon
from watchers.telegram.message import (
    TELEGRAM_LIMIT,
    clip,
    event_line,
    format_alert,
    plain_text,
    safe_href,
)

SEED = Item(
    id="seed",
    title="WSJ: Russia moves ahead with plan to purchase ballistic missiles from Iran",
    summary="Russia is planning to buy short-range ballistic missiles from Iran.",
    link="https://example.org/seed",
    published=datetime(2024, 1, 4, 12, 47, tzinfo=UTC),
    source="Seed News",
)
DETECTION = Detection(
    score=0.9,
    supplier=("Iran",),
    recipient=("Russia",),
    weapons=(Weapon("ballistic missiles", "missiles"),),
    status="planned",
)


def test_alert_shows_event_link_source_and_rule():
    html = format_alert(SEED, (Match("arms-transfer", entities=("Iran",)),), DETECTION)
    lines = html.split("\n")
    assert lines[0] == "🚨 <b>Iran → Russia · ballistic missiles · planned</b>"
    assert lines[1] == f'<a href="https://example.org/seed">{SEED.title}</a>'
    assert "<i>Seed News · 2024-01-04 12:47 UTC</i>" in lines
    assert lines[-1] == "Rule: arms-transfer (Iran)"


def test_event_line_shows_flags_of_countries():
    from watchers.detection.entities import Gazetteer

    html = format_alert(SEED, (Match("r"),), DETECTION, Gazetteer.load().flag)
    assert html.startswith("🚨 <b>🇮🇷 Iran → 🇷🇺 Russia · ballistic missiles · planned</b>")


def test_priority_rule_is_marked():
    html = format_alert(SEED, (Match("iran-to-russia", priority=True),), DETECTION)
    assert html.startswith("‼️ ")


@pytest.mark.parametrize(
    "title",
    ["Tom & Jerry <b>bold</b> \"quoted\" 'single'", "<script>alert(1)</script> & co", "a < b > c"],
)
def test_every_string_is_escaped(title):
    item = Item("x", title, summary=title, link="https://x.org/?a=1&b=2", source="<src>")
    html = format_alert(item, (Match("r&d", terms=("<t>",)),), Detection())
    assert title in plain_text(html)
    assert "&amp;b=2" in html and "<src>" not in html


def test_javascript_link_is_dropped():
    item = Item("x", "Title", link="javascript:alert(1)")
    html = format_alert(item, (Match("r"),), Detection())
    assert "href" not in html and "javascript" not in html
    assert safe_href("https://ok.org/") == "https://ok.org/"


def test_alert_never_over_telegram_limit():
    item = Item("x", "T" * 5000, summary="word " * 3000, link="https://x.org/")
    matches = tuple(Match(f"rule-{i}", terms=("x" * 300,)) for i in range(5))
    html = format_alert(item, matches, DETECTION)
    assert len(plain_text(html)) <= TELEGRAM_LIMIT


def test_no_event_line_without_roles():
    assert event_line(Detection()) is None
    assert clip("one two three", 8) == "one two…"
    assert clip("one two three", 6) == "one…"
