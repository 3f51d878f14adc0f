"""The arms-transfer detector: is this story a transfer, who supplies what to whom, how far.

The reading: each sentence is a row of marks: actors and weapons (from the gazetteer),
transfer cues (data/cues.tsv, see cues.py) and non-transfer context. Each actor takes a
slot against its nearest transfer cue (slots.py: subj, obj, to, from, by, with, mod, owner)
and the cue's direction turns slots into roles: "X supplies W to Y", "Y buys W from X",
"Y asks X for W", "W sent to Y by X", "Iranian drones for Russia", "US aid to Ukraine".
When nothing names the supplier, a weapon's maker country named in the sentence does
("Su-35 ... made in Russia"). Named programmes (deals.tsv: AUKUS) are transfers with known
roles. Partners of an undirected cue ("Putin and Kim discuss weapons") take the side another
sentence gives them; a sentence opening with "They" stands for the actors before. Ukrainian
and Russian text is read as its lemma text (morph.py), so the same patterns hold there.

Within the reading, each sentence's evidence (roles.py) only ranks the sentences: the best
one gives the item's roles, weapons and status.

The verdict: the reading and the words become features (features.py) and the learned
model (model.py, trained by `bot.py train` from labelled news) gives the score; 0.5 is its
operating point. A text with none of the words a transfer needs (quick check below) scores
0 without a reading.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, replace

from watchers.detection.cues import STATUSES, TRANSFER_KINDS, CueBook, load_cuebook, split_sentences
from watchers.detection.entities import ACTOR_KINDS, Gazetteer
from watchers.detection.features import (
    FeatureContext,
    ReadingBound,
    reading_features,
    weighed_plain_features,
)
from watchers.detection.model import Model, load_model, probability
from watchers.detection.morph import Lemmatizer, has_cyrillic, with_lemmas
from watchers.detection.roles import (
    BASE_SCORE,
    FILL_KINDS,
    FILL_SCORE,
    TITLE_SCORE,
    Reading,
    add_partners,
    assign_roles,
    calm_weapons,
    combine_readings,
    cue_evidence,
    penalise_context,
    settle_item,
)
from watchers.detection.sides import candidate_features, choose_sides
from watchers.detection.slots import (
    IMPLIED_PREPS,
    Mark,
    implied_cues,
    is_recipient_like,
    leading_actors,
    pronoun_subject,
    slot_before_weapon,
    without_commands,
)
from watchers.detection.textmatch import Hit, PhraseMatcher, longest_first
from watchers.errors import ConfigError
from watchers.models import Detection, Weapon

_OWN_COUNTRY = re.compile(r"\b(?:his|her|their) (?:own )?country\b", re.IGNORECASE)


SIDES_FLOOR = 0.25  # below, no alert is near: the reading's own roles stand
CUE_KINDS = frozenset((*TRANSFER_KINDS, "programme"))


@dataclass(frozen=True)
class ItemReading:
    """What the reading found in one text, before the model's verdict (score 0)."""

    detection: Detection
    marks: list[Mark]
    readings: list[Reading]


@functools.lru_cache(maxsize=1)
def shipped_model() -> Model:
    """The model file in the package, read once per process (it never changes)."""
    return load_model()


class Detector:
    """Reads entity-tagged sentences for arms-transfer patterns."""

    def __init__(
        self, gazetteer: Gazetteer, cuebook: CueBook | None = None, model: Model | None = None
    ):
        self.gazetteer = gazetteer
        self.cuebook = cuebook or load_cuebook()
        self._model = model
        self.lemmatizer = Lemmatizer(giving=giving_lemmas(self.cuebook))
        kinds = {name: entity.kind for name, entity in gazetteer.entities.items()}
        self.entity_kinds = kinds
        self.regions = frozenset(n for n, k in kinds.items() if k == "region")
        self.collective = frozenset(n for n, k in kinds.items() if k in ("region", "organization"))
        self.countries = frozenset(n for n, k in kinds.items() if k == "country")
        keys = [key for _, key in (*gazetteer.phrases(), *self.cuebook.phrases())]
        self._kind_of = {key: self.key_kind(key) for key in keys}  # per hit, in could_be_transfer
        for programme in self.cuebook.programmes:
            names = (*programme.suppliers, *programme.recipients, programme.weapon)
            unknown = [n for n in names if gazetteer.get(n) is None]
            if unknown:
                raise ConfigError(f"deals.tsv {programme.name!r}: unknown entities {unknown}")

    @property
    def model(self) -> Model:
        """The learned verdict: the one given, else the shipped model file (read once)."""
        if self._model is None:
            self._model = shipped_model()
        return self._model

    @functools.cached_property
    def context(self) -> FeatureContext:
        """Weapon categories and collective actors, for the features."""
        entities = self.gazetteer.entities.values()
        categories = {e.name: e.category or "other" for e in entities if e.kind == "weapon"}
        return FeatureContext(categories, self.collective)

    def phrases(self) -> Iterable[tuple[str, Hashable]]:
        """Cue phrases for the shared matcher, keyed ("cue", kind, status or name)."""
        return self.cuebook.phrases()

    @functools.cached_property
    def bound(self) -> ReadingBound:
        """How much the reading could add to the model's logit, for detect(floor=...)."""
        return ReadingBound(self.model.weights)

    def detect(self, text: str, hits: Sequence[Hit], floor: float = 0.0) -> Detection:
        """Read one text (title + "\\n" + summary) and give the learned model's verdict.

        With a floor (the lowest min_score of the rules that need the detector), an item
        that could not reach it whatever the reading finds is not read: its score is that
        upper bound, with no roles.
        """
        if not self.could_be_transfer(hits, text):
            return Detection()
        model = self.model
        marks = self.mark_text(text, hits)
        sentences = sentences_of(text, marks)
        present = weighed_plain_features(text, marks, self.context, model.words, model.weights)
        logit = model.intercept + sum(w for _, w in present)
        if floor > 0.0:
            cue_sentences = [any(m.kind in CUE_KINDS for m in ms) for _, ms in sentences]
            most = probability(logit + self.bound.most(marks, cue_sentences))
            if most < floor:
                reason = f"not read: at most {most:.2f} whatever the reading finds"
                return Detection(score=round(most, 3), reasons=(reason,), weighed=tuple(present))
        reading = self.read_marks(text, marks, sentences)
        detection = reading.detection
        read = model.present(reading_features(detection, reading.readings, self.collective))
        score = probability(logit + sum(w for _, w in read))
        supplier, recipient = detection.supplier, detection.recipient
        if score >= max(SIDES_FLOOR, floor):  # below the floor no rule reads the roles
            supplier, recipient = self.sides_of(text, reading)
        return replace(
            detection,
            score=round(score, 3),
            supplier=supplier,
            recipient=recipient,
            weighed=(*present, *read),
        )

    def candidates(self, text: str, reading: ItemReading) -> dict[str, list[str]]:
        """Each actor of the item with its features for the side models."""
        d = reading.detection
        makers = frozenset(getattr(self.gazetteer.get(w.name), "country", None) for w in d.weapons)
        return candidate_features(
            text,
            reading.marks,
            reading.readings,
            d.supplier,
            d.recipient,
            self.entity_kinds,
            makers,
        )

    def sides_of(self, text: str, reading: ItemReading) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Supplier and recipient by the side models (the reading's when the model has none)."""
        d = reading.detection
        if not self.model.sides:
            return d.supplier, d.recipient
        candidates = self.candidates(text, reading)
        return choose_sides(candidates, self.model.sides, d.supplier, d.recipient, self.model.fill)

    def read_item(self, text: str, hits: Sequence[Hit]) -> ItemReading:
        """The reading of one text: marks, each sentence's reading, and the roles found."""
        marks = self.mark_text(text, hits)
        return self.read_marks(text, marks, sentences_of(text, marks))

    def read_marks(
        self, text: str, marks: list[Mark], sentences: list[tuple[tuple[int, int], list[Mark]]]
    ) -> ItemReading:
        """read_item() of a text already marked and split into sentences."""
        elsewhere = calm_weapons(sentences)
        readings, previous = [], []
        for index, (span, sentence) in enumerate(sentences):
            reading = self.read_sentence(text, index, span, sentence, previous, elsewhere)
            if reading.evidence > 0 or reading.suppliers or reading.recipients or reading.partners:
                readings.append(reading)
            previous = sentence
        civil = any(m.kind == "neg_civil" for m in marks)
        settle_item(readings, self.countries, civil)
        origin_marks = [m for m in marks if m.kind == "actor" and is_origin(text, m, marks)]
        detection = combine_readings(readings, self.weapon, [m.value for m in origin_marks])
        detection = self.fill_recipient(text, detection, readings, marks)
        detection = self.fill_maker(detection)
        return ItemReading(replace(detection, score=0.0), marks, readings)

    def fill_recipient(
        self, text: str, detection: Detection, readings: list[Reading], marks: list[Mark]
    ) -> Detection:
        """A supply with no recipient named takes one named elsewhere in the item.

        "War in Ukraine: ..., UK to supply tanks": Ukraine receives. Only for a supplier
        found by a supply verb or noun, from the actors named the way a recipient is ("in
        X", "for X", "X's"), and not when the supplier makes every weapon named (a force
        deploying its own: "Russia says Su-27 jet sent to ...").
        """
        best = max(readings, key=lambda r: (r.score, -r.index), default=None)
        if best is None or best.cue_kind not in FILL_KINDS or not best.directed:
            return detection
        if not detection.supplier or detection.recipient:
            return detection
        makers = {getattr(self.gazetteer.get(w.name), "country", None) for w in detection.weapons}
        if makers <= set(detection.supplier):
            return detection
        taken = {*detection.supplier, *self.regions, None}
        others = (m.value for m in marks if m.kind == "actor" and is_recipient_like(text, m))
        actor = next((a for a in others if a not in taken), None)
        if actor is None:
            return detection
        reasons = (*detection.reasons, f"recipient {actor}: named elsewhere in the item")
        score = round(min(1.0, detection.score + FILL_SCORE), 3)
        return replace(detection, score=score, recipient=(actor,), reasons=reasons)

    def fill_maker(self, detection: Detection) -> Detection:
        """A transfer to a named recipient with no supplier named takes the maker country of
        the named weapon systems ("Leopard 2 tanks arrive in Ukraine": Germany)."""
        if detection.supplier or not detection.recipient:
            return detection
        makers = (getattr(self.gazetteer.get(w.name), "country", None) for w in detection.weapons)
        found = tuple(dict.fromkeys(m for m in makers if m and m not in detection.recipient))
        if not found:
            return detection
        reasons = (*detection.reasons, f"supplier {', '.join(found)}: maker of the weapons named")
        return replace(detection, supplier=found, reasons=reasons)

    def trigger_groups(self) -> dict[str, list[str]]:
        """The phrases could_be_transfer needs, in groups: it is false unless a text has an
        "alone" phrase (an aid or programme cue, a weapon right before a preposition of
        IMPLIED_PREPS) or both a "transfer" cue and a "weapon". A weapon written as a stem
        counts as alone: its ending, and so what follows it, is unknown."""
        groups: dict[str, list[str]] = {"alone": [], "transfer": [], "weapon": []}
        for phrase, key in self.cuebook.phrases():
            kind = self._kind_of.get(key)
            if kind in ("aid", "programme"):
                groups["alone"].append(phrase)
            elif kind in TRANSFER_KINDS:
                groups["transfer"].append(phrase)
        for alias, key in self.gazetteer.phrases():
            if self._kind_of.get(key) != "weapon":
                continue
            groups["weapon"].append(alias)
            if alias.endswith("*"):
                groups["alone"].append(alias)
            else:
                groups["alone"] += [f"{alias} {prep}" for prep in IMPLIED_PREPS]
        return groups

    def trigger_phrases(self) -> dict[str, list[str]]:
        """The trigger groups, each Cyrillic phrase joined by its lemma forms."""
        lemmas = self.lemmatizer
        return {
            g: [p for p, _ in with_lemmas(((p, g) for p in ps), lemmas)]
            for g, ps in self.trigger_groups().items()
        }

    def builtin_phrases(self) -> list[str]:
        """Every phrase of the gazetteer and the cue book, as written (for the lemma table)."""
        pairs = [*self.gazetteer.phrases(), *self.phrases()]
        groups = self.trigger_groups()
        return [p for p, _ in pairs] + [p for phrases in groups.values() for p in phrases]

    def matcher(self, extra: Iterable[tuple[str, Hashable]] = ()) -> PhraseMatcher:
        """A matcher of the gazetteer's and the cues' phrases (and extra ones), with the
        lemma forms of the Cyrillic ones: it runs over reading_text()."""
        phrases = [*self.gazetteer.phrases(), *self.phrases(), *extra]
        return PhraseMatcher(with_lemmas(phrases, self.lemmatizer))

    def reading_text(self, text: str) -> str:
        """The text the reading runs over: Ukrainian and Russian words as lemmas."""
        return self.lemmatizer.lemma_text(text)

    def could_be_transfer(self, hits: Sequence[Hit], text: str) -> bool:
        """Cheap pre-check: a programme, or what a sentence needs to score (a weapon with a
        transfer cue, or with an actor right after "to"/"for"; an aid noun with an actor)."""
        kind_of = self._kind_of
        kinds = {kind_of.get(hit.key) for hit in hits}
        if "programme" in kinds:
            return True
        actor = not kinds.isdisjoint(ACTOR_KINDS)
        if "weapon" in kinds:
            if not kinds.isdisjoint(TRANSFER_KINDS):
                return True
            return actor and self._weapon_to_actor(hits, text)
        return actor and "aid" in kinds

    def _weapon_to_actor(self, hits: Sequence[Hit], text: str) -> bool:
        """Whether a weapon stands right before "to"/"for" and an actor ("arms to Russia"):
        the one way an item with no transfer word can still read as a transfer."""
        kind_of = self._kind_of
        weapon_ends = [h.end for h in hits if kind_of.get(h.key) == "weapon"]
        actor_starts = [h.start for h in hits if kind_of.get(h.key) in ACTOR_KINDS]
        return any(
            0 < start - end <= 6 and text[end:start].strip().lower() in IMPLIED_PREPS
            for end in weapon_ends
            for start in actor_starts
        )

    def key_kind(self, key: Hashable) -> str | None:
        """The cue kind or entity kind a matcher key stands for (None for other keys)."""
        if not isinstance(key, tuple) or len(key) < 2:
            return None
        if key[0] == "cue":
            return key[1]
        return self.entity_kinds.get(key[1]) if key[0] == "entity" else None

    def mark_text(self, text: str, hits: Sequence[Hit]) -> list[Mark]:
        """Actor, weapon and cue marks from the hits, overlaps resolved within each family."""
        marks = []
        hidden = [(h.start, h.end) for h in hits if h.key[:2] == ("cue", "notname")]
        for entity, hit in self.gazetteer.entity_hits(hits):
            if hidden and any(a <= hit.start and hit.end <= b for a, b in hidden):
                continue  # a name that is no actor or weapon ("Stacey Abrams")
            if entity.kind == "weapon":
                marks.append(Mark(hit.start, hit.end, "weapon", entity.name))
            else:
                actor = self.gazetteer.actor_of(entity.name)
                adjective = self.gazetteer.is_adjective(hit.phrase)
                marks.append(Mark(hit.start, hit.end, "actor", actor, adjective))
        cues = [h for h in hits if isinstance(h.key, tuple) and h.key[0] == "cue"]
        for hit in longest_first(cues):
            marks.append(Mark(hit.start, hit.end, hit.key[1], hit.key[2]))
        marks.sort(key=lambda m: (m.start, -m.end))
        marks = without_commands(text, marks)
        marks += implied_cues(text, marks)
        return sorted(marks, key=lambda m: (m.start, -m.end))

    def read_sentence(
        self,
        text: str,
        index: int,
        span: tuple[int, int],
        marks: list[Mark],
        previous: list[Mark],
        elsewhere: list[str],
    ) -> Reading:
        """Evidence, roles and status in one sentence (`elsewhere`: the item's weapons)."""
        reading = Reading(index)
        weapons = [m.value for m in marks if m.kind == "weapon" and m.value]
        cues = [m for m in marks if m.kind in TRANSFER_KINDS]
        reading.weapons = list(dict.fromkeys(weapons))
        reading.statuses = [m.value for m in marks if m.kind != "actor" and m.value in STATUSES]
        for mark in (m for m in marks if m.kind == "programme"):
            self.read_programme(reading, mark.value)
        if cues:
            assign_roles(reading, text, marks, self.cuebook.gap_words, self.collective)
            if pronoun_subject(text, span[0]):
                add_partners(reading, leading_actors(text, previous))
            reading.recipients = [r for r in reading.recipients if r not in self.regions]
            self.add_maker_supplier(reading, marks)
            evidence = cue_evidence(reading, text, cues, weapons, elsewhere)
            reading.evidence = max(reading.evidence, evidence)
        if reading.evidence == 0:
            return reading
        reading.evidence += TITLE_SCORE if index == 0 else 0.0
        penalise_context(reading, text, span, marks)
        return reading

    def read_programme(self, reading: Reading, name: str | None) -> None:
        """A named programme is a transfer with its own roles and weapon."""
        programme = next(p for p in self.cuebook.programmes if p.name == name)
        reading.evidence = max(reading.evidence, BASE_SCORE)
        reading.directed = True
        reading.suppliers += [s for s in programme.suppliers if s not in reading.suppliers]
        reading.recipients += [r for r in programme.recipients if r not in reading.recipients]
        reading.weapons.append(programme.weapon)
        reading.reasons.append(f"programme {programme.name} in sentence {reading.index + 1}")

    def add_maker_supplier(self, reading: Reading, marks: list[Mark]) -> None:
        """A weapon's maker named in the sentence supplies it, unless a pattern said otherwise."""
        if reading.suppliers and reading.directed:
            return
        actors = {m.value for m in marks if m.kind == "actor"}
        for name in reading.weapons:
            entity = self.gazetteer.get(name)
            maker = entity.country if entity else None
            if maker in actors:
                partners = [*reading.suppliers, *reading.recipients, *reading.partners]
                reading.suppliers, reading.partners = [maker], []
                reading.recipients = [p for p in partners if p != maker] or reading.recipients
                reading.directed = True
                reading.reasons.append(f"supplier {maker}: maker of {name}")
                return

    def weapon(self, name: str) -> Weapon:
        """The Weapon of a canonical weapon name, with its category."""
        entity = self.gazetteer.get(name)
        return Weapon(name, entity.category if entity and entity.category else "other")


def giving_lemmas(cuebook: CueBook) -> frozenset[str]:
    """The Ukrainian and Russian words of giving (supply verbs and nouns, aid), as lemmas."""
    kinds = ("out", "noun", "aid")
    words = (p for p, key in cuebook.phrases() if key[1] in kinds and " " not in p)
    return frozenset(w.casefold() for w in words if has_cyrillic(w) and not w.endswith("*"))


def sentences_of(text: str, marks: list[Mark]) -> list[tuple[tuple[int, int], list[Mark]]]:
    """Each sentence's span and marks ("his country" resolved)."""
    starts = [m.start for m in marks]
    sentences = []
    for span in split_sentences(text):
        first, last = bisect.bisect_left(starts, span[0]), bisect.bisect_left(starts, span[1])
        sentences.append((span, resolve_own_country(text, span, marks[first:last])))
    return sentences


def resolve_own_country(text: str, span: tuple[int, int], marks: list[Mark]) -> list[Mark]:
    """ "his country" names the country of the sentence's first actor ("Zelensky ... his")."""
    first = next((m for m in marks if m.kind == "actor" and m.value), None)
    if first is None or text.find("ountry", *span) < 0:  # the regex is dear; the word rare
        return marks
    found = list(_OWN_COUNTRY.finditer(text, *span))
    if not found:
        return marks
    own = [Mark(m.start(), m.end(), "actor", first.value) for m in found if m.start() > first.end]
    return sorted([*marks, *own], key=lambda m: (m.start, -m.end))


def is_origin(text: str, actor: Mark, marks: list[Mark]) -> bool:
    """Whether an actor is a demonym right before a weapon ("Iranian drones")."""
    return actor.adjective and slot_before_weapon(text, actor, marks) == "mod"


def detect_text(text: str, gazetteer: Gazetteer | None = None) -> Detection:
    """Detect on one text with a matcher of its own (for tests and explain)."""
    detector = Detector(gazetteer or Gazetteer.load())
    text = detector.reading_text(text)
    return detector.detect(text, detector.matcher().find(text))
