"""Adding [[feeds]] tables to config.toml text: every existing line and comment stays, in
place; the new tables follow the last feed, above the comments that open the next section."""

import difflib
from pathlib import Path

import pytest

from watchers.config.edit import add_feeds
from watchers.config.load import parse_config
from watchers.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
NEW = [("N1", "https://n1.org/rss"), ('Quote " and ТАСС', "https://n2.org/rss?a=1&b=2")]
NOTE = "From x.opml (armswatch feeds import)"
ADDED = """# From x.opml (armswatch feeds import)
[[feeds]]
name = "N1"
url = "https://n1.org/rss"

[[feeds]]
name = "Quote \\" and ТАСС"
url = "https://n2.org/rss?a=1&b=2"
"""
FEED_A = '[[feeds]]\nname = "A"\nurl = "https://a.org/"\n'
RULES = '[[rules]]\nname = "r"\nany = ["a"]\n'

CASES = [
    ("feeds then rules", f"{FEED_A}\n# Rules\n{RULES}", f"{FEED_A}\n{ADDED}\n# Rules\n{RULES}"),
    (
        "a comment kept with the last feed",
        f'{FEED_A}# interval = "1h"\n\n# Rules\n{RULES}',
        f'{FEED_A}# interval = "1h"\n\n{ADDED}\n# Rules\n{RULES}',
    ),
    ("feeds at the end", FEED_A, f"{FEED_A}\n{ADDED}"),
    ("no final newline", FEED_A.rstrip("\n"), f"{FEED_A}\n{ADDED}"),
    ("a header right after", f"{FEED_A}{RULES}", f"{FEED_A}\n{ADDED}{RULES}"),
    (
        "no feeds yet",
        f'[telegram]\nchat_id = "@x"\n\n{RULES}',
        f'[telegram]\nchat_id = "@x"\n\n{RULES}\n{ADDED}',
    ),  # fmt: skip
    ("an empty file", "", ADDED),
    (
        "Windows line endings",
        f"{FEED_A}\n# Rules\n{RULES}".replace("\n", "\r\n"),
        f"{FEED_A}\n{ADDED}\n# Rules\n{RULES}".replace("\n", "\r\n"),
    ),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_new_tables_go_after_the_last_feed(text, expected):
    assert add_feeds(text, NEW, NOTE, "c.toml") == expected


def test_the_default_config_only_gains_lines():
    text = (ROOT / "config.toml").read_text()
    edited = add_feeds(text, NEW, NOTE, "config.toml")
    ops = difflib.SequenceMatcher(None, text.splitlines(), edited.splitlines()).get_opcodes()
    inserts = [edited.splitlines()[j1:j2] for op, _, _, j1, j2 in ops if op == "insert"]
    assert [op for op, *_ in ops] == ["equal", "insert", "equal"]
    assert inserts == [["", *ADDED.splitlines()]]
    before, after = edited.split(ADDED)
    assert before.endswith('url = "https://www.scmp.com/rss/91/feed/"\n\n')
    assert after.startswith("\n# -----")  # the Rules section's own comment stays above it
    config = parse_config(edited, ROOT / "config.toml")
    assert [(f.name, f.url) for f in config.feeds[-2:]] == NEW


def test_nothing_to_add_leaves_the_text_alone():
    assert add_feeds("x = 1 # odd", [], NOTE, "c.toml") == "x = 1 # odd"


@pytest.mark.parametrize(
    "text,message",
    [
        ('feeds = [{name = "A", url = "https://a.org/"}]\n', "not written as [[feeds]] tables"),
        (f"{FEED_A}\n{RULES}\n{FEED_A.replace('A', 'B')}", "without moving other lines"),
        ("[[feeds]\n", "invalid TOML"),
    ],
    ids=["inline array", "feeds in two places", "invalid TOML"],
)
def test_configs_it_will_not_edit(text, message):
    with pytest.raises(ConfigError, match=r"^c\.toml: .*" + message.replace("[", r"\[")):
        add_feeds(text, NEW, NOTE, "c.toml")
