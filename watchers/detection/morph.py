"""Ukrainian and Russian words to their lemmas (pymorphy3 with its uk and ru dictionaries).

The detector reads a Cyrillic text as its lemma text: each Ukrainian or Russian word becomes
its dictionary form ("закупит" -> "закупить", "Ирана" -> "Иран", "баллистические ракеты" ->
"баллистический ракета"), so cues and entities (lemmatised the same way when they are
loaded) match every inflection. What English says with a preposition these languages say
with a case, and the slot reader (watchers/detection/slots.py) reads prepositions, so the
case becomes one:

    dative, no preposition before it        -> "to"     ("передать Украине": to Ukraine)
    у / в / від / від / з / із / от / из + genitive -> "from"   ("купить у Ирана": from Iran)
    instrumental, no preposition before it  -> "by"     ("поставки Ираном": by Iran)

and a verb's tense, lost in its lemma, stands before it as a marker word that no lemma text
holds otherwise (the words themselves are lemmatised to "быть"/"бути"): "был" for the past
("поставил" -> "был поставить": delivered), "будет" for the future ("закупит" -> "будет
закупить": planned); cues.tsv lists both markers as status words.

Latin text is left as it is. The first letter's case is kept (sentences are split on it);
a word in capitals ("ЕС", "США") is an abbreviation and is kept as written.
Which language: a text with і, ї, є or ґ is Ukrainian, other Cyrillic is Russian.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

LEMMA_FILE = Path(__file__).parent / "data" / "lemmas.tsv"
# Both cases spelled out: an IGNORECASE class costs twice as much on every non-ASCII item.
_CYRILLIC = re.compile(r"[а-яёіїєґА-ЯЁІЇЄҐ]")
_UKRAINIAN = re.compile(r"[іїєґІЇЄҐ]")
_WORD = re.compile(r"[а-яёіїєґА-ЯЁІЇЄҐʼ'’]+(?:-[а-яёіїєґА-ЯЁІЇЄҐ]+)*")
FROM_PREPOSITIONS = frozenset({"у", "в", "від", "з", "із", "зі", "от", "из", "со"})
PREPOSITIONS = (
    FROM_PREPOSITIONS
    | frozenset(
        {"до", "для", "на", "по", "при", "про", "о", "об", "над", "під", "под", "за", "с", "к"}
    )
    | frozenset({"через", "між", "между", "перед", "без", "після", "после", "проти", "против"})
)
TENSE_WORDS = {"past": "был ", "futr": "будет "}
_NOUNLIKE = frozenset({"NOUN", "NPRO"})
_OBJECT_POS = frozenset({"NOUN", "ADJF", "PRTF"})  # words of a genitive object ("оружия")
# A name that may be dative (Russian "Армении", Ukrainian "Ірану" read first as genitive)
# right after a giving word, or after it and at most two words of its genitive object, is
# the one given to: "передать Армении", "поставки оружия Турции", "продаж зброї Тайваню".
GIVEN_REACH = 3
# "В Кремле заявили", "У ЄС заявили": in/at a place or body, a verb of saying after it, is
# that body speaking (its subject), not "from" it.
LOCATIVE_PREPOSITIONS = frozenset({"у", "в"})
SPEAKING = frozenset(
    {
        "заявить", "заявлять", "сообщить", "сообщать", "считать", "отметить", "отмечать",
        "подтвердить", "подтверждать", "пообещать", "обещать", "объявить", "объявлять",
        "рассказать", "назвать", "признать", "пояснить", "ответить", "указать", "призвать",
        "предупредить", "допустить", "уточнить", "заверить",
        "заявити", "заявляти", "повідомити", "повідомляти", "вважати", "відзначити",
        "зазначити", "підтвердити", "пообіцяти", "обіцяти", "оголосити", "розповісти",
        "назвати", "визнати", "пояснити", "відповісти", "вказати", "закликати",
        "попередити", "допустити", "уточнити", "запевнити",
    }
)  # fmt: skip
ABBREVIATION_MAX = 5  # characters: "НАТО", "ООН", "С-300"
T = TypeVar("T", bound=Hashable)


def has_cyrillic(text: str) -> bool:
    """Whether a text holds any Cyrillic letter (only then is it lemmatised)."""
    return not text.isascii() and _CYRILLIC.search(text) is not None


class WordForm(NamedTuple):
    """What the reading needs of one word."""

    lemma: str
    pos: str | None
    tense: str  # "был ", "будет " or ""
    dative: bool
    instrumental: bool
    genitive: bool  # any reading of the word is genitive
    may_dative: bool  # any reading of the word is dative ("Армении", "Ірану")


class Lemmatizer:
    """Lemmas of Ukrainian and Russian words; the analyzers load on first use.

    The lemma forms of the built-in phrases (cue words, aliases) are read from a table
    (data/lemmas.tsv, written by `bot.py train`), so compiling the rules needs no
    analyzer: only a Cyrillic item, or a Cyrillic phrase of the user's, loads one.
    """

    def __init__(
        self, table: dict[tuple[str, str], str] | None = None, giving: frozenset[str] = frozenset()
    ) -> None:
        self._analyzers: dict[str, Any] = {}
        self._cache: dict[tuple[str, str], WordForm] = {}
        self._table = read_lemma_table() if table is None else table
        self._giving = giving  # lemmas of giving verbs and nouns: see lemma_text

    def loaded(self) -> list[str]:
        """The languages whose analyzer is loaded."""
        return sorted(self._analyzers)

    def analyzer(self, lang: str) -> Any:
        """The pymorphy3 analyzer of a language ("uk" or "ru")."""
        if lang not in self._analyzers:
            import pymorphy3

            self._analyzers[lang] = pymorphy3.MorphAnalyzer(lang=lang)
        return self._analyzers[lang]

    def parse(self, word: str, lang: str) -> WordForm:
        """The lemma, part of speech, tense marker and case roles of one word, by its most
        likely reading. With no preposition before it a noun cannot be locative, so a
        reading as locative or dative ("Украине") counts as dative."""
        key = (word.lower(), lang)
        found = self._cache.get(key)
        if found is None:
            parses = self.analyzer(lang).parse(key[0])
            best = parses[0]
            cases = {p.tag.case for p in parses if p.normal_form == best.normal_form}
            tense = TENSE_WORDS.get(best.tag.tense or "", "") if best.tag.POS == "VERB" else ""
            dative = best.tag.case == "datv" or (best.tag.case == "loct" and "datv" in cases)
            found = WordForm(
                best.normal_form,
                best.tag.POS,
                tense,
                dative,
                best.tag.case == "ablt",
                "gent" in cases,
                "datv" in cases,
            )
            if len(self._cache) < 200_000:
                self._cache[key] = found
        return found

    def lemma_text(self, text: str) -> str:
        """The text with each Cyrillic word replaced by its lemma, cases made prepositions."""
        if not has_cyrillic(text):
            return text
        lang = "uk" if _UKRAINIAN.search(text) else "ru"
        parts: list[str] = []
        position, previous = 0, ""
        given = GIVEN_REACH + 1  # words since a giving word, all of them its object
        matches = list(_WORD.finditer(text))
        for index, match in enumerate(matches):
            word = match.group()
            form = self.parse(word, lang)
            gap = text[position : match.start()]
            given = given + 1 if gap.strip() == "" else GIVEN_REACH + 1
            parts.append(gap)
            to = given <= GIVEN_REACH and form.may_dative and word[:1].isupper()
            lemma = word if in_capitals(word) else keep_capital(word, form.lemma)
            parts.append(case_word(previous, form, to) + form.tense + lemma)
            if gap.strip() == "" and previous in FROM_PREPOSITIONS and form.genitive:
                speaks = previous in LOCATIVE_PREPOSITIONS and self._says(matches, index, lang)
                parts[-3] = "" if speaks else "from"  # the preposition itself
            if form.lemma in self._giving:
                given = 0
            elif not (form.genitive and form.pos in _OBJECT_POS):
                given = GIVEN_REACH + 1
            position, previous = match.end(), word.lower()
        parts.append(text[position:])
        return "".join(parts)

    def _says(self, matches: list[re.Match[str]], index: int, lang: str) -> bool:
        """Whether the word after matches[index] is a verb of saying ("заявили")."""
        following = matches[index + 1].group() if index + 1 < len(matches) else ""
        return bool(following) and self.parse(following, lang).lemma in SPEAKING

    def lemma_phrase(self, phrase: str, lang: str) -> str:
        """A phrase's words as lemmas (for cues and aliases); stems ("ракет*") stay."""
        if phrase.endswith("*") or not has_cyrillic(phrase):
            return phrase
        known = self._table.get((phrase, lang))
        if known is not None:
            return known
        words = phrase.split()
        return " ".join(
            self.parse(w, lang).lemma if has_cyrillic(w) and not in_capitals(w) else w
            for w in words
        )


def case_word(previous: str, form: WordForm, given: bool = False) -> str:
    """The preposition a noun's case stands for when none stands before it, or "" (given:
    the noun follows a giving word, so a form that may be dative is)."""
    if form.pos not in _NOUNLIKE or previous in PREPOSITIONS:
        return ""
    return "to " if form.dative or given else "by " if form.instrumental else ""


def in_capitals(word: str) -> bool:
    """A short word written in capitals ("ЕС", "США", "=ЄС", "С-400"): not inflected, kept
    as written. Longer ones are read as words (a headline set in capitals)."""
    letters = word.lstrip("=")
    return 1 < len(letters) <= ABBREVIATION_MAX and letters.isupper()


def keep_capital(word: str, lemma: str) -> str:
    """The lemma, capitalised when the word was."""
    return lemma[:1].upper() + lemma[1:] if word[:1].isupper() else lemma


def with_lemmas(pairs: Iterable[tuple[str, T]], lemmatizer: Lemmatizer) -> list[tuple[str, T]]:
    """Phrase/key pairs, each Cyrillic phrase joined by its Ukrainian and Russian lemma forms."""
    out: dict[tuple[str, T], None] = {}
    for phrase, key in pairs:
        out[(phrase, key)] = None
        if has_cyrillic(phrase) and not phrase.endswith("*"):
            for lang in ("uk", "ru"):
                out[(lemmatizer.lemma_phrase(phrase, lang), key)] = None
    return list(out)


def read_lemma_table(path: Path = LEMMA_FILE) -> dict[tuple[str, str], str]:
    """(phrase, language) -> lemma form, from the table file (empty when there is none)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    table = {}
    for line in lines:
        if line and not line.startswith("#"):
            phrase, uk, ru = line.split("\t")
            table[(phrase, "uk")], table[(phrase, "ru")] = uk, ru
    return table


def lemma_table_text(phrases: Iterable[str]) -> str:
    """The table file's text for these phrases, worked out by the analyzers."""
    lemmatizer = Lemmatizer(table={})
    rows = sorted({p for p in phrases if has_cyrillic(p) and not p.endswith("*")})
    body = [
        f"{p}\t{lemmatizer.lemma_phrase(p, 'uk')}\t{lemmatizer.lemma_phrase(p, 'ru')}" for p in rows
    ]
    head = "# Ukrainian and Russian lemma forms of the built-in phrases (bot.py train writes it)"
    return "\n".join([head, *body]) + "\n"
