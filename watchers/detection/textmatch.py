"""One multi-pattern pass over a text: case-folded, whole-word phrase search.

Aho-Corasick (pyahocorasick) finds every occurrence of every phrase in one scan of
the folded text; a hit counts only when it stands as whole words. A phrase ending in
``*`` is a stem: it matches any word that starts with it (``росі*`` finds Росія,
Росії, Росією), which is how inflected Ukrainian and Russian forms are written. A
phrase starting with ``=`` matches only with the exact case (``=US`` finds "US" but
not the pronoun "us").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Iterable
from typing import NamedTuple

import ahocorasick
import ahocorasick_rs
from ahocorasick_rs import Implementation

_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212"
# one character each, so offsets stay one to one: quotes, and "…" ("Continue reading…")
_ONE_FOR_ONE = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u2026": "."}


class Hit(NamedTuple):
    """A phrase found in a text; start/end index the original (unfolded) text."""

    key: Hashable
    phrase: str
    start: int
    end: int


def fold_char(ch: str) -> str:
    """Case-fold one character; dashes and white space become one space."""
    if ch in _DASHES or ch.isspace():
        return " "
    ch = _ONE_FOR_ONE.get(ch, ch)
    return unicodedata.normalize("NFKC", ch).casefold()


_SPACES = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
_SPACES += "".join(chr(c) for c in range(0x2000, 0x200B))
_SPACE_RUNS = re.compile(" {2,}")
_ASCII_TABLE = bytes(
    ord(fold_char(chr(c))) if len(fold_char(chr(c))) == 1 else c for c in range(128)
)
_ASCII_TABLE += bytes(range(128, 256))
_SPECIAL_MAP = {**dict.fromkeys(_DASHES + _SPACES, " "), **_ONE_FOR_ONE}
_USUAL = (
    ("\n", " "),
    ("-", " "),
    ("\u2019", "'"),
    ("\u2018", "'"),
    ("\u2013", " "),
    ("\u2014", " "),
    ("\u2026", "."),
)
_SPECIAL = re.compile("[" + re.escape("".join(_SPECIAL_MAP)) + "]")


def _fold_special(found: re.Match) -> str:
    return _SPECIAL_MAP[found.group()]


def fold(text: str) -> tuple[str, list[int] | None]:
    """Fold a text for matching; return it with a map from folded to original offsets.

    The map is None when every character folds to exactly one (the common case, done
    with C-speed string methods); otherwise each character is folded on its own.
    """
    folded = _fold_one_for_one(text)
    if folded is None:
        return _fold_slowly(text)
    return (folded, None) if "  " not in folded else _collapse_spaces(folded)


def fold_text(text: str) -> str:
    """fold(text) without the offset map: what a scan that needs no positions reads."""
    folded = _fold_one_for_one(text)
    if folded is None:
        return _fold_slowly(text)[0]
    return folded if "  " not in folded else _SPACE_RUNS.sub(" ", folded)


def _fold_one_for_one(text: str) -> str | None:
    """The text folded character for character (runs of spaces not yet collapsed), or None
    when some character folds to more or fewer than one."""
    if text.isascii():  # most news: one C pass folds case, dashes and spaces together
        return text.encode("ascii").translate(_ASCII_TABLE).decode("ascii")
    probe = text  # the one-for-one replacements first: NFKC would widen "…" and others
    for char, replacement in _USUAL:  # str.replace is far cheaper than a regex callback
        if char in probe:
            probe = probe.replace(char, replacement)
    if probe.isascii():  # curly quotes and dashes were all it had: the ASCII way
        return _fold_one_for_one(probe)
    if _SPECIAL.search(probe):
        probe = _SPECIAL.sub(_fold_special, probe)
    if unicodedata.is_normalized("NFKC", probe):
        folded = probe.casefold()
        if len(folded) == len(text):
            return folded
    return None


def _collapse_spaces(folded: str) -> tuple[str, list[int]]:
    """Runs of spaces as one space, with the offset map built a segment at a time."""
    parts: list[str] = []
    origin: list[int] = []
    start = 0
    for run in _SPACE_RUNS.finditer(folded):
        cut = run.start() + 1  # keep one space of the run
        parts.append(folded[start:cut])
        origin.extend(range(start, cut))
        start = run.end()
    parts.append(folded[start:])
    origin.extend(range(start, len(folded) + 1))
    return "".join(parts), origin


def _fold_slowly(text: str) -> tuple[str, list[int]]:
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        folded = fold_char(ch)
        if folded == " " and out and out[-1] == " ":
            continue  # runs of spaces and dashes fold to one space
        for c in folded:
            out.append(c)
            origin.append(i)
    origin.append(len(text))
    return "".join(out), origin


def fold_phrase(phrase: str) -> str:
    """Fold a phrase the way texts are folded, trimmed."""
    return fold(phrase.strip())[0].strip()


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _word_end(text: str, pos: int) -> int:
    while pos < len(text) and _is_word_char(text[pos]):
        pos += 1
    return pos


class Automata:
    """One Aho-Corasick automaton of all the phrases, and one of the ASCII ones alone for
    ASCII texts (no other phrase can be in them): half the first letters at the root, and
    a fifth faster over English news than the automaton that holds Cyrillic too."""

    def __init__(self, entries: dict[str, object]):
        self.all = ahocorasick.Automaton()
        self.ascii = ahocorasick.Automaton()
        for folded, value in entries.items():
            self.all.add_word(folded, value)
            if folded.isascii():
                self.ascii.add_word(folded, value)
        for automaton in (self.all, self.ascii):
            if len(automaton):
                automaton.make_automaton()
        if not len(self.ascii):  # no ASCII phrase: the other finds nothing in ASCII either
            self.ascii = self.all

    def for_text(self, folded: str) -> ahocorasick.Automaton:
        """The automaton to scan a folded text with (callers skip an empty phrase list)."""
        return self.ascii if folded.isascii() else self.all


class PhraseMatcher:
    """Find many phrases in a text at once, each tagged with a caller's key."""

    def __init__(self, phrases: Iterable[tuple[str, Hashable]]):
        entries: dict[str, list[tuple[Hashable, bool, str | None]]] = {}
        for phrase, key in phrases:
            stem = phrase.endswith("*")
            exact = phrase[1:].rstrip("*").strip() if phrase.startswith("=") else None
            folded = fold_phrase(phrase.lstrip("=").rstrip("*"))
            if folded:
                entries.setdefault(folded, []).append((key, stem, exact))
        self._automata = Automata(
            {folded: (*_phrase_shape(folded), tuple(keys)) for folded, keys in entries.items()}
        )
        self._empty = not entries

    def find(self, text: str, folded: tuple[str, list[int] | None] | None = None) -> list[Hit]:
        """Every whole-word occurrence of every phrase, in text order (may overlap); pass
        fold(text) if it was already made."""
        if self._empty or not text:
            return []
        folded, origin = folded or fold(text)
        size = len(folded)
        hits: list[Hit] = []
        automaton = self._automata.for_text(folded)
        for end, (phrase, length, word_left, word_right, keys) in automaton.iter(folded):
            start = end - length + 1
            if word_left and start > 0:
                before = folded[start - 1]
                if before.isalnum() or before == "_":
                    continue
            right_ok = True
            if word_right and end + 1 < size:
                after = folded[end + 1]
                right_ok = not (after.isalnum() or after == "_")
            for key, stem, exact in keys:
                if not (stem or right_ok):
                    continue
                first, last = (origin[start], origin[end + 1]) if origin else (start, end + 1)
                if exact is not None and text[first:last] != exact:
                    continue
                if stem:
                    last = _word_end(text, last)
                hits.append(Hit(key, phrase, first, last))
        hits.sort(key=_text_order)
        return hits


class PhraseGroups:
    """Which groups of phrases a folded text contains, as whole words (a stem phrase
    "word*" as a word start; exact case is not told apart): a quick, generous test that
    lets callers skip work when nothing could match.

    Every item the daemon sees goes through it, so it scans with ahocorasick-rs's DFA
    (a third of pyahocorasick's time over news, measured; a few MB more memory)."""

    def __init__(self, groups: dict[str, Iterable[str]]):
        found: dict[str, tuple[set[str], bool]] = {}
        for group, phrases in groups.items():
            for phrase in phrases:
                folded = fold_phrase(phrase.lstrip("=").rstrip("*"))
                if folded:
                    names, stem = found.get(folded, (set(), False))
                    names.add(group)
                    found[folded] = (names, stem or phrase.endswith("*"))
        self._shapes = [
            (stem or not _is_word_char(folded[-1]), frozenset(names))
            for folded, (names, stem) in found.items()
        ]
        self._automaton = (
            ahocorasick_rs.AhoCorasick(list(found), implementation=Implementation.DFA)
            if found
            else None
        )

    def found_in(self, folded: str) -> set[str]:
        """The groups with a phrase standing as whole words in the folded text."""
        groups: set[str] = set()
        if self._automaton is None:
            return groups
        size, shapes = len(folded), self._shapes
        for index, start, end in self._automaton.find_matches_as_indexes(folded, overlapping=True):
            if start > 0 and _is_word_char(folded[start - 1]):
                continue
            open_end, names = shapes[index]
            if open_end or end >= size or not _is_word_char(folded[end]):
                groups |= names
        return groups


def _phrase_shape(folded: str) -> tuple[str, int, bool, bool]:
    """The phrase, its length, and whether its first and last characters are word
    characters (then find() requires a word boundary there)."""
    return folded, len(folded), _is_word_char(folded[0]), _is_word_char(folded[-1])


def _text_order(hit: Hit) -> tuple[int, int]:
    return (hit.start, -hit.end)


def longest_first(hits: list[Hit]) -> list[Hit]:
    """Drop hits covered by a longer hit (keep "Leopard 2" over "Leopard")."""
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -(h.end - h.start))):
        if (
            kept
            and kept[-1].start <= hit.start
            and hit.end <= kept[-1].end
            and (hit.start, hit.end) != (kept[-1].start, kept[-1].end)
        ):
            continue
        kept.append(hit)
    return kept
