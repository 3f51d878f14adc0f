"""config.toml -> a validated, frozen Config. Every error names the file and the line or key.

Each section has a schema: the keys it allows and a converter per key. An unknown key is
an error (a typo like ``intervall`` must not be ignored), and so is a wrong type.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchers.config.schema import (
    ENTITY,
    FEED,
    FETCH,
    METRICS,
    REPORT,
    RULE,
    SCHEDULE,
    STORAGE,
    STORIES,
    TELEGRAM,
    TOP_LEVEL,
    Schema,
)
from watchers.errors import ConfigError
from watchers.models import Entity, Feed, RuleSpec

DEFAULT_USER_AGENT = "armswatch/0.1 (+https://github.com/armswatch/armswatch; news alert bot)"


@dataclass(frozen=True)
class TelegramConfig:
    chat_id: str | None = None
    admin_chat_id: str | None = None  # where feed failures are reported
    token_env: str = "TELEGRAM_BOT_TOKEN"
    api_base_url: str | None = None
    link_preview: bool = False
    per_minute: int = 20  # Telegram's limit for one channel or group
    send_timeout: float = 20.0
    admins: tuple[int, ...] = ()  # Telegram user ids allowed to use the bot's commands


@dataclass(frozen=True)
class FetchConfig:
    timeout: float = 20.0  # whole request, connect to last byte
    max_bytes: int = 5_000_000
    user_agent: str = DEFAULT_USER_AGENT
    max_backoff: float = 6 * 3600.0
    concurrency: int = 20
    per_host: int = 6  # requests in flight to one host (a browser's limit)
    report_after: int = 5  # failures in a row before the admin chat is told


@dataclass(frozen=True)
class Config:
    path: Path
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    storage_path: Path = Path("armswatch.db")
    storage_max_bytes: int | None = None  # the database file grows no larger
    storage_url: str | None = None  # PostgreSQL, shared by instances; else the SQLite file
    lease: float = 60.0  # how long a feed or chat stays with an instance that went silent
    interval: float = 600.0
    min_interval: float | None = None  # set: feeds that post often are polled this often
    jitter: float = 30.0
    backfill: float = 86400.0
    fetch: FetchConfig = field(default_factory=FetchConfig)
    merge_stories: bool = True
    story_window: float = 48 * 3600.0
    feeds: tuple[Feed, ...] = ()
    rules: tuple[RuleSpec, ...] = ()
    entities: tuple[Entity, ...] = ()
    metrics_listen: tuple[str, int] | None = None  # (host, port) of /metrics and /healthz
    report_weekly: str | None = None  # "mon 09:00" (UTC): when the weekly chart is sent
    report_top: int = 10  # supplier -> recipient pairs on the chart


_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(#.*)?$")


class _Locator:
    """Finds the line of a key in the TOML text, to name it in errors."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = text.splitlines()
        self.headers: dict[str, list[int]] = {}  # section -> line numbers of its headers
        for number, line in enumerate(self.lines, 1):
            if found := _HEADER.match(line):
                self.headers.setdefault(found[1], []).append(number)

    def where(self, section: str, index: int | None = None, key: str | None = None) -> str:
        line = self._find(section, index, key)
        return f"{self.path.name} line {line}" if line else self.path.name

    def _find(self, section: str, index: int | None, key: str | None) -> int | None:
        starts = self.headers.get(section, [])
        if (index or 0) >= len(starts):
            return None
        start = starts[index or 0]
        if key is None:
            return start
        key_re = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(start, len(self.lines)):
            text = self.lines[number]
            if text.lstrip().startswith("["):
                break
            if key_re.match(text):
                return number + 1
        return start


def load_config(path: str | Path) -> Config:
    """Read, validate and freeze a config file; ConfigError names the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    """Validate TOML text as an armswatch config."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: invalid TOML: {exc}") from exc
    loc = _Locator(path, text)
    for key in raw:
        if key not in TOP_LEVEL:
            raise ConfigError(
                f"{loc.where(key)}: unknown section or key {key!r}{_hint(key, TOP_LEVEL)}"
            )
    telegram = _section(raw, "telegram", TELEGRAM, loc)
    storage = _section(raw, "storage", STORAGE, loc)
    schedule = _section(raw, "schedule", SCHEDULE, loc)
    fetch = _section(raw, "fetch", FETCH, loc)
    stories = _section(raw, "stories", STORIES, loc)
    metrics = _section(raw, "metrics", METRICS, loc)
    report = _section(raw, "report", REPORT, loc)
    base = path.parent
    storage_path = Path(storage.get("path", "armswatch.db")).expanduser()
    if "path" in storage and "url" in storage:
        where = loc.where("storage", None, "url")
        raise ConfigError(f"{where}: [storage] takes a path (SQLite) or a url, not both")
    if "max_bytes" in storage and "url" in storage:
        where = loc.where("storage", None, "max_bytes")
        raise ConfigError(f"{where}: [storage] max_bytes caps the SQLite file: not with a url")
    lease, jitter = storage.get("lease", Config.lease), schedule.get("jitter", Config.jitter)
    if "url" in storage and lease <= jitter:
        where = loc.where("storage", None, "lease" if "lease" in storage else "url")
        raise ConfigError(
            f"{where}: [storage] lease ({lease:g} s) must be longer than [schedule] jitter "
            f"({jitter:g} s), or an instance's jittered polls look late to the others"
        )
    interval = schedule.get("interval", Config.interval)
    return Config(
        path=path,
        telegram=TelegramConfig(**telegram),
        storage_path=storage_path if storage_path.is_absolute() else base / storage_path,
        storage_max_bytes=storage.get("max_bytes"),
        storage_url=storage.get("url"),
        lease=storage.get("lease", Config.lease),
        interval=interval,
        min_interval=schedule.get("min_interval"),
        jitter=schedule.get("jitter", Config.jitter),
        backfill=schedule.get("backfill", Config.backfill),
        fetch=FetchConfig(**fetch),
        merge_stories=stories.get("merge", Config.merge_stories),
        story_window=stories.get("window", Config.story_window),
        feeds=_feeds(raw, loc, interval),
        rules=_rules(raw, loc),
        entities=_entities(raw, loc),
        metrics_listen=metrics.get("listen"),
        report_weekly=report.get("weekly"),
        report_top=report.get("top", Config.report_top),
    )


def _hint(key: str, known: set[str] | Schema) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_table(table: Any, schema: Schema, loc: _Locator, section: str, index: int | None):
    if not isinstance(table, dict):
        raise ConfigError(f"{loc.where(section, index)}: [{section}] must be a table")
    out = {}
    for key, value in table.items():
        if key not in schema:
            where = loc.where(section, index, key)
            raise ConfigError(f"{where}: unknown key {key!r} in [{section}]{_hint(key, schema)}")
        try:
            out[key] = schema[key](value)
        except ValueError as exc:
            where = loc.where(section, index, key)
            raise ConfigError(f"{where}: [{section}] {key}: {exc}") from None
    return out


def _section(raw: dict, name: str, schema: Schema, loc: _Locator) -> dict:
    return _check_table(raw.get(name, {}), schema, loc, name, None)


def _array(raw: dict, name: str, schema: Schema, loc: _Locator) -> list[tuple[dict, str]]:
    tables = raw.get(name, [])
    if not isinstance(tables, list):
        raise ConfigError(f"{loc.where(name)}: {name} must be written as [[{name}]] tables")
    out = []
    for index, table in enumerate(tables):
        values = _check_table(table, schema, loc, name, index)
        where = loc.where(name, index)
        if "name" not in values:
            raise ConfigError(f"{where}: [[{name}]] needs a name")
        out.append((values, where))
    return out


def _feeds(raw: dict, loc: _Locator, interval: float) -> tuple[Feed, ...]:
    feeds, urls, names = [], set(), set()
    for values, where in _array(raw, "feeds", FEED, loc):
        if "url" not in values:
            raise ConfigError(f"{where}: [[feeds]] {values['name']!r} needs a url")
        if values["url"] in urls:
            raise ConfigError(f"{where}: feed url listed twice: {values['url']}")
        if values["name"] in names:
            raise ConfigError(f"{where}: two feeds are named {values['name']!r}")
        urls.add(values["url"])
        names.add(values["name"])
        feeds.append(Feed(values["name"], values["url"], values.get("interval", interval)))
    return tuple(feeds)


def _rules(raw: dict, loc: _Locator) -> tuple[RuleSpec, ...]:
    rules, names = [], set()
    for values, where in _array(raw, "rules", RULE, loc):
        if values["name"] in names:
            raise ConfigError(f"{where}: two rules are named {values['name']!r}")
        names.add(values["name"])
        condition_keys = ("any", "all", "entities", "supplier", "recipient", "detector")
        if not any(key in values for key in condition_keys):
            raise ConfigError(
                f"{where}: rule {values['name']!r} matches everything: give it at least one "
                "of any, all, entities, supplier, recipient or detector"
            )
        within = values.pop("within", None)
        rules.append(
            RuleSpec(
                where=where,
                within=within if isinstance(within, int) else None,
                within_sentence=within == "sentence",
                **values,
            )
        )
    return tuple(rules)


def _entities(raw: dict, loc: _Locator) -> tuple[Entity, ...]:
    entities = []
    for values, where in _array(raw, "entities", ENTITY, loc):
        if "kind" not in values:
            raise ConfigError(f"{where}: [[entities]] {values['name']!r} needs a kind")
        entities.append(Entity(**values))
    return tuple(entities)
