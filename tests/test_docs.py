"""The README documents every config key and every command (a test fails when one is not)."""

import argparse
from pathlib import Path

import pytest

from watchers import cli
from watchers.config import schema

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()

KEYS = [(f"[{name}] {key}", key) for name, table in schema.SECTIONS.items() for key in table]
KEYS += [(f"[[feeds]] {key}", key) for key in schema.FEED]


@pytest.mark.parametrize("written,key", KEYS, ids=[k for k, _ in KEYS])
def test_config_key_is_documented(written, key):
    assert f"`{written}`" in README


@pytest.mark.parametrize("key", list(schema.RULE) + list(schema.ENTITY))
def test_rule_and_entity_keys_are_documented(key):
    assert f"`{key}" in README


def command_names(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    """Every command the parser knows, subcommands as "feeds import"."""
    names = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                names += [f"{prefix}{name}", *command_names(sub, f"{prefix}{name} ")]
    return names


COMMANDS = command_names(cli.build_parser())


@pytest.mark.parametrize("command", COMMANDS)
def test_command_is_documented(command):
    assert f"| `{command}" in README


def test_every_command_is_found():
    assert set(cli.COMMANDS) < set(COMMANDS) and "feeds import" in COMMANDS


def test_every_section_is_checked_here():
    assert set(schema.SECTIONS) | {"feeds", "rules", "entities"} == schema.TOP_LEVEL
