"""Compiled watch rules: one multi-pattern pass per item, then each rule's conditions.

A rule fires when all of its conditions hold:
  any        at least one of these words or phrases
  all        every one of these words or phrases
  none       none of these words or phrases
  entities   every listed entity, entity kind or weapon category is mentioned
  supplier   the detector names one of these as supplier (names or kinds)
  recipient  the detector names one of these as recipient
  detector   the arms-transfer detector scores at least min_score
  within     the word and entity conditions hold inside one sentence or N words
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watchers.detection.detect import Detector
from watchers.detection.entities import WEAPON_CATEGORIES, Gazetteer
from watchers.detection.textmatch import Hit, PhraseGroups, fold_phrase, fold_text
from watchers.errors import ConfigError
from watchers.models import Detection, Item, Match, Mention, RuleSpec, Verdict

if TYPE_CHECKING:
    from watchers.config.load import Config

Span = tuple[int, int]
NOTHING = Detection()  # what the detector finds in a text with none of its words
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")


@dataclass
class ItemText:
    """The text of one item as the rules see it, with all phrase hits and mentions."""

    text: str
    hits: tuple[Hit, ...]
    gazetteer: Gazetteer
    detection: Detection
    terms: dict[str, list[Span]]  # folded rule term -> where it stands

    @functools.cached_property
    def mentions(self) -> tuple[Mention, ...]:
        """Entity mentions, worked out only when a rule asks (most items need none)."""
        return tuple(self.gazetteer.mentions(self.hits))


def item_text(item: Item) -> str:
    """Title and summary as one text, the way rules and the detector read it."""
    return f"{item.title}\n{item.summary}".strip()


class RuleSet:
    """All rules of a config, compiled once, with the gazetteer and the detector."""

    def __init__(self, specs: Sequence[RuleSpec], gazetteer: Gazetteer):
        self.specs = tuple(specs)
        self.gazetteer = gazetteer
        self.detector = Detector(gazetteer)
        self._aliases = _alias_index(gazetteer)
        self._resolved = {
            name: self._resolve(name)
            for spec in self.specs
            for name in (*spec.entities, *spec.supplier, *spec.recipient)
        }
        for spec in self.specs:
            self._check_names(spec)
        self._folded = {term: fold_phrase(term) for term in self._terms()}
        terms = [(term, ("term", folded)) for term, folded in self._folded.items()]
        self.matcher = self.detector.matcher(terms)
        self._triggers = PhraseGroups(self._trigger_phrases())
        self.floor = self._detector_floor()

    def _terms(self) -> set[str]:
        return {t for spec in self.specs for t in (*spec.any, *spec.all, *spec.none)}

    def _check_names(self, spec: RuleSpec) -> None:
        for key in ("entities", "supplier", "recipient"):
            for name in getattr(spec, key):
                if self._resolved[name] is None:
                    raise ConfigError(
                        f"{spec.where}: rule {spec.name!r} key {key!r}: unknown entity {name!r} "
                        "(not an entity name, alias, kind or weapon category)"
                    )

    def _resolve(self, name: str) -> tuple[str, str] | None:
        """("entity", canonical) / ("kind", kind) / ("category", category), or None."""
        if name in WEAPON_CATEGORIES:
            return ("category", name)
        kinds = {e.kind for e in self.gazetteer.entities.values()}
        if name in kinds:
            return ("kind", name)
        entity = self.gazetteer.get(name)
        if entity is not None:
            return ("entity", entity.name)
        canonical = self._aliases.get(fold_phrase(name))
        return ("entity", canonical) if canonical else None

    def _trigger_phrases(self) -> dict[str, list[str]]:
        """What a text needs for any rule to fire (see match): the detector's groups, plus
        rule terms, and entity names when a rule needs nothing else, as "alone" phrases."""
        groups = self.detector.trigger_phrases()
        groups["alone"] += [t for spec in self.specs for t in (*spec.any, *spec.all)]
        entities_only = any(
            spec.entities
            and not (spec.any or spec.all or spec.detector or spec.supplier or spec.recipient)
            for spec in self.specs
        )
        if entities_only:  # such a rule fires on entity names alone
            groups["alone"] += [alias for alias, _ in self.gazetteer.phrases()]
        return groups

    def _detector_floor(self) -> float:
        """The score below which the detector's reading changes no rule's verdict: the
        lowest min_score of the rules that need the detector; 0 when a rule without it
        asks for a supplier or recipient at any score, or can fire with no word of its
        own (its alert shows the reading). An item with a rule word is read in full (read)."""
        for spec in self.specs:
            wordless = not (spec.any or spec.all)
            if not spec.detector and (spec.supplier or spec.recipient or wordless):
                return 0.0
        return min((spec.min_score for spec in self.specs if spec.detector), default=1.0)

    def _could_fire(self, folded: str) -> bool:
        found = self._triggers.found_in(folded)
        return "alone" in found or ("transfer" in found and "weapon" in found)

    def read(self, item: Item, text: str | None = None, exact: bool = True) -> ItemText:
        """One pass over the item: hits, mentions and the detector's reading (text: its
        reading text, when already made). Not exact: an item no rule could fire on however
        the reading went is not read (match)."""
        text = text if text is not None else self.detector.reading_text(item_text(item))
        hits = tuple(self.matcher.find(text))
        terms: dict[str, list[Span]] = {}
        for hit in hits:
            if _is_term(hit):
                terms.setdefault(hit.key[1], []).append((hit.start, hit.end))
        floor = 0.0 if exact or terms else self.floor
        detection = self.detector.detect(text, hits, floor)
        return ItemText(text, hits, self.gazetteer, detection, terms)

    def match(self, item: Item, exact: bool = False) -> Verdict:
        """Every rule that fires on the item, with the reasons.

        Most news has none of the words any rule or the detector needs (no transfer or aid
        word, no weapon before "to", no rule term): one quick scan finds that, and such an
        item gets the empty verdict the whole reading would give it. Of the rest, an item
        whose words leave it below every detector rule's min_score whatever the reading
        finds is not read (the same rules fire; its score is that upper bound, without
        roles): exact reads it anyway, for a score to show.
        """
        return self.examine(item, exact)[0]

    def examine(self, item: Item, exact: bool = False) -> tuple[Verdict, ItemText | None]:
        """match(), with the reading it made (None when the quick scan ruled the item out):
        for an item that alerts it is the whole reading, its entities the story's words."""
        text = item_text(item)
        if not text.isascii():  # only Cyrillic is read as lemmas
            text = self.detector.reading_text(text)
        if not self._could_fire(fold_text(text)):
            return Verdict(item.id, (), NOTHING), None
        seen = self.read(item, text, exact)
        return self.verdict(item, seen), seen

    def verdict(self, item: Item, seen: ItemText) -> Verdict:
        """Every rule that fires on an item already read."""
        matches = tuple(m for spec in self.specs if (m := self._match_rule(spec, seen)))
        return Verdict(item.id, matches, seen.detection)

    def _match_rule(self, spec: RuleSpec, seen: ItemText) -> Match | None:
        # The cheapest checks first: most items fail the detector or a role.
        if spec.detector and seen.detection.score < spec.min_score:
            return None
        if (spec.supplier or spec.recipient) and not self._roles_hold(spec, seen.detection):
            return None
        terms, folded = seen.terms, self._folded
        if any(folded[t] in terms for t in spec.none):
            return None
        required = [terms.get(folded[t], []) for t in spec.all]
        if spec.any:
            required.append([s for t in spec.any for s in terms.get(folded[t], [])])
        if not all(required):
            return None
        found_terms = sorted({seen.text[a:b] for spans in required for a, b in spans[:1]})
        entities: list[str] = []
        for name in spec.entities:
            mentions = self._mentions_of(name, seen.mentions)
            if not mentions:
                return None
            required.append([(m.start, m.end) for m in mentions])
            entities.append(mentions[0].entity)
        if not _near_enough(spec, seen.text, required):
            return None
        return Match(
            spec.name,
            tuple(found_terms),
            tuple(dict.fromkeys(entities)),
            spec.priority,
            spec.chat_id,
            spec.digest,
        )

    def _mentions_of(self, name: str, mentions: Sequence[Mention]) -> list[Mention]:
        resolved = self._resolved.get(name)
        if resolved is None:
            return []
        what, value = resolved
        if what == "entity":
            return [m for m in mentions if m.entity == value]
        if what == "kind":
            return [m for m in mentions if m.kind == value]
        return [m for m in mentions if self._category(m) == value]

    def _category(self, mention: Mention) -> str | None:
        entity = self.gazetteer.get(mention.entity)
        return entity.category if entity else None

    def _roles_hold(self, spec: RuleSpec, detection: Detection) -> bool:
        for wanted, found in (
            (spec.supplier, detection.supplier),
            (spec.recipient, detection.recipient),
        ):
            if wanted and not any(self._role_matches(w, found) for w in wanted):
                return False
        return True

    def _role_matches(self, wanted: str, found: Sequence[str]) -> bool:
        resolved = self._resolved.get(wanted)
        if resolved is None:
            return False
        what, value = resolved
        if what == "entity":
            return value in found
        kinds = {self.gazetteer.get(f).kind for f in found if self.gazetteer.get(f)}
        return value in kinds


def _alias_index(gazetteer: Gazetteer) -> dict[str, str]:
    """Folded alias -> canonical entity name, to accept aliases in rules."""
    index = {}
    for entity in gazetteer.entities.values():
        for alias in (entity.name, *entity.aliases):
            index.setdefault(fold_phrase(alias.lstrip("=").rstrip("*")), entity.name)
    return index


def _is_term(hit: Hit) -> bool:
    return isinstance(hit.key, tuple) and hit.key[0] == "term"


def _near_enough(spec: RuleSpec, text: str, required: list[list[Span]]) -> bool:
    if len(required) < 2 or not (spec.within or spec.within_sentence):
        return True
    if spec.within_sentence:
        return any(
            all(any(a <= s and e <= b for s, e in spans) for spans in required)
            for a, b in sentence_spans(text)
        )
    starts = [m.start() for m in _WORD.finditer(text)]
    events = sorted(
        (bisect.bisect_right(starts, s) - 1, group)
        for group, spans in enumerate(required)
        for s, _ in spans
    )
    return _smallest_cover(events, len(required)) <= spec.within


def _smallest_cover(events: list[tuple[int, int]], groups: int) -> int:
    """Fewest words spanning one event of every group (sliding window)."""
    best, counts, covered, left = 10**9, [0] * groups, 0, 0
    for word, group in events:
        counts[group] += 1
        covered += counts[group] == 1
        while covered == groups:
            best = min(best, word - events[left][0])
            counts[events[left][1]] -= 1
            covered -= counts[events[left][1]] == 0
            left += 1
    return best


def sentence_spans(text: str) -> list[Span]:
    """Character spans of the sentences of a text."""
    spans, start = [], 0
    for end_match in _SENTENCE_END.finditer(text):
        spans.append((start, end_match.start()))
        start = end_match.end()
    spans.append((start, len(text)))
    return spans


def compile_rules(config: Config) -> RuleSet:
    """The config's rules compiled against the gazetteer (with the config's own entities)."""
    return RuleSet(config.rules, Gazetteer.load(config.entities))
