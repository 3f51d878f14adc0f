"""Who is the supplier and who the recipient: each actor of an item weighed by learned models.

The reading (roles.py) votes each actor into a side from its slot against a transfer cue;
those votes are good where the grammar is plain and miss where it is not ("Putin says giving
Patriots to Kyiv is prolonging the conflict": Russia is named, the United States supplies).
Here every actor the item names is a candidate with features: what the reading made of it
(``read:supplier``, ``votes:recipient``, ``read:partner``), where it stands (``title``,
``first``, the word before it: ``before:to``, ``before:from``), how it is named
(``adjective``: a demonym), whether it makes a weapon the item names (``maker``), how
often, its kind and its name (``name:Ukraine``: some actors are far more often on one
side). Two logistic regressions, trained with the verdict's model by `bot.py train` on the
labelled transfers, give each candidate a supplier and a recipient score; an actor takes
the side it scores higher on, and a side takes every actor over 0.5; a side left empty
takes its most likely remaining actor when that scores at least the model's fill score
(chosen by cross-validation in training, 0.25 in older model files), else the reading's own
choice.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

from watchers.detection.roles import Reading
from watchers.detection.slots import Mark

_BEFORE = re.compile(r"([^\W\d_]+|[,:;])\W*$", re.UNICODE)
_AFTER = re.compile(r"^\W*([^\W\d_]+)", re.UNICODE)
SIDES = ("supplier", "recipient")
FILL_SCORE = 0.25  # the fill score of a model file that names none


@dataclass(frozen=True)
class SideModel:
    """Weights of candidate features for one side."""

    weights: dict[str, float]
    intercept: float

    def score(self, features: Sequence[str]) -> float:
        """The probability that a candidate with these features is on this side."""
        z = self.intercept + sum(map(self.weights.get, features, repeat(0.0)))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def candidate_features(
    text: str,
    marks: Sequence[Mark],
    readings: Sequence[Reading],
    supplier: Sequence[str],
    recipient: Sequence[str],
    kinds: dict[str, str],
    makers: frozenset[str] = frozenset(),
) -> dict[str, list[str]]:
    """Each actor the item names (or the reading found) with its features (makers: the
    countries that make a weapon the item names)."""
    title_end = text.find("\n") if "\n" in text else len(text)
    actors = [m for m in marks if m.kind == "actor" and m.value]
    counts = Counter(m.value for m in actors)
    names = list(dict.fromkeys([*(m.value for m in actors), *supplier, *recipient]))
    out: dict[str, list[str]] = {}
    for index, name in enumerate(names):
        mine = [m for m in actors if m.value == name]
        found = [f"name:{name}", f"kind:{kinds.get(name, 'other')}"]
        found += reading_votes(name, readings, supplier, recipient)
        found.append(f"mentions:{min(counts[name], 3)}")
        found += ["maker"] if name in makers else []
        found += ["first"] if index == 0 else []
        if mine:
            first = mine[0]
            found += ["title"] if first.start < title_end else []
            found += ["adjective"] if any(m.adjective for m in mine) else []
            found += [f"before:{w}" for w in {word_before(text, m.start) for m in mine} if w]
            found += [f"after:{w}" for w in {word_after(text, m.end) for m in mine} if w]
            place = "title" if first.start < title_end else "summary"
            found += [f"{place}:{f}" for f in found if f.startswith(("read:", "before:", "name:"))]
        else:
            found.append("unnamed")  # from a programme or a weapon's maker
        out[name] = found
    return out


def reading_votes(
    name: str, readings: Sequence[Reading], supplier: Sequence[str], recipient: Sequence[str]
) -> list[str]:
    """What the reading made of one actor, alone and with its place in the title."""
    found = []
    if name in supplier:
        found.append("read:supplier")
    if name in recipient:
        found.append("read:recipient")
    s_votes = sum(name in r.suppliers for r in readings)
    r_votes = sum(name in r.recipients for r in readings)
    p_votes = sum(name in r.partners for r in readings)
    found += [f"votes:supplier:{min(s_votes, 2)}", f"votes:recipient:{min(r_votes, 2)}"]
    found += ["read:partner"] if p_votes else []
    return found


def word_before(text: str, start: int) -> str:
    """The word (or comma, colon) right before a position, lower-cased."""
    match = _BEFORE.search(text, max(0, start - 30), start)
    return match.group(1).lower() if match else ""


def word_after(text: str, end: int) -> str:
    """The word right after a position, lower-cased."""
    match = _AFTER.match(text[end : end + 30])
    return match.group(1).lower() if match else ""


def choose_sides(
    candidates: dict[str, list[str]],
    models: dict[str, SideModel],
    supplier: Sequence[str],
    recipient: Sequence[str],
    fill: float = FILL_SCORE,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Supplier and recipient: actors over 0.5 on their better side; a side left empty
    takes its likeliest remaining actor scoring at least `fill`; else the reading's."""
    chosen: dict[str, list[str]] = {"supplier": [], "recipient": []}
    scores = {
        name: {side: models[side].score(f) for side in SIDES} for name, f in candidates.items()
    }
    for name, score in scores.items():
        side = max(SIDES, key=lambda s: score[s])
        if score[side] >= 0.5:
            chosen[side].append(name)
    for side in SIDES:
        if not chosen[side]:
            chosen[side] = fill_side(side, scores, chosen, fill)
    suppliers = chosen["supplier"] or [s for s in supplier if s not in chosen["recipient"]]
    recipients = chosen["recipient"] or [r for r in recipient if r not in suppliers]
    return tuple(suppliers), tuple(recipients)


def fill_side(
    side: str,
    scores: dict[str, dict[str, float]],
    chosen: dict[str, list[str]],
    fill: float = FILL_SCORE,
) -> list[str]:
    """An empty side takes its most likely actor not on the other side, when at least
    `fill` likely (scores: each candidate's score on each side): a report names both
    sides far more often than it seems to."""
    taken = {name for names in chosen.values() for name in names}
    scored = [(score[side], name) for name, score in scores.items() if name not in taken]
    if not scored:
        return []
    best = max(scored)
    return [best[1]] if best[0] >= fill else []
