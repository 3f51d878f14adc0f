"""Where an actor stands against a transfer cue in one sentence: its grammatical slot.

Slots, tried in this order for each actor and its nearest transfer cue:
    to / from / by / with   the word just before the actor is that preposition
                            ("to Ukraine", "from Iran", "by a ring", "with Russia")
    obj     a noun right after the cue ("send Ukraine tanks", "provide Kyiv with")
    prenoun a noun right before a transfer noun ("Ukraine aid", "Taiwan arms deal")
    mod     an adjective or noun right before a weapon: its origin ("Iranian drones")
    owner   a possessive right before a weapon ("Ukraine's air defences")
    subj    the nearest actor before the cue ("Tehran may supply ..."), and those joined
            to it by "and" or a comma ("US, UK and Australia sign ...")
An actor joined by "and"/"," to the actor before it takes that actor's slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from watchers.cues import TRANSFER_KINDS

SKIP_WORDS = frozenset({"the", "a", "an", "its", "their", "his", "her", "more", "new", "other"})
NOT_SUBJECT = frozenset(
    {"in", "at", "on", "of", "against", "over", "about", "into", "inside", "from", "to", "for"}
    | {"with", "by", "near", "across", "than", "в", "у", "на", "по", "против", "проти", "о"}
)
SLOT_WEIGHT = {"to": 3.0, "from": 3.0, "by": 3.0, "with": 1.0, "obj": 2.0, "subj": 2.0}
SLOT_WEIGHT |= {"mod": 1.5, "owner": 1.5, "prenoun": 1.5}
_WORD = re.compile(r"[^\W_]+(?:'s)?|,", re.UNICODE)
_POSSESSIVE = re.compile(r"^\s*['’]s?\b")


@dataclass(frozen=True)
class Mark:
    """One tagged span of a sentence: an actor, a weapon, a programme or a cue."""

    start: int
    end: int
    kind: str  # actor | weapon | programme | a cue kind from cues.tsv
    value: str | None  # actor/weapon/programme name, or the cue's status
    adjective: bool = False  # an actor named by a demonym ("Iranian")


@dataclass(frozen=True)
class Slot:
    """An actor's slot against a cue, with the weight of that evidence."""

    actor: Mark
    cue: Mark
    slot: str
    weight: float


def gap_words(text: str, start: int, end: int) -> list[str]:
    """The words (and commas) of text[start:end], folded, without filler words."""
    words = [w.casefold().replace("’", "'") for w in _WORD.findall(text[start:end])]
    return [w for w in words if w not in SKIP_WORDS]


def nearest_cue(actor: Mark, cues: list[Mark]) -> Mark:
    """The transfer cue closest to an actor (either side)."""
    return min(cues, key=lambda c: min(abs(c.start - actor.end), abs(actor.start - c.end)))


def find_slots(text: str, marks: list[Mark], preps: dict[str, str]) -> list[Slot]:
    """The slot of every actor in a sentence against its nearest transfer cue."""
    cues = [m for m in marks if m.kind in TRANSFER_KINDS]
    actors = [m for m in marks if m.kind == "actor" and m.value]
    slots: list[Slot] = []
    for i, actor in enumerate(actors):
        cue = nearest_cue(actor, cues)
        slot = joined_slot(text, actor, actors[i - 1], slots) if i else None
        slot = slot or slot_after(text, actor, cue, marks, preps)
        slot = slot or slot_before_noun(text, actor, cue)
        slot = slot or slot_before_weapon(text, actor, marks)
        slot = slot or slot_before(text, actor, cue, actors)
        if slot:
            slots.append(Slot(actor, cue, slot, SLOT_WEIGHT[slot]))
    return slots + backfill_joined(text, actors, slots)


def backfill_joined(text: str, actors: list[Mark], slots: list[Slot]) -> list[Slot]:
    """Slots for actors with none that are joined to a following actor with one."""
    found = {s.actor: s for s in slots}
    extra: list[Slot] = []
    for actor, after in reversed(list(zip(actors, actors[1:], strict=False))):
        if actor not in found and after in found:
            if joined_slot(text, after, actor, [found[after]]) is None:
                continue
            found[actor] = Slot(actor, found[after].cue, found[after].slot, found[after].weight)
            extra.append(found[actor])
    return extra


def joined_slot(text: str, actor: Mark, other: Mark, slots: list[Slot]) -> str | None:
    """The slot of a neighbouring actor, when the two are joined by "and" or a comma."""
    first, second = sorted((actor, other), key=lambda m: m.start)
    if gap_words(text, first.end, second.start) not in (["and"], [","], [",", "and"], ["&"]):
        return None
    return next((s.slot for s in slots if s.actor == other), None)


def slot_after(text: str, actor: Mark, cue: Mark, marks: list[Mark], preps: dict) -> str | None:
    """to/from/by/with from the preposition before an actor after its cue, or obj."""
    if actor.start < cue.end:
        return None
    between = [m for m in marks if cue.end <= m.start and m.end <= actor.start]
    words = gap_words(text, cue.end, actor.start)
    if words and words[-1] in preps:
        return preps[words[-1]]
    if not words and not between and cue.kind != "deal" and not actor.adjective:
        return "obj"
    return None


def slot_before_weapon(text: str, actor: Mark, marks: list[Mark]) -> str | None:
    """mod (origin) or owner (possessive) for an actor right before a weapon."""
    following = [m for m in marks if m.start >= actor.end and m.kind in ("actor", "weapon")]
    if not following or following[0].kind != "weapon":
        return None
    gap = text[actor.end : following[0].start]
    if _POSSESSIVE.match(gap) and len(gap_words(text, actor.end, following[0].start)) <= 2:
        return "owner"
    words = gap_words(text, actor.end, following[0].start)
    return "mod" if len(words) <= 1 and "," not in words else None


def slot_before_noun(text: str, actor: Mark, cue: Mark) -> str | None:
    """prenoun for a noun right before a transfer noun ("Ukraine aid", "Taiwan arms deal")."""
    if cue.kind not in ("noun", "deal") or actor.adjective or actor.end > cue.start:
        return None
    return "prenoun" if not gap_words(text, actor.end, cue.start) else None


def slot_before(text: str, actor: Mark, cue: Mark, actors: list[Mark]) -> str | None:
    """subj for the nearest actor before its cue, within a dozen words."""
    if actor.end > cue.start:
        return None
    between = [o for o in actors if actor.end <= o.start and o.end <= cue.start]
    if any(not slot_before_noun(text, other, cue) for other in between):
        return None
    before = gap_words(text, max(0, actor.start - 20), actor.start)
    close = len(gap_words(text, actor.end, cue.start)) <= 1
    if before and before[-1] in NOT_SUBJECT and not (close and before[-1] in ("from", "of")):
        return None  # "in Ukraine", "at NATO talks": not the one acting
    return "subj" if len(gap_words(text, actor.end, cue.start)) <= 12 else None
