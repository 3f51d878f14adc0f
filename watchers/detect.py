"""The arms-transfer detector: is this story a transfer, who supplies what to whom, how far.

Each sentence is read as a row of marks: actors and weapons (from the gazetteer), transfer
cues (watchers/data/cues.tsv, see watchers/cues.py) and negative context. Each actor takes
a slot against its nearest transfer cue (watchers/slots.py: subj, obj, to, from, by, with,
mod, owner) and the cue's direction turns slots into roles: "X supplies W to Y", "Y buys W
from X", "Y asks X for W", "W sent to Y by X", "Iranian drones for Russia", "US aid to
Ukraine". When nothing names the supplier, a weapon's maker country named in the sentence
does ("Su-35 ... made in Russia"). Named programmes (deals.tsv: AUKUS) are transfers with
known roles. Partners of an undirected cue ("Putin and Kim discuss weapons") take the side
another sentence of the item gives them ("Russia seeks weaponry"); a sentence opening with
"They" stands for the actors the sentence before opens with.

Kinds of story read as transfers (the label guide counts deals, requests, refusals and
blocking): a transfer cue and a weapon; a state's aid to another with no weapon named
("Congress debates aid for Ukraine": military aid), unless the item speaks of civil aid
(humanitarian, economic, reconstruction); talks about weapons or an arms deal. A denial
("Iran denies supplying drones to Russia") is read as a transfer claim, status blocked.

Score (0..1; 0.5 is the alert threshold), per sentence: a transfer cue and a weapon 0.3
(0.2 for a weak cue such as "support", or a bare "arms to Russia"); an aid noun with no
weapon 0.2, kept only when a country supplies it to another; plus 0.3 when supplier and
recipient are both found, differ and one came from a directed slot, 0.08 for one side;
plus 0.1 in the title; minus 0.15-0.25 per kind of non-transfer context (combat, test,
domestic production, trade, peace talks, arms control, civil aid) in a clause holding a
transfer cue. The item takes its best sentence, plus 0.05 per other supporting sentence
(up to two). A supplier equal to the recipient (a country buying from its own industry)
counts as no roles.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from watchers.cues import STATUSES, TRANSFER_KINDS, CueBook, load_cuebook, split_sentences
from watchers.entities import ACTOR_KINDS, Gazetteer
from watchers.errors import ConfigError
from watchers.models import Detection, Weapon
from watchers.slots import (
    IMPLIED_PREPS,
    Mark,
    clause_of,
    clause_starts,
    find_slots,
    implied_cues,
    is_recipient_like,
    leading_actors,
    pronoun_subject,
    slot_before_weapon,
)
from watchers.textmatch import Hit, PhraseMatcher, longest_first

SLOT_ROLES = {  # cue kind -> slot -> S (supplier), R (recipient), P (partner: either side)
    "out": {"subj": "S", "obj": "R", "to": "R", "from": "S", "by": "S"},
    "in": {"subj": "R", "obj": "S", "to": "R", "from": "S", "by": "R"},
    "ask": {"subj": "R", "obj": "S", "to": "S", "from": "R", "by": "R"},
    "deal": {"subj": "P", "obj": "P", "to": "R", "from": "S", "by": "P", "with": "P"},
}
SLOT_ROLES["weak"] = SLOT_ROLES["out"]
SLOT_ROLES["implied"] = {"to": "R", "from": "S", "by": "S", "with": "P"}  # no subject
SLOT_ROLES["noun"] = SLOT_ROLES["aid"] = SLOT_ROLES["out"] | {"prenoun": "R"}
SLOT_ROLES["deal"]["prenoun"] = "R"
SLOT_ROLES["meet"] = {"subj": "P", "obj": "P", "with": "P"}  # partners only, no evidence
FIXED_ROLES = {"mod": "S", "owner": "R", "client": "R", "patron": "S"}  # whatever the cue
BASE_SCORE, WEAK_SCORE, AID_SCORE = 0.3, 0.2, 0.2  # a cue and a weapon; an aid noun alone
BOTH_ROLES_SCORE, ONE_ROLE_SCORE = 0.3, 0.08
TITLE_SCORE, SUPPORT_SCORE = 0.1, 0.05
FILL_SCORE, FILL_KINDS = 0.1, ("out", "noun")  # a missing side from the item
_OWN_COUNTRY = re.compile(r"\b(?:his|her|their) (?:own )?country\b", re.IGNORECASE)
STATUS_ORDER = ("blocked", "approved", "signed", "requested", "negotiating", "delivered")
NEGATIVE_WEIGHT = {"neg_combat": 0.15, "neg_test": 0.2, "neg_domestic": 0.15}
NEGATIVE_WEIGHT |= {"neg_trade": 0.15, "neg_peace": 0.2, "neg_other": 0.25}


@dataclass
class Reading:
    """What one sentence says: evidence, roles, weapons, status and reasons."""

    index: int
    evidence: float = 0.0  # cue, weapon, title and context, before the roles
    score: float = 0.0  # evidence plus roles, set once the item's roles are settled
    suppliers: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    partners: list[str] = field(default_factory=list)  # either side, not yet settled
    weapons: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    directed: bool = False  # a role came from a directed slot, not only "with"/"deal"
    aid_only: bool = False  # an aid noun and no weapon: needs a state on both sides
    cue_kind: str = ""  # the kind of the cue that gave the evidence
    aid_linked: bool = False  # an actor is named "aid to X", "X aid": aid as a noun


class Detector:
    """Reads entity-tagged sentences for arms-transfer patterns."""

    def __init__(self, gazetteer: Gazetteer, cuebook: CueBook | None = None):
        self.gazetteer = gazetteer
        self.cuebook = cuebook or load_cuebook()
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

    def phrases(self) -> Iterable[tuple[str, Hashable]]:
        """Cue phrases for the shared matcher, keyed ("cue", kind, status or name)."""
        return self.cuebook.phrases()

    def detect(self, text: str, hits: Sequence[Hit]) -> Detection:
        """Score one text (title + "\\n" + summary) from the shared matcher's hits."""
        if not self.could_be_transfer(hits, text):
            return Detection()
        marks = self.mark_text(text, hits)
        sentences = sentences_of(text, marks)
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
        others = [m.value for m in marks if m.kind == "actor" and is_recipient_like(text, m)]
        return self.fill_recipient(detection, readings, others)

    def fill_recipient(
        self, detection: Detection, readings: list[Reading], others: list[str | None]
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
        actor = next((a for a in others if a not in taken), None)
        if actor is None:
            return detection
        reasons = (*detection.reasons, f"recipient {actor}: named elsewhere in the item")
        score = round(min(1.0, detection.score + FILL_SCORE), 3)
        return replace(detection, score=score, recipient=(actor,), reasons=reasons)

    def trigger_phrases(self) -> dict[str, list[str]]:
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
        for mention in self.gazetteer.mentions(hits):
            if mention.kind == "weapon":
                marks.append(Mark(mention.start, mention.end, "weapon", mention.entity))
            else:
                actor = self.gazetteer.actor_of(mention.entity)
                adjective = self.gazetteer.is_adjective(mention)
                marks.append(Mark(mention.start, mention.end, "actor", actor, adjective))
        cues = [h for h in hits if isinstance(h.key, tuple) and h.key[:1] == ("cue",)]
        for hit in longest_first(cues):
            marks.append(Mark(hit.start, hit.end, hit.key[1], hit.key[2]))
        marks.sort(key=lambda m: (m.start, -m.end))
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


def sentences_of(text: str, marks: list[Mark]) -> list[tuple[tuple[int, int], list[Mark]]]:
    """Each sentence's span and marks ("his country" resolved)."""
    starts = [m.start for m in marks]
    sentences = []
    for span in split_sentences(text):
        first, last = bisect.bisect_left(starts, span[0]), bisect.bisect_left(starts, span[1])
        sentences.append((span, resolve_own_country(text, span, marks[first:last])))
    return sentences


def calm_weapons(sentences: list[tuple[tuple[int, int], list[Mark]]]) -> list[str]:
    """Weapons named in sentences with no negative context (not "Russia using nukes")."""
    weapons: dict[str, None] = {}
    for _, marks in sentences:
        if not any(m.kind in NEGATIVE_WEIGHT for m in marks):
            weapons |= dict.fromkeys(m.value for m in marks if m.kind == "weapon" and m.value)
    return list(weapons)


def resolve_own_country(text: str, span: tuple[int, int], marks: list[Mark]) -> list[Mark]:
    """ "his country" names the country of the sentence's first actor ("Zelensky ... his")."""
    first = next((m for m in marks if m.kind == "actor" and m.value), None)
    found = list(_OWN_COUNTRY.finditer(text, *span))
    if first is None or not found:
        return marks
    own = [Mark(m.start(), m.end(), "actor", first.value) for m in found if m.start() > first.end]
    return sorted([*marks, *own], key=lambda m: (m.start, -m.end))


def cue_evidence(
    reading: Reading, text: str, cues: list[Mark], weapons: list[str], elsewhere: list[str]
) -> float:
    """The evidence of a sentence's cues: with a weapon, an aid noun, or weapons elsewhere."""
    cues = [c for c in cues if c.kind != "meet"]
    if not cues:
        return 0.0
    strong = [c for c in cues if c.kind not in ("weak", "implied")]
    if weapons:
        score, cue = (BASE_SCORE if strong else WEAK_SCORE), (strong or cues)[0]
    elif aid := [c for c in cues if c.kind == "aid"]:
        score, cue, reading.aid_only = AID_SCORE, aid[0], True
    elif (cue := armed_elsewhere(reading, cues, elsewhere)) is not None:
        score, reading.weapons = WEAK_SCORE, list(elsewhere)
    else:
        return 0.0
    reading.cue_kind = cue.kind
    quoted = text[cue.start : cue.end]
    reading.reasons.insert(0, f"transfer cue '{quoted}' in sentence {reading.index + 1}")
    return score


def armed_elsewhere(reading: Reading, cues: list[Mark], elsewhere: list[str]) -> Mark | None:
    """A supply verb with both sides named, when the item names the weapon in another sentence.

    "A submarine left stranded ... The second-hand vessel was sold to Canada by the Royal Navy."
    """
    directed = [c for c in cues if c.kind in ("out", "in", "noun")]
    if not (elsewhere and directed and reading.directed):
        return None
    sides = {*reading.suppliers, *reading.recipients, *reading.partners}
    return directed[0] if reading.suppliers and reading.recipients and len(sides) > 1 else None


def assign_roles(
    reading: Reading, text: str, marks: list[Mark], preps: dict[str, str], collective: frozenset
) -> None:
    """Turn each actor's slot against its nearest cue into a supplier/recipient vote."""
    votes: dict[str, dict[str, float]] = {}
    slots = find_slots(text, marks, preps, collective)
    given_to = {s.cue for s in slots if s.slot == "to"}  # "US aid to Ukraine": US supplies
    for slot in slots:
        role = FIXED_ROLES.get(slot.slot) or SLOT_ROLES[slot.cue.kind].get(slot.slot)
        if slot.slot == "prenoun" and slot.cue in given_to and slot.cue.kind != "deal":
            role = "S"
        if slot.cue.kind in ("out", "noun") or (slot.cue.kind == "aid" and slot.slot != "obj"):
            reading.aid_linked = True  # aid as a noun, not "groups funding Putin's war"
        if role and slot.actor.value:
            actor_votes = votes.setdefault(slot.actor.value, {})
            actor_votes[role] = actor_votes.get(role, 0.0) + slot.weight
            reading.directed = reading.directed or role != "P"
            cue = text[slot.cue.start : slot.cue.end]
            reading.reasons.append(f"{slot.slot} {slot.actor.value} -> {role} ('{cue}')")
    for actor, roles in votes.items():
        directed = {r: v for r, v in roles.items() if r != "P"}  # a side beats "partner"
        role = max(directed or roles, key=lambda r: roles[r])
        {"S": reading.suppliers, "R": reading.recipients, "P": reading.partners}[role].append(actor)


def add_partners(reading: Reading, actors: list[str]) -> None:
    """Actors a pronoun subject stands for join the sentence as partners."""
    taken = {*reading.suppliers, *reading.recipients, *reading.partners}
    reading.partners += [a for a in actors if a not in taken]
    if actors:
        reading.reasons.append(f"'they' = {', '.join(actors)}")


def item_sides(readings: list[Reading]) -> dict[str, str]:
    """The side each actor takes in the item's directed readings, when it is one side only."""
    sides: dict[str, set[str]] = {}
    for reading in (r for r in readings if r.directed):
        for actor in reading.suppliers:
            sides.setdefault(actor, set()).add("S")
        for actor in reading.recipients:
            sides.setdefault(actor, set()).add("R")
    return {actor: side.pop() for actor, side in sides.items() if len(side) == 1}


def settle_partners(reading: Reading, sides: dict[str, str]) -> None:
    """Partners take the side the item gives them, then fill a missing side in turn."""
    leftover = []
    for actor in reading.partners:
        side = sides.get(actor)
        if side:
            (reading.suppliers if side == "S" else reading.recipients).append(actor)
            reading.directed = True
            reading.reasons.append(f"{actor} -> {side} from the rest of the item")
        else:
            leftover.append(actor)
    for actor in leftover:
        if not reading.suppliers:
            reading.suppliers.append(actor)
        elif not reading.recipients:
            reading.recipients.append(actor)
    reading.partners = []


def settle_item(readings: list[Reading], countries: frozenset[str], civil: bool) -> None:
    """Settle every reading's roles against the item, then score it."""
    sides = item_sides(readings)
    for reading in readings:
        settle_partners(reading, sides)
        roles = score_roles(reading)
        if reading.aid_only and (civil or roles < BOTH_ROLES_SCORE or not reading.aid_linked):
            reading.reasons.append("aid with no weapon: civil, or not between two states")
            reading.evidence = 0.0
        elif reading.aid_only and not countries.intersection(reading.suppliers):
            reading.evidence = 0.0
        reading.score = reading.evidence + roles if reading.evidence > 0 else 0.0


def score_roles(reading: Reading) -> float:
    """The role evidence of a sentence; a self-transfer counts as none."""
    shared = set(reading.suppliers) & set(reading.recipients)
    if shared:
        reading.suppliers = [s for s in reading.suppliers if s not in shared]
        reading.recipients = [r for r in reading.recipients if r not in shared]
        reading.reasons.append(f"same actor on both sides: {', '.join(sorted(shared))}")
    if reading.suppliers and reading.recipients and reading.directed:
        return BOTH_ROLES_SCORE
    return ONE_ROLE_SCORE if reading.suppliers or reading.recipients else 0.0


def penalise_context(reading: Reading, text: str, span: tuple[int, int], marks: list[Mark]) -> None:
    """Lower the score for each kind of non-transfer context in a clause holding a cue."""
    starts = clause_starts(text, *span)
    cues = [m for m in marks if m.kind in TRANSFER_KINDS or m.kind == "programme"]
    near = {clause_of(starts, m.start) for m in cues}
    sides = {*reading.suppliers, *reading.recipients, *reading.partners}
    both = reading.directed and len(sides) > 1
    negatives = [m for m in marks if m.kind in NEGATIVE_WEIGHT]
    found = [m.kind for m in negatives if not near or clause_of(starts, m.start) in near]
    for kind in dict.fromkeys(found):
        reading.evidence -= NEGATIVE_WEIGHT[kind] * (0.5 if both else 1.0)
        reading.reasons.append(f"{kind[4:]} context in sentence {reading.index + 1}")


def is_origin(text: str, actor: Mark, marks: list[Mark]) -> bool:
    """Whether an actor is a demonym right before a weapon ("Iranian drones")."""
    return actor.adjective and slot_before_weapon(text, actor, marks) == "mod"


def combine_readings(
    readings: list[Reading], weapon_of: Callable[[str], Weapon], origins: list[str]
) -> Detection:
    """The item's detection: the best sentence, filled in from the other supporting ones."""
    if not any(r.score > 0 for r in readings):
        return Detection()
    best = max(readings, key=lambda r: (r.score, -r.index))
    others = [r for r in readings if r is not best and r.score >= WEAK_SCORE]
    others.sort(key=lambda r: -r.score)
    suppliers, recipients = list(best.suppliers), list(best.recipients)
    for other in [*others, *(r for r in readings if r.score == 0 and r.directed)]:
        suppliers = suppliers or [s for s in other.suppliers if s not in recipients]
        recipients = recipients or [r for r in other.recipients if r not in suppliers]
    score = best.score + SUPPORT_SCORE * min(len(others), 2)
    if not suppliers and recipients:
        suppliers = list(dict.fromkeys(o for o in origins if o not in recipients))
        score += ONE_ROLE_SCORE if suppliers else 0.0
    weapons = dict.fromkeys(w for r in [best, *others] for w in r.weapons)
    if best.aid_only and not weapons:
        weapons = {"military aid": None}
    reasons = [f"score {best.score:.2f} from sentence {best.index + 1}", *best.reasons]
    if suppliers:
        reasons.append(f"supplier {', '.join(suppliers)}")
    if recipients:
        reasons.append(f"recipient {', '.join(recipients)}")
    return Detection(
        score=round(max(0.0, min(1.0, score)), 3),
        supplier=tuple(suppliers),
        recipient=tuple(recipients),
        weapons=tuple(weapon_of(w) for w in weapons),
        status=pick_status(best.statuses),
        reasons=tuple(reasons),
    )


def pick_status(statuses: list[str]) -> str:
    """The strongest status named in the sentence; "planned" when none is."""
    return next((s for s in STATUS_ORDER if s in statuses), "planned")


def detect_text(text: str, gazetteer: Gazetteer | None = None) -> Detection:
    """Detect on one text with a matcher of its own (for tests and explain)."""
    gazetteer = gazetteer or Gazetteer.load()
    detector = Detector(gazetteer)
    matcher = PhraseMatcher([*gazetteer.phrases(), *detector.phrases()])
    return detector.detect(text, matcher.find(text))
