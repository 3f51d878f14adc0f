"""The `feeds` command: import an OPML feed list into config.toml, export the configured
feeds as OPML, list them with their stored status.

Orchestration of two stages: config/ (opml.py reads and writes OPML, importing.py decides
what an import adds, edit.py edits the TOML) and store/ (the feed states, read-only).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from watchers.config.durations import format_duration
from watchers.config.edit import add_feeds
from watchers.config.importing import ImportPlan, plan_import
from watchers.config.load import Config, parse_config
from watchers.config.opml import read_opml, write_opml
from watchers.errors import ConfigError
from watchers.store.base import FeedState
from watchers.store.connect import read_states


def import_feeds(config_path: Path, opml_path: Path, dry_run: bool) -> list[str]:
    """Add the feeds of an OPML file to the config file (unless dry_run); lines to print."""
    try:
        data = opml_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{opml_path}: cannot read: {exc.strerror or exc}") from None
    outlines = read_opml(data, str(opml_path))
    text = _read_text(config_path)
    config = parse_config(text, config_path)
    plan = plan_import(outlines, config.feeds, config_path.name)
    lines = describe_plan(plan)
    feeds = f"{len(plan.added)} feed{'' if len(plan.added) == 1 else 's'}"
    counts = f"{feeds}, left out {len(plan.left_out)} (from {opml_path.name})"
    if dry_run:
        return [*lines, f"dry run: would add {counts}; {config_path.name} unchanged"]
    if not plan.added:
        return [*lines, f"{config_path.name} unchanged: no new feed in {opml_path.name}"]
    note = f"From {opml_path.name} (armswatch feeds import)"
    new_feeds = [(feed.name, feed.url) for feed in plan.added]
    edited = add_feeds(text, new_feeds, note, str(config_path))
    parse_config(edited, config_path)  # what `check` will say: valid before it is written
    _replace_text(config_path, edited)
    return [*lines, f"{config_path.name}: added {counts}"]


def describe_plan(plan: ImportPlan) -> list[str]:
    """One line per outline: added (and under which name) or left out and why."""
    lines = []
    for feed in plan.added:
        note = f": {feed.note}" if feed.note else ""
        lines.append(f"added     {feed.name} <{feed.url}>{note}")
    for skipped in plan.left_out:
        outline = skipped.outline
        lines.append(
            f"left out  {outline.name or '(no name)'} (line {outline.line}): {skipped.reason}"
        )
    return lines


def export_feeds(config: Config) -> bytes:
    """The configured feeds as an OPML 2.0 document."""
    return write_opml(config.feeds, f"armswatch feeds ({config.path.name})")


def list_feeds(config: Config, now: float) -> list[str]:
    """A table: each configured feed's name, URL, interval and stored status."""
    stored = read_states(config.storage_path, config.storage_url)
    states = {state.url: state for state in stored}
    rows = [("name", "url", "interval", "status")]
    rows += [
        (f.name, f.url, format_duration(f.interval), describe_state(states.get(f.url), now))
        for f in config.feeds
    ]
    return format_table(rows)


def describe_state(state: FeedState | None, now: float) -> str:
    """A feed's stored status in a few words: 'ok, polled 2024-01-04 12:47 UTC (3m ago)'."""
    if state is None or state.status == "new":
        return "not polled yet"
    text = state.status
    if state.status == "error":
        text += f" ({state.failures} in a row): {state.error}"
    elif state.status == "gone":
        text += f": {state.error}" if state.error else ""
    if state.last_poll:
        ago = rough_age(now - state.last_poll)
        stamp = datetime.fromtimestamp(state.last_poll, UTC).strftime("%Y-%m-%d %H:%M UTC")
        text += f", polled {stamp} ({ago} ago)"
    if state.moved_to:
        text += f", moved to {state.moved_to}"
    return text


def rough_age(seconds: float) -> str:
    """An age in its largest whole unit: 45s, 3m (180-239 s), 5h, 2d."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell (the last one not padded)."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]


def _read_text(path: Path) -> str:
    """A text file as it is, line endings included."""
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _replace_text(path: Path, text: str) -> None:
    """Write the file whole or not at all (a new file renamed over it), keeping its mode."""
    try:
        mode = path.stat().st_mode & 0o7777
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(text.encode("utf-8"))
            os.chmod(temporary, mode)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write config: {exc.strerror or exc}") from None
