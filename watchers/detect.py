"""The arms-transfer detector: is this story a transfer, who supplies what to whom, how far.

Each sentence is read as a row of marks: actors and weapons (from the gazetteer), transfer
cues (watchers/data/cues.tsv, see watchers/cues.py) and negative context. Each actor takes
a slot against its nearest transfer cue (watchers/slots.py: subj, obj, to, from, by, with,
mod, owner) and the cue's direction turns slots into roles: "X supplies W to Y", "Y buys W
from X", "Y asks X for W", "W sent to Y by X", "Iranian drones for Russia". When nothing
names the supplier, a weapon's maker country named in the sentence does ("Su-35 ... made
in Russia"). Named programmes (deals.tsv: AUKUS) are transfers with known roles.

Score (0..1; 0.5 is the alert threshold), per sentence: a transfer cue and a weapon 0.4
(0.25 for a weak cue such as "support"); plus 0.35 when supplier and recipient are both
found and differ, 0.15 for one side; plus 0.1 in the title; minus 0.15-0.25 per kind of
non-transfer context (combat, test, domestic production, trade, peace talks, arms
control). The item takes its best sentence, plus 0.05 per other supporting sentence (up to
two). A supplier equal to the recipient (a country buying from its own industry) counts
as no roles.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from watchers.cues import STATUSES, TRANSFER_KINDS, CueBook, load_cuebook, split_sentences
from watchers.entities import Gazetteer
from watchers.errors import ConfigError
from watchers.models import Detection, Weapon
from watchers.slots import Mark, find_slots, slot_before_weapon
from watchers.textmatch import Hit, PhraseMatcher, longest_first

SLOT_ROLES = {  # cue kind -> slot -> S (supplier), R (recipient), P (partner: either side)
    "out": {"subj": "S", "obj": "R", "to": "R", "from": "S", "by": "S", "with": "P"},
    "in": {"subj": "R", "obj": "S", "to": "R", "from": "S", "by": "R", "with": "P"},
    "ask": {"subj": "R", "obj": "S", "to": "S", "from": "R", "by": "R", "with": "P"},
    "deal": {"subj": "P", "obj": "P", "to": "R", "from": "S", "by": "P", "with": "P"},
}
SLOT_ROLES["weak"] = SLOT_ROLES["out"]
SLOT_ROLES["noun"] = SLOT_ROLES["out"] | {"prenoun": "R"}
SLOT_ROLES["deal"]["prenoun"] = "R"
BASE_SCORE, WEAK_SCORE = 0.3, 0.2  # a transfer cue and a weapon in one sentence
BOTH_ROLES_SCORE, ONE_ROLE_SCORE = 0.3, 0.08
TITLE_SCORE, SUPPORT_SCORE = 0.1, 0.05
STATUS_ORDER = ("blocked", "approved", "signed", "requested", "negotiating", "delivered")
NEGATIVE_WEIGHT = {"neg_combat": 0.15, "neg_test": 0.2, "neg_domestic": 0.15}
NEGATIVE_WEIGHT |= {"neg_trade": 0.15, "neg_peace": 0.2, "neg_other": 0.25}


@dataclass
class Reading:
    """What one sentence says: evidence, roles, weapons, status and reasons."""

    index: int
    score: float = 0.0
    suppliers: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    weapons: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    directed: bool = False  # a role came from a directed slot, not only "with"/"deal"


class Detector:
    """Reads entity-tagged sentences for arms-transfer patterns."""

    def __init__(self, gazetteer: Gazetteer, cuebook: CueBook | None = None):
        self.gazetteer = gazetteer
        self.cuebook = cuebook or load_cuebook()
        self.regions = frozenset(n for n, e in gazetteer.entities.items() if e.kind == "region")
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
        if not could_be_transfer(hits):
            return Detection()
        marks = self.mark_text(hits)
        readings = []
        for index, (start, end) in enumerate(split_sentences(text)):
            sentence = [m for m in marks if start <= m.start < end]
            reading = self.read_sentence(text, index, sentence)
            if reading.score > 0 or reading.suppliers or reading.recipients:
                readings.append(reading)
        origins = [m.value for m in marks if m.kind == "actor" and is_origin(text, m, marks)]
        return combine_readings(readings, self.weapon, origins)

    def mark_text(self, hits: Sequence[Hit]) -> list[Mark]:
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
        return sorted(marks, key=lambda m: (m.start, -m.end))

    def read_sentence(self, text: str, index: int, marks: list[Mark]) -> Reading:
        """Evidence, roles and status in one sentence."""
        reading = Reading(index)
        weapons = [m.value for m in marks if m.kind == "weapon" and m.value]
        cues = [m for m in marks if m.kind in TRANSFER_KINDS]
        reading.weapons = list(dict.fromkeys(weapons))
        reading.statuses = [m.value for m in marks if m.kind != "actor" and m.value in STATUSES]
        for mark in (m for m in marks if m.kind == "programme"):
            self.read_programme(reading, mark.value)
        if cues:
            assign_roles(reading, text, marks, self.cuebook.gap_words)
            reading.recipients = [r for r in reading.recipients if r not in self.regions]
            self.add_maker_supplier(reading, marks)
        if weapons and cues:
            strong = [c for c in cues if c.kind != "weak"]
            reading.score += BASE_SCORE if strong else WEAK_SCORE
            cue = (strong or cues)[0]
            quoted = text[cue.start : cue.end]
            reading.reasons.insert(0, f"transfer cue '{quoted}' in sentence {index + 1}")
        if reading.score == 0:
            return reading
        score_roles(reading)
        reading.score += TITLE_SCORE if index == 0 else 0.0
        penalise_context(reading, marks)
        return reading

    def read_programme(self, reading: Reading, name: str | None) -> None:
        """A named programme is a transfer with its own roles and weapon."""
        programme = next(p for p in self.cuebook.programmes if p.name == name)
        reading.score = max(reading.score, BASE_SCORE)
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
                partners = [*reading.suppliers, *reading.recipients]
                reading.suppliers = [maker]
                reading.recipients = [p for p in partners if p != maker] or reading.recipients
                reading.directed = True
                reading.reasons.append(f"supplier {maker}: maker of {name}")
                return

    def weapon(self, name: str) -> Weapon:
        """The Weapon of a canonical weapon name, with its category."""
        entity = self.gazetteer.get(name)
        return Weapon(name, entity.category if entity and entity.category else "other")


def could_be_transfer(hits: Sequence[Hit]) -> bool:
    """Cheap pre-check: a named programme, or a transfer cue and some entity."""
    keys = [h.key for h in hits if isinstance(h.key, tuple) and len(h.key) > 1]
    if any(k[:2] == ("cue", "programme") for k in keys):
        return True
    cue = any(k[0] == "cue" and k[1] in TRANSFER_KINDS for k in keys)
    return cue and any(k[0] == "entity" for k in keys)


def assign_roles(reading: Reading, text: str, marks: list[Mark], preps: dict[str, str]) -> None:
    """Turn each actor's slot against its nearest cue into a supplier/recipient vote."""
    votes: dict[str, dict[str, float]] = {}
    for slot in find_slots(text, marks, preps):
        role = {"mod": "S", "owner": "R"}.get(slot.slot) or SLOT_ROLES[slot.cue.kind].get(slot.slot)
        if role and slot.actor.value:
            actor_votes = votes.setdefault(slot.actor.value, {})
            actor_votes[role] = actor_votes.get(role, 0.0) + slot.weight
            reading.directed = reading.directed or role != "P"
            cue = text[slot.cue.start : slot.cue.end]
            reading.reasons.append(f"{slot.slot} {slot.actor.value} -> {role} ('{cue}')")
    settle_roles(reading, votes)


def settle_roles(reading: Reading, votes: dict[str, dict[str, float]]) -> None:
    """Each actor takes its best-voted role; partners fill a missing side."""
    partners = []
    for actor, roles in votes.items():
        role = max(roles, key=lambda r: roles[r])
        {"S": reading.suppliers, "R": reading.recipients, "P": partners}[role].append(actor)
    for actor in partners:
        if not reading.suppliers:
            reading.suppliers.append(actor)
        elif not reading.recipients:
            reading.recipients.append(actor)


def score_roles(reading: Reading) -> None:
    """Add the role evidence to a sentence's score; a self-transfer counts as none."""
    shared = set(reading.suppliers) & set(reading.recipients)
    if shared:
        reading.suppliers = [s for s in reading.suppliers if s not in shared]
        reading.recipients = [r for r in reading.recipients if r not in shared]
        reading.reasons.append(f"same actor on both sides: {', '.join(sorted(shared))}")
    if reading.suppliers and reading.recipients and reading.directed:
        reading.score += BOTH_ROLES_SCORE
    elif reading.suppliers or reading.recipients:
        reading.score += ONE_ROLE_SCORE


def penalise_context(reading: Reading, marks: list[Mark]) -> None:
    """Lower the score for each kind of non-transfer context in the sentence."""
    both = reading.suppliers and reading.recipients and reading.directed
    for kind in dict.fromkeys(m.kind for m in marks if m.kind in NEGATIVE_WEIGHT):
        reading.score -= NEGATIVE_WEIGHT[kind] * (0.5 if both else 1.0)
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
