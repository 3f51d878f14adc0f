"""config.toml validation: every fault is named with file and line or key."""

from pathlib import Path

import pytest

from watchers.config.load import load_config, parse_config
from watchers.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
[telegram]
chat_id = "@armswatch_test"

[schedule]
interval = "10m"
jitter = 5
backfill = "2h"

[[feeds]]
name = "A"
url = "https://example.org/a.xml"

[[feeds]]
name = "B"
url = "http://example.org/b.xml"
interval = 90

[[rules]]
name = "words"
any = ["arms deal", "weapons"]
"""


def parse(text: str):
    return parse_config(text, Path("/etc/armswatch/config.toml"))


def test_default_config_is_valid():
    config = load_config(ROOT / "config.toml")
    assert len(config.feeds) >= 12
    assert {r.name for r in config.rules} >= {"arms-transfer", "iran-to-russia"}
    assert all(f.url.startswith("https://") for f in config.feeds)


def test_good_config_values():
    config = parse(GOOD)
    assert config.telegram.chat_id == "@armswatch_test"
    assert config.interval == 600 and config.jitter == 5 and config.backfill == 7200
    assert [f.interval for f in config.feeds] == [600, 90]
    assert config.rules[0].any == ("arms deal", "weapons")
    assert config.storage_path == Path("/etc/armswatch/armswatch.db")


BROKEN = [
    (
        "invalid TOML",
        'x = "unterminated\n',
        "invalid TOML: Illegal character '\\n' (at line 1, column 18)",
    ),
    ("unknown section", "[telegramm]\nchat_id = 1\n", "line 1: unknown section or key 'telegramm'"),
    (
        "typo in key",
        '[[feeds]]\nname = "A"\nurl = "https://a.org/f"\nintervall = "10m"\n',
        "line 4: unknown key 'intervall' in [feeds] (did you mean 'interval'?)",
    ),
    (
        "bad duration",
        '[[feeds]]\nname = "A"\nurl = "https://a.org/f"\ninterval = "soon"\n',
        "line 4: [feeds] interval: expected a duration",
    ),
    ("not http", '[[feeds]]\nname = "A"\nurl = "file:///etc/passwd"\n', "line 3: [feeds] url"),
    (
        "same url twice",
        '[[feeds]]\nname = "A"\nurl = "https://a.org/f"\n[[feeds]]\nname = "B"\n'
        'url = "https://a.org/f"\n',
        "line 4: feed url listed twice",
    ),
    ("feed without url", '[[feeds]]\nname = "A"\n', "line 1: [[feeds]] 'A' needs a url"),
    ("wrong type", "[schedule]\njitter = true\n", "line 2: [schedule] jitter"),
    ("bad chat", '[telegram]\nchat_id = "mychannel"\n', "line 2: [telegram] chat_id"),
    (
        "rule without condition",
        '[[rules]]\nname = "r"\npriority = true\n',
        "line 1: rule 'r' matches everything",
    ),
    ("bad score", '[[rules]]\nname = "r"\ndetector = "arms_transfer"\nmin_score = 3\n', "line 4"),
    ("bad within", '[[rules]]\nname = "r"\nany = ["x"]\nwithin = "para"\n', "line 4"),
    ("list expected", '[[rules]]\nname = "r"\nany = [1, 2]\n', "line 3: [rules] any"),
    ("unknown detector", '[[rules]]\nname = "r"\ndetector = "magic"\n', "line 3"),
    ("entity without kind", '[[entities]]\nname = "X"\n', "[[entities]] 'X' needs a kind"),
    (
        "password in the database url",
        '[storage]\nurl = "postgresql://aw:secret@db.lan/aw"\n',
        "line 2: [storage] url: the URL holds a password: remove it and set PGPASSWORD",
    ),
    (
        "lease not above jitter",
        '[schedule]\njitter = "1m"\n[storage]\nurl = "postgresql://aw@db.lan/aw"\nlease = "45s"\n',
        "line 5: [storage] lease (45 s) must be longer than [schedule] jitter (60 s)",
    ),
    ("not a database url", '[storage]\nurl = "mysql://db.lan/aw"\n', "line 2: [storage] url"),
    (
        "path and url",
        '[storage]\npath = "a.db"\nurl = "postgresql://aw@db.lan/aw"\n',
        "line 3: [storage] takes a path (SQLite) or a url, not both",
    ),
]


def test_storage_url_and_lease():
    config = parse('[storage]\nurl = "postgresql://aw@db.lan:5433/aw"\nlease = "90s"\n')
    assert (config.storage_url, config.lease) == ("postgresql://aw@db.lan:5433/aw", 90.0)
    assert (parse("").storage_url, parse("").lease) == (None, 60.0)


@pytest.mark.parametrize("case,text,message", BROKEN, ids=[c[0] for c in BROKEN])
def test_broken_config_names_the_fault(case, text, message):
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert "config.toml" in str(caught.value)
    assert message in str(caught.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.toml")
