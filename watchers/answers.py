"""The answers to admin commands: pure functions of the app's state, returning HTML lines.

Every interpolated string is escaped; long answers are split by line (split_message).
watchers/admin.py is the Telegram side that routes commands here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape

from watchers.app import App
from watchers.config.durations import format_duration, parse_duration
from watchers.models import RuleSpec
from watchers.score import explain_text

log = logging.getLogger("armswatch.admin")

MAX_CHARS = 4000  # Telegram's limit is 4096 (UTF-16 units); leave room
RECENT = 10
FAILING = ("error", "gone")
HELP = (
    ("status", "feeds ok and failing, last poll, queue, alerts today"),
    ("recent", f"the last {RECENT} alerts"),
    ("feeds", "each feed, its status and last error"),
    ("rules", "the rules and what they need"),
    ("mute", "RULE DURATION: hold back a rule's alerts, e.g. /mute arms-transfer 2h"),
    ("unmute", "RULE: alert on the rule again"),
    ("explain", "TEXT: why a headline would or would not alert"),
    ("wrong", "as a reply to an alert that is no arms transfer: a label for training"),
    ("missed", "LINK, or HEADLINE and summary on the next lines: a story not alerted"),
)

Answer = Callable[[App, str, int], list[str]]


def stamp(t: float) -> str:
    """'2024-01-04 12:47 UTC'."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def when(t: float | None, now: float) -> str:
    """'2024-01-04 12:47 UTC (3m ago)', or 'never'."""
    if not t:
        return "never"
    return f"{stamp(t)} ({format_duration(max(0, round(now - t)))} ago)"


def answer_status(app: App, _args: str, _user: int) -> list[str]:
    """/status: feeds ok and failing, last poll, queue depth, alerts sent today, mutes."""
    store, now = app.pipeline.store, time.time()
    states = {s.url: s for s in store.feed_states()}
    feeds = [states.get(f.url) for f in app.config.feeds]
    failing = sum(1 for s in feeds if s and s.status in FAILING)
    never = sum(1 for s in feeds if s is None or s.status == "new")
    last = max((s.last_poll for s in feeds if s), default=0.0)
    midnight = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0)
    lines = [
        "<b>armswatch status</b>",
        f"Feeds: {len(feeds) - failing - never} ok, {failing} failing, {never} not polled yet",
        f"Last poll: {when(last, now)}",
        f"Outbox: {store.undelivered_count()} queued",
        f"Alerts sent today: {store.alerts_sent_since(midnight.timestamp())} (UTC day)",
    ]
    lines += [
        f"🔇 <b>{escape(rule)}</b> muted until {stamp(until)}"
        for rule, until in sorted(store.muted_rules(now).items())
    ]
    return lines


def answer_recent(app: App, _args: str, _user: int) -> list[str]:
    """/recent: the last alerts with their links and delivery status."""
    rows = app.pipeline.store.recent_alerts(RECENT)
    if not rows:
        return ["No alerts yet."]
    now = time.time()
    lines = [f"<b>Last {len(rows)} alerts</b>"]
    for number, row in enumerate(rows, 1):
        title = escape(_clip(row["title"] or "(no title)", 200))
        link = row["link"] or ""
        if link.startswith(("https://", "http://")):
            title = f'<a href="{escape(link)}">{title}</a>'
        at = when(row["sent_at"] or row["created_at"], now)
        lines.append(f"{number}. {title}\n   {escape(row['feed'])} · {at} · {row['status']}")
    return lines


def answer_feeds(app: App, _args: str, _user: int) -> list[str]:
    """/feeds: each configured feed, its status, failures and last error."""
    states = {s.url: s for s in app.pipeline.store.feed_states()}
    now = time.time()
    lines = [f"<b>{len(app.config.feeds)} feeds</b>"]
    for feed in app.config.feeds:
        state = states.get(feed.url)
        status = state.status if state else "new"
        mark = "❌" if status in FAILING else "⏳" if status == "new" else "✅"
        line = f"{mark} <b>{escape(feed.name)}</b> {status}"
        if state and state.failures:
            line += f" ×{state.failures}"
        line += f" · polled {when(state.last_poll if state else None, now)}"
        if state and state.error:
            line += f"\n   <i>{escape(_clip(state.error, 300))}</i>"
        lines.append(line)
    return lines


def describe_rule(spec: RuleSpec) -> str:
    """What a rule needs to fire, in one line of plain text."""
    parts = []
    if spec.detector:
        parts.append(f"detector {spec.detector} score ≥ {spec.min_score:g}")
    for key, label in (
        ("supplier", "supplier"),
        ("recipient", "recipient"),
        ("entities", "mentions all of"),
        ("all", "all of"),
        ("any", "any of"),
        ("none", "none of"),
    ):
        if getattr(spec, key):
            parts.append(f"{label}: {', '.join(getattr(spec, key))}")
    if spec.within_sentence:
        parts.append("within one sentence")
    elif spec.within:
        parts.append(f"within {spec.within} words")
    if spec.chat_id:
        parts.append(f"sent to {spec.chat_id}")
    return "; ".join(parts)


def answer_rules(app: App, _args: str, _user: int) -> list[str]:
    """/rules: each rule's name, what it needs, and whether it is muted."""
    now = time.time()
    muted = app.pipeline.store.muted_rules(now)
    specs = app.pipeline.rules.specs
    lines = [f"<b>{len(specs)} rules</b>"]
    for spec in specs:
        line = f"{'‼️' if spec.priority else '🚨'} <b>{escape(spec.name)}</b>: "
        line += escape(describe_rule(spec))
        if spec.name in muted:
            line += f"\n   🔇 muted until {stamp(muted[spec.name])}"
        lines.append(line)
    return lines


def answer_mute(app: App, args: str, user: int) -> list[str]:
    """/mute RULE DURATION: the rule's matches are not alerted until the mute ends."""
    rule, _, duration = args.strip().rpartition(" ")
    rule = rule.strip()
    try:
        seconds = parse_duration(duration)
    except ValueError:
        seconds = 0.0
    if not rule or seconds <= 0:
        return ["Usage: <code>/mute RULE DURATION</code>, e.g. <code>/mute arms-transfer 2h</code>"]
    if problem := _unknown_rule(app, rule):
        return problem
    now = time.time()
    app.pipeline.store.mute_rule(rule, now + seconds, user, now)
    log.info("event=rule_muted rule=%s for=%gs by=%d", rule, seconds, user)
    return [
        f"🔇 Rule <b>{escape(rule)}</b> muted for {format_duration(seconds)}, until "
        f"{stamp(now + seconds)}.",
        "Items it matches meanwhile are not alerted (not later either).",
    ]


def answer_unmute(app: App, args: str, user: int) -> list[str]:
    """/unmute RULE: alert on the rule's matches again."""
    rule = args.strip()
    if not rule:
        muted = sorted(app.pipeline.store.muted_rules(time.time()))
        now_muted = ", ".join(escape(r) for r in muted) or "none"
        return [f"Usage: <code>/unmute RULE</code>. Muted now: {now_muted}"]
    if problem := _unknown_rule(app, rule):
        return problem
    if not app.pipeline.store.unmute_rule(rule, time.time()):
        return [f"Rule <b>{escape(rule)}</b> was not muted."]
    log.info("event=rule_unmuted rule=%s by=%d", rule, user)
    return [f"🔔 Rule <b>{escape(rule)}</b> unmuted: its matches alert again."]


def answer_explain(app: App, args: str, _user: int) -> list[str]:
    """/explain TEXT: the rules' and the detector's reading of a headline (+ newline summary)."""
    if not args.strip():
        return ["Usage: <code>/explain headline</code> (a second line is read as the summary)"]
    lines = explain_text(args.strip(), app.pipeline.rules)
    return ["<pre>" + escape(_clip(line, 1000)) + "</pre>" for line in lines]


def answer_help(_app: App, _args: str, _user: int) -> list[str]:
    """/help and /start: the commands."""
    return ["<b>armswatch commands</b>"] + [f"/{name} {escape(what)}" for name, what in HELP]


def _unknown_rule(app: App, rule: str) -> list[str] | None:
    names = [spec.name for spec in app.pipeline.rules.specs]
    if rule in names:
        return None
    return [f"No rule named <b>{escape(rule)}</b>. Rules: {escape(', '.join(names))}"]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_message(lines: list[str], limit: int = MAX_CHARS) -> list[str]:
    """Lines joined into messages under Telegram's limit, never splitting a line."""
    messages, current = [], ""
    for line in lines:
        if current and _units(current) + 1 + _units(line) > limit:
            messages.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    return [*messages, current] if current else messages


COMMANDS: dict[str, Answer] = {
    "status": answer_status,
    "recent": answer_recent,
    "feeds": answer_feeds,
    "rules": answer_rules,
    "mute": answer_mute,
    "unmute": answer_unmute,
    "explain": answer_explain,
    "help": answer_help,
    "start": answer_help,
}
