"""The README documents every config key and every command (a test fails when one is not)."""

from pathlib import Path

import pytest

import bot
from watchers import config

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()

SECTIONS = {
    "telegram": config.TELEGRAM,
    "storage": config.STORAGE,
    "schedule": config.SCHEDULE,
    "fetch": config.FETCH,
    "stories": config.STORIES,
}
KEYS = [(f"[{section}] {key}", key) for section, schema in SECTIONS.items() for key in schema]
KEYS += [(f"[[feeds]] {key}", key) for key in config.FEED]


@pytest.mark.parametrize("written,key", KEYS, ids=[k for k, _ in KEYS])
def test_config_key_is_documented(written, key):
    assert f"`{written}`" in README


@pytest.mark.parametrize("key", list(config.RULE) + list(config.ENTITY))
def test_rule_and_entity_keys_are_documented(key):
    assert f"`{key}" in README


@pytest.mark.parametrize("command", list(bot.COMMANDS))
def test_command_is_documented(command):
    assert f"| `{command}" in README
