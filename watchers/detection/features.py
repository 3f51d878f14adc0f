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
from collections.abc import Iterable, Sequence

from watchers.detection.cues import NEGATIVE_KINDS, STATUSES, TRANSFER_KINDS
from watchers.detection.roles import Reading
from watchers.detection.slots import Mark
from watchers.models import Detection

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)?|\$", re.UNICODE)
_PLACEHOLDER = {"actor": "<actor>", "weapon": "<weapon>"}
COLLECTIVE_KINDS = frozenset({"region", "organization"})


def word_tokens(text: str, marks: Sequence[Mark]) -> list[str]:
    """Lower-cased words of a text, each actor or weapon span one placeholder token."""
    return split_tokens(text, marks)[0]


def split_tokens(text: str, marks: Sequence[Mark], title_end: int = 0) -> tuple[list[str], int]:
    """word_tokens, and how many of them start before title_end (the title's)."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a letter whose lower case is longer ("İ"): rare
        lowered = "".join(ch.lower()[0] for ch in text)
    spans = sorted((m for m in marks if m.kind in _PLACEHOLDER), key=lambda m: (m.start, -m.end))
    tokens: list[str] = []
    in_title = 0
    position = 0
    for start, placeholder in [*((m.start, m) for m in spans), (len(text), None)]:
        if start < position:
            continue  # inside a longer span already taken
        if position < title_end:
            tokens += _TOKEN.findall(lowered, position, min(start, title_end))
            in_title = len(tokens)
            tokens += _TOKEN.findall(lowered, title_end, start) if start > title_end else []
        else:
            tokens += _TOKEN.findall(lowered, position, start)
        if placeholder is not None:
            tokens.append(_PLACEHOLDER[placeholder.kind])
            in_title += start < title_end
            position = placeholder.end
    return tokens, in_title


def title_tokens(text: str, marks: Sequence[Mark]) -> tuple[int, list[str], int]:
    """Where the title ends (the first new line), the item's tokens, and how many of them
    are the title's."""
    title_end = text.find("\n")
    title_end = len(text) if title_end < 0 else title_end
    tokens, in_title = split_tokens(text, marks, title_end)
    return title_end, tokens, in_title


def word_features(tokens: list[str], prefix: str) -> set[str]:
    """Unigrams and bigrams of a token list, prefixed with the part of the item."""
    grams = {f"{prefix}:{t}" for t in tokens}
    grams |= {f"{prefix}:{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)}
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
) -> set[str]:
    """Every feature of one item (text: title, a new line, the summary)."""
    found = plain_features(text, marks, vocabulary)
    return found | reading_features(detection, readings, vocabulary.collective)


def plain_features(text: str, marks: Sequence[Mark], vocabulary: FeatureContext) -> set[str]:
    """The features known before the reading: the words and the marks. Which actors are named
    is left out: who is in the news changes by the year, and a weight learned for "Australia"
    in the year of AUKUS is no evidence of a transfer in another."""
    title_end, tokens, in_title = title_tokens(text, marks)
    found = word_features(tokens, "w")
    found |= {f"t:{t}" for t in tokens[:in_title]}
    return found | mark_features(marks, title_end, vocabulary.categories)


class WordWeights:
    """A model's weights of the word features by word or word pair ("w:send" under "send",
    "w:send <weapon>" under "send <weapon>") and of the title's words ("t:send"), so that
    scoring an item looks its words up instead of naming every one of them as a feature
    (weighed_plain_features)."""

    def __init__(self, weights: dict[str, float]):
        self.words = {name[2:]: w for name, w in weights.items() if name[:2] == "w:"}
        self.titles = {name[2:]: w for name, w in weights.items() if name[:2] == "t:"}


def weighed_plain_features(
    text: str,
    marks: Sequence[Mark],
    vocabulary: FeatureContext,
    words: WordWeights,
    weights: dict[str, float],
) -> list[tuple[str, float]]:
    """The plain features that have a weight, with it: the same pairs as keeping the
    weighed ones of plain_features() (the daemon's way; training names them all)."""
    title_end, tokens, in_title = title_tokens(text, marks)
    grams, titles = words.words, words.titles
    pairs = {f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)}
    found = [(f"w:{g}", w) for g in {*tokens, *pairs} if (w := grams.get(g)) is not None]
    found += [(f"t:{t}", w) for t in set(tokens[:in_title]) if (w := titles.get(t)) is not None]
    named = mark_features(marks, title_end, vocabulary.categories)
    return found + [(f, w) for f in named if (w := weights.get(f)) is not None]


class ReadingBound:
    """The most reading_features() could add to a logit, known from the marks alone: one
    feature of each exclusive group at its best weight among those the marks allow, and
    the others only where they would add. Skipping the reading of an item that could not
    reach a rule's min_score even so changes no rule's verdict."""

    OPTIONAL = ("roles:collective", "roles:self", "reading:directed", "reading:aid_only")

    def __init__(self, weights: dict[str, float]):
        def group(prefix: str, names: Iterable[str], suffix: str = "") -> dict[str, float]:
            return {n: weights.get(f"{prefix}{n}{suffix}", 0.0) for n in names}

        self.roles = group("roles:", ("none", "supplier", "recipient", "both"))
        self.statuses = group("status:", ("none", *STATUSES), ":read")
        self.sentences = [weights.get(f"reading:sentences:{n}", 0.0) for n in range(4)]
        self.cues = group("reading:cue:", ("none", *TRANSFER_KINDS))
        optional = [*self.OPTIONAL, *(f for f in weights if f.startswith("reading:context:"))]
        self.optional = sum(max(0.0, weights.get(f, 0.0)) for f in optional)
        self.title = max(0.0, weights.get("reading:title", 0.0))

    def most(self, marks: Sequence[Mark], cue_sentences: Sequence[bool]) -> float:
        """cue_sentences: for each sentence, whether it holds a transfer cue or a programme
        (what any sentence the reading scores needs)."""
        actors = {m.value for m in marks if m.kind == "actor" and m.value}
        named = len(actors) + (2 if any(m.kind == "programme" for m in marks) else 0)
        roles = self.roles
        most = max((roles["none"], *((roles["supplier"], roles["recipient"]) if named else ())))
        most = max(most, roles["both"]) if named > 1 else most
        statuses = self.statuses
        found = [statuses[m.value] for m in marks if m.value in statuses]
        most += max((statuses["none"], statuses["planned"], *found))
        strong = min(sum(cue_sentences), 3)
        most += max(self.sentences[: strong + 1])
        if strong:
            cues = self.cues
            most += max((cues["none"], *(cues[m.kind] for m in marks if m.kind in cues)))
            most += self.title if cue_sentences[0] else 0.0
        return most + self.optional


class FeatureContext:
    """What feature extraction needs of the gazetteer: weapon categories and collectives."""

    def __init__(self, categories: dict[str, str], collective: frozenset[str]):
        self.categories = categories
        self.collective = collective
