"""The features of one item for the learned verdict: the reading's structure and the words.

Two families, all binary, named so that a person can read them in `explain`:

- the reading (language-independent, from the marks and the roles the detector found):
  ``cue:out``, ``cue:in:title`` (a transfer cue of that kind, in the title), ``status:approved``,
  ``neg:combat`` (non-transfer context), ``weapon:aircraft`` (a weapon category),
  ``roles:both`` / ``roles:supplier`` / ``roles:recipient`` / ``roles:none``,
  ``roles:collective`` (a side is an alliance or region), ``reading:aid_only``, ...
- the words, with actors and weapons replaced by placeholders so that what is learned of
  "Germany to send tanks to Ukraine" carries to any actor and weapon: ``w:send``,
  ``w:send <weapon>``, ``w:to <actor>`` over the whole item, ``t:send`` in the title.
  Ukrainian and Russian words are their lemmas (watchers/detection/morph.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from watchers.detection.cues import NEGATIVE_KINDS, TRANSFER_KINDS
from watchers.detection.roles import Reading
from watchers.detection.slots import Mark
from watchers.models import Detection

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)?|\$", re.UNICODE)
_PLACEHOLDER = {"actor": "<actor>", "weapon": "<weapon>"}
COLLECTIVE_KINDS = frozenset({"region", "organization"})


def word_tokens(text: str, marks: Sequence[Mark]) -> list[str]:
    """Lower-cased words of a text, each actor or weapon span one placeholder token."""
    return [token for token, _ in placed_tokens(text, marks)]


def placed_tokens(text: str, marks: Sequence[Mark]) -> list[tuple[str, int]]:
    """word_tokens with where each token starts."""
    spans = sorted((m for m in marks if m.kind in _PLACEHOLDER), key=lambda m: (m.start, -m.end))
    tokens: list[tuple[str, int]] = []
    position = 0
    for mark in spans:
        if mark.start < position:
            continue  # inside a longer span already taken
        found = _TOKEN.finditer(text, position, mark.start)
        tokens += [(t.group().lower(), t.start()) for t in found]
        tokens.append((_PLACEHOLDER[mark.kind], mark.start))
        position = mark.end
    tokens += [(t.group().lower(), t.start()) for t in _TOKEN.finditer(text, position)]
    return tokens


def word_features(tokens: list[str], prefix: str, heads: frozenset[str] | None = None) -> set[str]:
    """Unigrams and bigrams of a token list, prefixed with the part of the item; given the
    words a model's bigrams start with (heads), only bigrams that could have a weight."""
    grams = {f"{prefix}:{t}" for t in tokens}
    pairs = zip(tokens, tokens[1:], strict=False)
    if heads is not None:
        pairs = ((a, b) for a, b in pairs if a in heads)
    grams |= {f"{prefix}:{a} {b}" for a, b in pairs}
    return grams


def mark_features(marks: Sequence[Mark], title_end: int, categories: dict[str, str]) -> set[str]:
    """Cue kinds, statuses, negative context and weapon categories, and which are in the title."""
    found: set[str] = set()
    for mark in marks:
        name = mark_name(mark, categories)
        if name is None:
            continue
        found.add(name)
        if mark.start < title_end:
            found.add(f"{name}:title")
    return found


def mark_name(mark: Mark, categories: dict[str, str]) -> str | None:
    """The feature a mark stands for, or None for marks that are not features."""
    if mark.kind in TRANSFER_KINDS or mark.kind == "programme":
        return f"cue:{mark.kind}"
    if mark.kind in NEGATIVE_KINDS:
        return f"neg:{mark.kind[4:]}"
    if mark.kind == "status" and mark.value:
        return f"status:{mark.value}"
    if mark.kind == "weapon":
        return f"weapon:{categories.get(mark.value or '', 'other')}"
    return None


def reading_features(
    detection: Detection, readings: Sequence[Reading], collective: frozenset[str]
) -> set[str]:
    """What the reading made of the item: roles found, how, and how many sentences agree."""
    supplier, recipient = bool(detection.supplier), bool(detection.recipient)
    roles = "both" if supplier and recipient else "supplier" if supplier else "none"
    roles = "recipient" if recipient and not supplier else roles
    found = {f"roles:{roles}", f"status:{detection.status or 'none'}:read"}
    if collective.intersection((*detection.supplier, *detection.recipient)):
        found.add("roles:collective")
    strong = [r for r in readings if r.score > 0]
    found.add(f"reading:sentences:{min(len(strong), 3)}")
    if strong:
        best = max(strong, key=lambda r: (r.score, -r.index))
        found.add(f"reading:cue:{best.cue_kind or 'none'}")
        found |= {"reading:directed"} if best.directed else set()
        found |= {"reading:aid_only"} if best.aid_only else set()
        found |= {"reading:title"} if best.index == 0 else set()
        found |= {f"reading:context:{kind}" for kind in best.contexts}
    if any(r.self_transfer for r in readings):
        found.add("roles:self")
    return found


def item_features(
    text: str,
    marks: Sequence[Mark],
    detection: Detection,
    readings: Sequence[Reading],
    vocabulary: FeatureContext,
    heads: frozenset[str] | None = None,
) -> set[str]:
    """Every feature of one item (text: title, a new line, the summary); heads as in
    word_features (the daemon passes its model's, training none)."""
    title_end = text.find("\n")
    title_end = len(text) if title_end < 0 else title_end
    placed = placed_tokens(text, marks)
    found = word_features([t for t, _ in placed], "w", heads)
    found |= {f"t:{t}" for t, start in placed if start < title_end}
    found |= mark_features(marks, title_end, vocabulary.categories)
    found |= {f"e:{m.value}" for m in marks if m.kind == "actor" and m.value}
    found |= reading_features(detection, readings, vocabulary.collective)
    return found


class FeatureContext:
    """What feature extraction needs of the gazetteer: weapon categories and collectives."""

    def __init__(self, categories: dict[str, str], collective: frozenset[str]):
        self.categories = categories
        self.collective = collective
