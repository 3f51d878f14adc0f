"""Where an actor stands against a transfer cue in one sentence: its grammatical slot.

Slots, tried in this order for each actor and its nearest transfer cue:
    to / from / by / with   the word just before the actor is that preposition
                            ("to Ukraine", "from Iran", "by a ring", "with Russia")
    obj     a noun right after the cue ("send Ukraine tanks", "provide Kyiv with"); "by"
            for a Ukrainian/Russian noun in the instrumental case ("передачу Ираном": by Iran)
    prenoun a noun right before a transfer noun ("Ukraine aid", "Taiwan arms deal")
    mod     an adjective or noun right before a weapon: its origin ("Iranian drones")
    owner   a possessive right before a weapon ("Ukraine's air defences")
    client/patron  "Ukraine's allies" (a possessive before a collective): the allies
            supply Ukraine, whatever the cue
    subj    the nearest actor before the cue ("Tehran may supply ..."), and those joined
            to it by "and" or a comma ("US, UK and Australia sign ..."); "with" for one
            right before the cue after "with" ("a spat with South Africa over arms to")
An actor joined by "and"/"," to the actor before it takes that actor's slot.

Also here: implied cues (a weapon followed by "to"/"for" and an actor: "arms to Russia"),
clauses (a strike clause does not veto a supply clause in the same sentence) and the
actors a pronoun subject ("They will discuss ...") stands for.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from watchers.detection.cues import TRANSFER_KINDS

SKIP_WORDS = frozenset({"the", "a", "an", "its", "their", "his", "her", "more", "new", "other"})
NOT_SUBJECT = frozenset(
    {"in", "at", "on", "of", "against", "over", "about", "into", "inside", "from", "to", "for"}
    | {"with", "by", "near", "across", "than", "в", "у", "на", "по", "против", "проти", "о"}
    | {"з", "із", "зі", "с", "со"}
)
SLOT_WEIGHT = {"to": 3.0, "from": 3.0, "by": 3.0, "with": 1.0, "obj": 2.0, "subj": 2.0}
SLOT_WEIGHT |= {"mod": 1.5, "owner": 1.5, "prenoun": 1.5}
LOCATED = frozenset({"in", "at", "with", "з", "із", "зі", "с", "со"})
MAX_GAP = 10  # words between a cue and a preposition's actor ("sent tanks ... to Ukraine")
IMPLIED_PREPS = frozenset({"to", "for", "для"})
_WORD = re.compile(r"[^\W_]+(?:'s)?|,", re.UNICODE)
_POSSESSIVE = re.compile(r"^\s*['’]s?\b")
_INSTRUMENTAL = re.compile(r"[а-яіїєґ](?:ом|ем|ой|ей|ою|єю)$", re.I)  # "передача Ираном"
_ORDER = re.compile(r"order(?:s|ed|ing)?", re.I)
_COMMAND = re.compile(r"\s+(?:[^\W\d_][\w'’-]*\s+){0,3}?to\s+(?!be\b)(?=[^\W\d_])", re.I)
_CLAUSE = re.compile(r"[,;:]|\s[-–—]\s|\b(?:as|while|but|whereas|after|amid)\b", re.I)
_PRONOUN = re.compile(r"\s*[\"'“‘]?(?:they|both|the two|the pair|the leaders)\b", re.I)


# Marks and slots are values, never changed once made, hashed by their fields as frozen
# dataclasses are; not frozen only because frozen pays a setattr call per field per
# object, and an item makes dozens (a tenth of the reading's cost).
@dataclass(unsafe_hash=True)
class Mark:
    """One tagged span of a sentence: an actor, a weapon, a programme or a cue."""

    start: int
    end: int
    kind: str  # actor | weapon | programme | a cue kind from cues.tsv
    value: str | None  # actor/weapon/programme name, or the cue's status
    adjective: bool = False  # an actor named by a demonym ("Iranian")


@dataclass(unsafe_hash=True)
class Slot:
    """An actor's slot against a cue, with the weight of that evidence."""

    actor: Mark
    cue: Mark
    slot: str
    weight: float


def gap_words(text: str, start: int, end: int) -> list[str]:
    """The words (and commas) of text[start:end], folded, without filler words."""
    gap = text[start:end]
    if gap.isascii():  # the common case, folded at once
        return [w for w in _WORD.findall(gap.lower()) if w not in SKIP_WORDS]
    words = [w.casefold() for w in _WORD.findall(gap)]
    return [w for w in words if w not in SKIP_WORDS]


def nearest_cues(actor: Mark, cues: list[Mark]) -> list[Mark]:
    """The transfer cues by distance from an actor (either side), nearest first."""
    return sorted(cues, key=lambda c: min(abs(c.start - actor.end), abs(actor.start - c.end)))


def find_slots(
    text: str, marks: list[Mark], preps: dict[str, str], collective: frozenset[str] = frozenset()
) -> list[Slot]:
    """The slot of every actor in a sentence against its nearest transfer cue."""
    cues = [m for m in marks if m.kind in TRANSFER_KINDS]
    actors = [m for m in marks if m.kind == "actor" and m.value]
    slots = patron_slots(text, actors, cues, collective)
    clauses = clause_starts(text, marks[0].start, marks[-1].end)
    for i, actor in enumerate(actors):
        if any(s.actor == actor for s in slots):
            continue
        for cue in nearest_cues(actor, cues)[:2]:
            slot = joined_slot(text, actor, actors[i - 1], slots) if i else None
            slot = slot or slot_after(text, actor, cue, marks, preps)
            slot = slot or slot_before_noun(text, actor, cue)
            if clause_of(clauses, actor.start) == clause_of(clauses, cue.start):
                slot = slot or slot_before_weapon(
                    text, actor, marks
                )  # not "X missiles hit, Y sends"
            slot = slot or slot_before(text, actor, cue, actors)
            if slot:
                slots.append(Slot(actor, cue, slot, SLOT_WEIGHT[slot]))
                break
    return slots + backfill_joined(text, actors, slots)


def patron_slots(
    text: str, actors: list[Mark], cues: list[Mark], collective: frozenset[str]
) -> list[Slot]:
    """client and patron for "Ukraine's allies/backers": the allies supply the client."""
    slots = []
    for client, patron in zip(actors, actors[1:], strict=False):
        gap = text[client.end : patron.start]
        if (
            patron.value in collective
            and _POSSESSIVE.match(gap)
            and len(gap_words(text, client.end, patron.start)) <= 1
        ):
            cue = nearest_cues(patron, cues)[0]
            slots += [Slot(client, cue, "client", 3.0), Slot(patron, cue, "patron", 3.0)]
    return slots


def backfill_joined(text: str, actors: list[Mark], slots: list[Slot]) -> list[Slot]:
    """Slots for actors with none that are joined to a following actor with one."""
    found = {s.actor: s for s in slots}
    extra: list[Slot] = []
    for actor, after in reversed(list(zip(actors, actors[1:], strict=False))):
        if actor not in found and after in found:
            if joined_slot(text, actor, after, [found[after]]) is None:
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
    if words and words[-1] in preps and len(words) <= MAX_GAP:
        return preps[words[-1]]
    if not words and not between and cue.kind != "deal" and not actor.adjective:
        return "by" if _INSTRUMENTAL.search(text, actor.start, actor.end) else "obj"
    return None


def slot_before_weapon(text: str, actor: Mark, marks: list[Mark]) -> str | None:
    """mod (origin) or owner (possessive) for an actor right before a weapon."""
    stops = ("actor", "weapon", *TRANSFER_KINDS)  # "Russia seeks weaponry": no origin
    following = [m for m in marks if m.start >= actor.end and m.kind in stops]
    if not following or following[0].kind != "weapon":
        return None
    gap = text[actor.end : following[0].start]
    if _POSSESSIVE.match(gap) and len(gap_words(text, actor.end, following[0].start)) <= 2:
        return "owner"
    words = gap_words(text, actor.end, following[0].start)
    close = not words or (actor.adjective and len(words) == 1 and words != [","])
    return "mod" if close else None  # "US tanks", "Iranian attack drones"; not "US says F-16"


def slot_before_noun(text: str, actor: Mark, cue: Mark) -> str | None:
    """prenoun for a noun right before a transfer noun ("Ukraine aid", "Taiwan arms deal")."""
    if cue.kind not in ("noun", "aid", "deal") or actor.adjective or actor.end > cue.start:
        return None
    return "prenoun" if not gap_words(text, actor.end, cue.start) else None


def slot_before(text: str, actor: Mark, cue: Mark, actors: list[Mark]) -> str | None:
    """subj for the nearest actor before its cue, within a dozen words."""
    if actor.end > cue.start:
        return None
    between = [o for o in actors if actor.end <= o.start and o.end <= cue.start]
    if any(not (slot_before_noun(text, o, cue) or is_located(text, o)) for o in between):
        return None
    before = gap_words(text, max(0, actor.start - 20), actor.start)
    gap = len(gap_words(text, actor.end, cue.start))
    if gap <= 1 and before and before[-1] == "with":
        return "with"
    if before and before[-1] in NOT_SUBJECT and not (gap <= 1 and before[-1] in ("from", "of")):
        return None  # "in Ukraine", "at NATO talks": not the one acting
    return "subj" if gap <= 12 else None


def is_located(text: str, actor: Mark) -> bool:
    """Whether an actor follows a preposition, so it is no competing subject ("meet in
    Russia", "in talks with Zelensky")."""
    before = gap_words(text, max(0, actor.start - 12), actor.start)
    return bool(before) and before[-1] in LOCATED


def is_recipient_like(text: str, actor: Mark) -> bool:
    """Whether an actor is named the way a receiving side is: "in/for/to X", "X's"."""
    if actor.adjective:
        return False
    before = gap_words(text, max(0, actor.start - 12), actor.start)
    owner = _POSSESSIVE.match(text, actor.end, actor.end + 3) is not None
    return owner or (bool(before) and before[-1] in ("in", "for", "to"))


def overlaps(one: Mark, other: Mark) -> bool:
    """Whether two marks share characters ("lethal aid" and "aid")."""
    return one.start < other.end and other.start < one.end


def without_commands(text: str, marks: list[Mark]) -> list[Mark]:
    """Marks without the "order" cues that give a command ("Sadr orders fighters to lay down
    weapons", "Putin ordered troops to withdraw"): "order" followed within a few words, none
    a weapon, by "to" and a verb (not "to be", not "to" and an actor) is no purchase
    ("Egypt orders Rafale jets to replace its Mirages" is one)."""
    orders = [m for m in marks if m.kind == "in" and _ORDER.fullmatch(text, m.start, m.end)]
    if not orders:  # nearly every item: nothing to check
        return marks
    starts = {m.start for m in marks if m.kind == "actor"}
    weapons = [m.start for m in marks if m.kind == "weapon"]
    commands = set()
    for mark in orders:
        command = _COMMAND.match(text, mark.end)
        if (
            command
            and command.end() not in starts
            and not any(mark.end <= w < command.end() for w in weapons)
        ):
            commands.add(id(mark))
    return [m for m in marks if id(m) not in commands]


def implied_cues(text: str, marks: list[Mark]) -> list[Mark]:
    """A cue at each weapon right before "to"/"for" and an actor ("arms to Russia")."""
    implied = []
    cues = [m for m in marks if m.kind in TRANSFER_KINDS]
    pairs = zip(marks, marks[1:], strict=False)
    for mark, after in ((m, a) for m, a in pairs if m.kind == "weapon" and a.kind == "actor"):
        if after.start >= mark.end and not any(overlaps(mark, cue) for cue in cues):
            words = gap_words(text, mark.end, after.start)
            if len(words) == 1 and words[0] in IMPLIED_PREPS:
                implied.append(Mark(mark.start, mark.end, "implied", None))
    return implied


def clause_starts(text: str, start: int, end: int) -> list[int]:
    """Where the clauses of the sentence text[start:end] begin (after its first)."""
    return [m.start() for m in _CLAUSE.finditer(text, start, end)]


def clause_of(starts: list[int], position: int) -> int:
    """The index of the clause a position falls in."""
    return bisect.bisect_right(starts, position)


def pronoun_subject(text: str, start: int) -> bool:
    """Whether a sentence opens with a plural pronoun subject ("They will discuss ...")."""
    return _PRONOUN.match(text, start) is not None


def leading_actors(text: str, marks: list[Mark]) -> list[str]:
    """The actors a sentence opens with, joined by "and"/"," ("Putin and Kim plan ...")."""
    leading: list[Mark] = []
    for mark in marks:
        if mark.kind != "actor" or not mark.value:
            break
        joined = ([","], ["and"], [",", "and"])
        if leading and gap_words(text, leading[-1].end, mark.start) not in joined:
            break
        leading.append(mark)
    names = [m.value for m in leading if m.value]
    return list(dict.fromkeys(names)) if len(names) > 1 else []
