"""The detector's vocabulary: cue words and named programmes from data files, and sentences.

``cues.tsv`` lists transfer verbs and nouns with their direction (``out``: the subject
supplies; ``in``: the subject receives; ``ask``: the subject requests; ``deal``: no
direction; ``weak``: vaguer help words; ``noun`` and ``aid``: transfer and aid nouns),
status words, negative context (``neg_*``) and the prepositions read before an actor
(``to``, ``from``, ``by``, ``with``). The detector adds one kind of its own, ``implied``:
a weapon followed by "to"/"for" and an actor ("arms to Russia") is a transfer cue.
``deals.tsv`` lists named programmes whose mention is itself a transfer (AUKUS).
Both are validated at load; errors name the file and line.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path

from watchers.detection.entities import DATA_DIR, parse_aliases, read_tsv
from watchers.errors import ConfigError

STATUSES = ("requested", "negotiating", "planned", "approved", "signed", "delivered", "blocked")
TRANSFER_KINDS = ("out", "noun", "aid", "in", "ask", "deal", "weak", "meet", "implied")
NEGATIVE_KINDS = ("neg_combat", "neg_test", "neg_domestic", "neg_trade", "neg_peace")
NEGATIVE_KINDS += ("neg_other", "neg_civil")
MATCHED_KINDS = (*TRANSFER_KINDS[:-1], "status", *NEGATIVE_KINDS, "mask", "notname")
GAP_KINDS = ("to", "from", "by", "with")

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’»]?\s+(?=[\"'“‘«(]?[^\W\d_a-zа-яіїєґ])|\n+")
_LAST_WORD = re.compile(r"(?:^|\s)([^\s]+)$")
_ABBREVIATIONS = "u.s. u.k. u.n. e.u. u.s.a. mr. ms. mrs. dr. st. sen. rep. gen. gov. lt. col."
_ABBREVIATIONS += " sgt. capt. adm. maj. prof. jr. sr. inc. corp. co. ltd. no. vs. jan. feb. aug."
ABBREVIATIONS = frozenset((_ABBREVIATIONS + " sept. oct. nov. dec. p.m. a.m. d.c.").split())


@dataclass(frozen=True)
class Programme:
    """A named arms programme: mentioning it names a transfer with known roles."""

    name: str
    suppliers: tuple[str, ...]
    recipients: tuple[str, ...]
    weapon: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class CueBook:
    """Cue phrases by kind and status, the gap prepositions, and the named programmes."""

    cues: tuple[tuple[str, str, str | None], ...]  # (phrase, kind, status)
    gap_words: dict[str, str]  # folded word -> to | from | by | with
    programmes: tuple[Programme, ...]

    def phrases(self) -> Iterable[tuple[str, Hashable]]:
        """(phrase, ("cue", kind, status)) and (alias, ("cue", "programme", name)) pairs."""
        for phrase, kind, status in self.cues:
            yield phrase, ("cue", kind, status)
        for programme in self.programmes:
            for alias in programme.aliases:
                yield alias, ("cue", "programme", programme.name)


def read_cues(path: Path) -> tuple[list[tuple[str, str, str | None]], dict[str, str]]:
    """Cue phrases and gap prepositions from cues.tsv."""
    cues: list[tuple[str, str, str | None]] = []
    gap_words: dict[str, str] = {}
    for source, (kind, status, phrases) in read_tsv(path, 3):
        if kind not in MATCHED_KINDS + GAP_KINDS:
            raise ConfigError(f"{source}: unknown cue kind {kind!r}")
        if status and status not in STATUSES:
            raise ConfigError(f"{source}: unknown status {status!r} (one of {STATUSES})")
        for phrase in parse_aliases(phrases, source):
            if kind in GAP_KINDS:
                gap_words[phrase.casefold()] = kind
            else:
                cues.append((phrase, kind, status or None))
    return cues, gap_words


def read_programmes(path: Path) -> list[Programme]:
    """Named programmes from deals.tsv."""
    programmes = []
    for source, (name, suppliers, recipients, weapon, aliases) in read_tsv(path, 5):
        if not (suppliers and recipients and weapon):
            raise ConfigError(f"{source}: {name!r} needs suppliers, recipients and a weapon")
        split = (
            tuple(s.strip() for s in suppliers.split("|")),
            tuple(r.strip() for r in recipients.split("|")),
        )
        programmes.append(Programme(name, *split, weapon, parse_aliases(aliases, source)))
    return programmes


@functools.lru_cache(maxsize=4)
def load_cuebook(data_dir: Path = DATA_DIR) -> CueBook:
    """The detector's vocabulary from the data files (read once per directory)."""
    cues, gap_words = read_cues(data_dir / "cues.tsv")
    return CueBook(tuple(cues), gap_words, tuple(read_programmes(data_dir / "deals.tsv")))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of a text; a title line is its own sentence."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if text[m.start()] != "\n" and is_abbreviation(text, m.start()):
            continue
        if text[start : m.start()].strip():
            spans.append((start, m.start()))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


def is_abbreviation(text: str, end: int) -> bool:
    """Whether the word ending at `end` is an abbreviation or an initial ("U.S.", "J.")."""
    word = _LAST_WORD.search(text, max(0, end - 12), end)
    if word is None:
        return False
    token = word.group(1).lstrip("\"'“‘«(").casefold()
    return token in ABBREVIATIONS or (len(token) == 2 and token[0].isalpha())
