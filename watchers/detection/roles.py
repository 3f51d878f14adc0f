"""Who supplies whom: a sentence's evidence and roles, settled across the item.

The detector (detect.py) reads each sentence into a Reading: the evidence of its transfer
cues, weapons and context, and a supplier/recipient vote from each actor's slot against
its nearest cue. Here those votes become roles, partners of undirected cues take the side
the rest of the item gives them, and the item's best sentence, filled in from the others,
becomes the reading's Detection. The evidence figures below only rank the sentences (which
one gives the roles, weapons and status); whether the item is a transfer is the learned
model's verdict (model.py), and the learned side models (sides.py) weigh these roles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from watchers.detection.cues import TRANSFER_KINDS
from watchers.detection.slots import Mark, clause_of, clause_starts, find_slots
from watchers.models import Detection, Weapon

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
    self_transfer: bool = False  # one actor on both sides: a country buying from its own
    contexts: list[str] = field(default_factory=list)  # non-transfer context near a cue


def calm_weapons(sentences: list[tuple[tuple[int, int], list[Mark]]]) -> list[str]:
    """Weapons named in sentences with no negative context (not "Russia using nukes")."""
    weapons: dict[str, None] = {}
    for _, marks in sentences:
        if not any(m.kind in NEGATIVE_WEIGHT for m in marks):
            weapons |= dict.fromkeys(m.value for m in marks if m.kind == "weapon" and m.value)
    return list(weapons)


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
        reading.self_transfer = True
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
        reading.contexts.append(kind[4:])
        reading.evidence -= NEGATIVE_WEIGHT[kind] * (0.5 if both else 1.0)
        reading.reasons.append(f"{kind[4:]} context in sentence {reading.index + 1}")


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
