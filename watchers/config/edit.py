"""Add [[feeds]] tables to config.toml text, keeping every comment and line as it was.

tomlkit keeps the file's layout. The new tables go right after the last [[feeds]] table,
under a comment saying where they came from; the comments that introduce the next
section (after a blank line) stay with that section, below the new feeds. The result is
checked: read back, it must be the old config plus exactly the new feeds.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Sequence

import tomlkit
from tomlkit.items import AoT, Table, Whitespace

from watchers.errors import ConfigError


def add_feeds(text: str, feeds: Sequence[tuple[str, str]], note: str, source: str) -> str:
    """The config text with a [[feeds]] table per (name, url) added; ConfigError names source."""
    if not feeds:
        return text
    newline = "\r\n" if "\r\n" in text else "\n"
    plain = text.replace("\r\n", "\n")
    plain += "\n" if plain and not plain.endswith("\n") else ""
    note = " ".join(note.split())
    try:
        doc = tomlkit.parse(plain)
    except tomlkit.exceptions.TOMLKitError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    current = doc.get("feeds")
    if current is None:
        result = _append_section(plain, feeds, note)
    elif isinstance(current, AoT) and len(current):
        _extend_section(current, [_feed_table(name, url) for name, url in feeds], note)
        result = tomlkit.dumps(doc)
    else:
        raise ConfigError(f"{source}: feeds are not written as [[feeds]] tables; add them by hand")
    _check_result(plain, result, feeds, source)
    return result.replace("\n", newline)


def _feed_table(name: str, url: str) -> Table:
    table = tomlkit.table()
    table.add("name", name)
    table.add("url", url)
    return table


def _append_section(text: str, feeds: Sequence[tuple[str, str]], note: str) -> str:
    """A config without feeds: the new ones go at the end of the file."""
    tables = [
        f"[[feeds]]\nname = {tomlkit.item(name).as_string()}\n"
        f"url = {tomlkit.item(url).as_string()}\n"
        for name, url in feeds
    ]
    return text + ("\n" if text.strip() else "") + f"# {note}\n" + "\n".join(tables)


def _extend_section(feeds: AoT, tables: list[Table], note: str) -> None:
    """After the last [[feeds]] table, before what introduces the next section."""
    body = feeds[-1].value.body
    end = max(i for i, (key, _) in enumerate(body) if key is not None) + 1
    blank = next((i for i in range(end, len(body)) if isinstance(body[i][1], Whitespace)), None)
    tail = body[blank:] if blank is not None else []
    del body[blank if blank is not None else len(body) :]
    feeds[-1].add(tomlkit.nl())
    feeds[-1].add(tomlkit.comment(note))
    for number, table in enumerate(tables):
        if number:
            tables[number - 1].add(tomlkit.nl())
        feeds.append(table)
    tables[-1].value.body.extend(tail)


def _check_result(before: str, after: str, feeds: Sequence[tuple[str, str]], source: str):
    """The edit must only insert lines, and read back as the old config plus these feeds."""
    lines = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(), autojunk=False)
    old, new = tomllib.loads(before), tomllib.loads(after)
    expected = old.pop("feeds", []) + [{"name": n, "url": u} for n, u in feeds]
    only_inserted = all(op in ("equal", "insert") for op, *_ in lines.get_opcodes())
    if not only_inserted or new.pop("feeds", None) != expected or new != old:
        raise ConfigError(
            f"{source}: the feeds cannot be added without moving other lines (are [[feeds]] "
            "tables in more than one place?); add them by hand"
        )
