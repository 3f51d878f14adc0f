"""Durations as written in config.toml: seconds, or "90s", "10m", "1h", "2d"."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(value: object) -> float:
    """Seconds from a number or a string like "10m"; ValueError names the bad value."""
    if isinstance(value, bool):
        raise ValueError(f'expected a duration like 600 or "10m", got {value!r}')
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative: {value!r}")
        return float(value)
    if isinstance(value, str):
        found = _PATTERN.match(value)
        if found:
            return float(found.group(1)) * _UNITS[found.group(2) or "s"]
    raise ValueError(f'expected a duration like 600, "90s", "10m" or "1h", got {value!r}')


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of a duration: 600 -> "10m"."""
    for unit in ("d", "h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"
