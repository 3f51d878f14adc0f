"""`check`: a summary of a valid config, and `--online`: fetch each feed once and report."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import aiohttp

from watchers.config.durations import format_duration
from watchers.config.load import Config
from watchers.detection.rules import RuleSet
from watchers.errors import ArmswatchError
from watchers.feeds.fetch import fetch_feed, make_client
from watchers.feeds.parse import parse_feed
from watchers.models import Feed


def summarize(config: Config, rules: RuleSet) -> list[str]:
    """Lines describing feeds, rules and entities of a valid config."""
    kinds: dict[str, int] = {}
    for entity in rules.gazetteer.entities.values():
        kinds[entity.kind] = kinds.get(entity.kind, 0) + 1
    lines = [
        f"{config.path}: OK",
        f"storage: {config.storage_url or config.storage_path}",
        f"telegram: chat {config.telegram.chat_id or '(not set: alerts print to the terminal)'}"
        f", token from ${config.telegram.token_env}",
        f"schedule: every {format_duration(config.interval)}, jitter "
        f"{format_duration(config.jitter)}, backfill {format_duration(config.backfill)}",
        f"feeds: {len(config.feeds)}",
    ]
    lines += [f"  {f.name}: {f.url} (every {format_duration(f.interval)})" for f in config.feeds]
    lines.append(f"rules: {len(config.rules)}")
    lines += [f"  {spec.name}{' [priority]' if spec.priority else ''}" for spec in config.rules]
    lines.append("entities: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    lines.append(f"  from config: {len(config.entities)}")
    return lines


async def check_online(config: Config) -> list[tuple[Feed, str]]:
    """Fetch and parse each feed once; a status line per feed."""
    async with make_client(config.fetch) as client:
        return await asyncio.gather(*(_check_feed(client, config, f) for f in config.feeds))


async def _check_feed(
    client: aiohttp.ClientSession, config: Config, feed: Feed
) -> tuple[Feed, str]:
    started = time.monotonic()
    try:
        result = await fetch_feed(client, feed.url, config.fetch)
        items = parse_feed(result.body, feed.name, {"content-type": result.content_type})
    except ArmswatchError as exc:
        return feed, f"FAIL {exc}"
    took = time.monotonic() - started
    dated = [i.published for i in items if i.published]
    age = ""
    if dated:
        hours = (datetime.now(UTC) - max(dated)).total_seconds() / 3600
        age = f", newest {hours:.0f}h old" if hours < 72 else f", newest {hours / 24:.0f} days old"
    moved = f", moved to {result.moved_to}" if result.moved_to else ""
    return feed, f"ok {len(items)} items{age}, {len(result.body) // 1024} KB in {took:.1f}s{moved}"
