"""The keys each config.toml section allows, and how each value is read and checked.

A converter takes the raw TOML value and returns the value the Config holds, or raises
ValueError with a message that says what was expected; config.py adds the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from watchers.config.durations import parse_duration


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value.strip()


def _chat(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    chat = _text(value)
    if not (chat.startswith("@") or re.fullmatch(r"-?\d+", chat)):
        raise ValueError(f"expected a channel @name or a numeric chat id, got {value!r}")
    return chat


def _words(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"expected a list of non-empty strings, got {value!r}")
    return tuple(v.strip() for v in value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"expected a positive whole number, got {value!r}")
    return value


def _score(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"expected a number from 0 to 1, got {value!r}")
    return float(value)


def _url(value: Any) -> str:
    url = _text(value)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    return url


def _positive_duration(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"a duration must be above zero, got {value!r}")
    return seconds


def _within(value: Any) -> int | str:
    if value == "sentence":
        return "sentence"
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ValueError(f'expected "sentence" or a number of words, got {value!r}')


def _digest(value: Any) -> str:
    if value not in ("hourly", "daily"):
        raise ValueError(f'expected "hourly" or "daily", got {value!r}')
    return value


def _detector(value: Any) -> str:
    if value != "arms_transfer":
        raise ValueError(f'the only detector is "arms_transfer", got {value!r}')
    return value


def _user_ids(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value
    ):
        raise ValueError(f"expected a list of Telegram user ids (positive numbers), got {value!r}")
    return tuple(dict.fromkeys(value))


def _listen(value: Any) -> tuple[str, int]:
    """'host:port' ('[::1]:9108' for IPv6) -> (host, port)."""
    found = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})", _text(value))
    if not found or not 0 < int(found[2]) < 65536:
        raise ValueError(f'expected "host:port" like "127.0.0.1:9108", got {value!r}')
    return found[1].strip("[]"), int(found[2])


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _weekly(value: Any) -> str:
    """A weekday and a UTC time, normalised to "mon 09:00"."""
    found = re.fullmatch(r"\s*([a-z]+)\s+(\d{1,2}):(\d{2})\s*", str(value).lower())
    days = set(WEEKDAYS) | {d[:3] for d in WEEKDAYS}
    if not isinstance(value, str) or not found or found[1] not in days:
        raise ValueError(f'expected a weekday and a UTC time like "mon 09:00", got {value!r}')
    hour, minute = int(found[2]), int(found[3])
    if hour > 23 or minute > 59:
        raise ValueError(f"no such time of day: {value!r}")
    return f"{found[1][:3]} {hour:02d}:{minute:02d}"


Schema = dict[str, Callable[[Any], Any]]

TELEGRAM: Schema = {
    "chat_id": _chat,
    "admin_chat_id": _chat,
    "token_env": _text,
    "api_base_url": _url,
    "link_preview": _bool,
    "per_minute": _positive_int,
    "send_timeout": _positive_duration,
    "admins": _user_ids,
}


def _database_url(value: Any) -> str:
    """A postgresql:// URL with no password in it (that comes from PGPASSWORD or .pgpass)."""
    url = _text(value)
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise ValueError(f'expected "postgresql://user@host:port/database", got {value!r}')
    if parts.password is not None or "password=" in parts.query:
        raise ValueError(
            "the URL holds a password: remove it and set PGPASSWORD or ~/.pgpass instead"
        )
    return url


STORAGE: Schema = {
    "path": _text,
    "max_bytes": _positive_int,
    "url": _database_url,
    "lease": _positive_duration,
}
SCHEDULE: Schema = {
    "interval": _positive_duration,
    "min_interval": _positive_duration,
    "jitter": parse_duration,
    "backfill": parse_duration,
}
FETCH: Schema = {
    "timeout": _positive_duration,
    "max_bytes": _positive_int,
    "user_agent": _text,
    "max_backoff": _positive_duration,
    "concurrency": _positive_int,
    "per_host": _positive_int,
    "report_after": _positive_int,
}
STORIES: Schema = {"merge": _bool, "window": _positive_duration}
METRICS: Schema = {"listen": _listen}
REPORT: Schema = {"weekly": _weekly, "top": _positive_int}
FEED: Schema = {"name": _text, "url": _url, "interval": _positive_duration}
ENTITY: Schema = {
    "name": _text,
    "kind": _text,
    "country": _text,
    "category": _text,
    "aliases": _words,
}
RULE: Schema = {
    "name": _text,
    "any": _words,
    "all": _words,
    "none": _words,
    "entities": _words,
    "supplier": _words,
    "recipient": _words,
    "within": _within,
    "detector": _detector,
    "min_score": _score,
    "priority": _bool,
    "chat_id": _chat,
    "digest": _digest,
}
TOP_LEVEL = {
    "telegram",
    "storage",
    "schedule",
    "fetch",
    "stories",
    "feeds",
    "rules",
    "entities",
    "metrics",
    "report",
}
SECTIONS: dict[str, Schema] = {  # the tables that appear once
    "telegram": TELEGRAM,
    "storage": STORAGE,
    "schedule": SCHEDULE,
    "fetch": FETCH,
    "stories": STORIES,
    "metrics": METRICS,
    "report": REPORT,
}
