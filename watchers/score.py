"""`score` and `explain`: run the daemon's exact matching over JSON Lines, no network, no DB."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from watchers.detection.model import model_reasons
from watchers.detection.rules import RuleSet
from watchers.errors import ArmswatchError
from watchers.feeds.parse import html_to_text
from watchers.models import Item, Verdict


class InputError(ArmswatchError):
    """A line of score input is not a usable item."""


def item_from_json(line: str, where: str) -> Item:
    """One JSON Lines record as an Item; InputError names the line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object")
    if "id" not in record or not any(record.get(k) for k in ("title", "summary")):
        raise InputError(f'{where}: needs "id" and a "title" or "summary"')
    return Item(
        id=str(record["id"]),
        title=html_to_text(str(record.get("title") or "")),
        summary=html_to_text(str(record.get("summary") or "")),
        link=str(record.get("link") or ""),  # kept as given: only the text is matched
        published=_date(record.get("published")),
        source=str(record.get("source") or ""),
    )


def _date(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def verdict_record(item_id: str, verdict: Verdict, explain: bool = False) -> dict:
    """The JSON answer for one item."""
    detection = verdict.detection
    record = {
        "id": item_id,
        "alert": verdict.alert,
        "rules": [m.rule for m in verdict.matches],
        "supplier": list(detection.supplier),
        "recipient": list(detection.recipient),
        "weapons": [w.name for w in detection.weapons],
        "categories": sorted({w.category for w in detection.weapons}),
        "status": detection.status,
        "score": round(detection.score, 3),
    }
    if explain:
        record["matches"] = [
            {"rule": m.rule, "terms": list(m.terms), "entities": list(m.entities)}
            for m in verdict.matches
        ]
        record["reasons"] = [*detection.reasons, *model_reasons(detection.weighed)]
    return record


def score_lines(
    lines: Iterable[str], rules: RuleSet, source: str = "<stdin>", explain: bool = False
) -> Iterator[dict]:
    """Score JSON Lines one by one; blank lines are skipped."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        item = item_from_json(line, f"{source} line {number}")
        yield verdict_record(item.id, rules.match(item, exact=True), explain)


def explain_text(text: str, rules: RuleSet) -> list[str]:
    """Why a text would or would not alert, as lines for a person."""
    title, _, summary = text.partition("\n")
    item = Item(id="explain", title=title.strip(), summary=summary.strip())
    seen = rules.read(item)
    verdict = rules.match(item, exact=True)
    detection = verdict.detection
    lines = [f"alert: {'yes' if verdict.alert else 'no'}"]
    lines += [
        f"rule {m.rule}: terms={list(m.terms)} entities={list(m.entities)}" for m in verdict.matches
    ]
    lines.append(
        "entities: " + ", ".join(f"{m.text} -> {m.entity} ({m.kind})" for m in seen.mentions)
        or "entities: none"
    )
    lines.append(
        f"detector: score={detection.score:.2f} supplier={list(detection.supplier)} "
        f"recipient={list(detection.recipient)} "
        f"weapons={[w.name for w in detection.weapons]} status={detection.status}"
    )
    reasons = [*detection.reasons, *model_reasons(detection.weighed)]
    lines += [f"  because {reason}" for reason in reasons]
    fired = {m.rule for m in verdict.matches}
    lines += [f"rule {spec.name}: did not fire" for spec in rules.specs if spec.name not in fired]
    return lines
