"""One story, one alert: items reporting the same story join it (MinHash/LSH + the event).

An item joins a recent story (within the window) when their texts are alike (Jaccard
similarity of word sets, entities written by their canonical names so "Berlin" and
"Germany" agree; MinHash LSH finds the candidates, the word sets decide) and their
events do not contradict: strongly alike texts merge unless supplier or recipient
differ; weakly alike ones merge only when the detector saw the same supplier, recipient
and weapon category in both. A joined item that moves the story on (a later status, a
new weapon or party) is a development: a new alert, posted as a reply to the story's
first one.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from rensa import RMinHash, RMinHashLSH  # Rust MinHash: imports in about a millisecond

from watchers.models import Detection, Item, Mention, StoryRow

log = logging.getLogger("armswatch.stories")

NUM_PERM = 64
SEED = 1  # fixes rensa's permutations, so signatures made after a restart still compare
# LSH bands of NUM_PERM / NUM_BANDS = 2 rows: a story at Jaccard WEAK is a candidate with
# probability 1 - (1 - 0.2**2)**32 = 0.73; datasketch's MinHashLSH(WEAK, 64) chose 28 bands
# of 2 (0.68) and rensa needs bands that divide NUM_PERM, so 32 is its recall or better.
NUM_BANDS = 32
STRONG = 0.5  # alike enough on text alone
WEAK = 0.2  # alike enough when the events agree
STATUS_ORDER = ("requested", "negotiating", "planned", "approved", "signed", "delivered")
_WORD = re.compile(r"\w+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "and",
        "or",
        "but",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "will",
        "would",
        "could",
        "may",
        "might",
        "says",
        "said",
        "say",
        "after",
        "over",
        "into",
        "about",
        "than",
        "more",
        "new",
        "s",
        "us",
        "his",
        "her",
        "their",
        "they",
        "he",
        "she",
        "we",
        "our",
        "not",
        "no",
    ]
)


@dataclass(frozen=True)
class Event:
    """Who supplies what to whom, as the detector read it."""

    supplier: frozenset[str] = frozenset()
    recipient: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    weapons: frozenset[str] = frozenset()
    status: str | None = None

    @classmethod
    def of(cls, detection: Detection) -> Event:
        return cls(
            frozenset(detection.supplier),
            frozenset(detection.recipient),
            frozenset(w.category for w in detection.weapons),
            frozenset(w.name for w in detection.weapons),
            detection.status,
        )

    def agrees_with(self, other: Event) -> bool:
        """Same parties (where both name them) and a shared weapon category, if any."""
        if self.supplier and other.supplier and not self.supplier & other.supplier:
            return False
        if self.recipient and other.recipient and not self.recipient & other.recipient:
            return False
        return not (self.categories and other.categories) or bool(
            self.categories & other.categories
        )

    def same_event(self, other: Event) -> bool:
        """Both name supplier, recipient and a category, and they agree on all three."""
        named = all((self.supplier, self.recipient, other.supplier, other.recipient))
        return named and bool(self.categories & other.categories) and self.agrees_with(other)

    def develops(self, earlier: Event) -> bool:
        """A later status, or a kind of weapon or a party the story did not have."""
        if _rank(self.status) > _rank(earlier.status) >= 0 or (
            self.status == "blocked" != earlier.status and earlier.status is not None
        ):
            return True
        return any(
            mine - theirs and theirs
            for mine, theirs in (
                (self.categories, earlier.categories),
                (self.supplier, earlier.supplier),
                (self.recipient, earlier.recipient),
            )
        )

    def merged(self, other: Event) -> Event:
        """The story's event after taking in an item's."""
        status = other.status if _rank(other.status) >= _rank(self.status) else self.status
        return Event(
            self.supplier | other.supplier,
            self.recipient | other.recipient,
            self.categories | other.categories,
            self.weapons | other.weapons,
            status or self.status,
        )


def _rank(status: str | None) -> int:
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else -1


def story_words(text: str, mentions: Sequence[Mention]) -> set[str]:
    """The words a story is compared by: entities by canonical name, no stop words."""
    words: set[str] = set()
    last = 0
    for mention in sorted(mentions, key=lambda m: m.start):
        if mention.start < last:
            continue
        words |= _plain_words(text[last : mention.start])
        words.add("@" + mention.entity.casefold())
        last = mention.end
    return words | _plain_words(text[last:])


def _plain_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.casefold()) if len(w) > 2 and w not in _STOPWORDS}


def signature(words: Iterable[str]) -> RMinHash:
    """The MinHash of a word set."""
    minhash = RMinHash(NUM_PERM, SEED)
    minhash.update(list(words))
    return minhash


def restore_signature(state: bytes) -> RMinHash:
    """A stored signature (rensa's own state bytes), or ValueError if it is not one of ours."""
    minhash = RMinHash(NUM_PERM, SEED)
    minhash.__setstate__(state)  # rensa's versioned format; raises ValueError on bad bytes
    if minhash.__getnewargs__() != (NUM_PERM, SEED):  # the state carries its own num_perm, seed
        raise ValueError(f"signature made with (num_perm, seed) {minhash.__getnewargs__()}")
    return minhash


@dataclass
class Story:
    """A story being followed: its first item, its event, its signature and sources."""

    id: str  # the first item's id
    first_item: str
    event: Event
    minhash: RMinHash
    started: float
    sources: list[tuple[str, str]] = field(default_factory=list)  # (source, link)
    words: frozenset[str] = frozenset()  # empty for stories stored before words were kept

    def similarity(self, words: frozenset[str], minhash: RMinHash) -> float:
        """Jaccard similarity of the word sets; the MinHash estimate if words are unknown."""
        if not self.words or not words:
            return self.minhash.jaccard(minhash)
        return len(self.words & words) / len(self.words | words)


@dataclass(frozen=True)
class Placement:
    """Where an item goes: a new story, into a story, or a development of one."""

    story: Story | None  # None: the item starts a new story
    development: bool = False


class StoryIndex:
    """Recent stories, searchable by MinHash LSH; stories older than the window drop out."""

    def __init__(self, window: float):
        self.window = window
        self.lsh = RMinHashLSH(WEAK, NUM_PERM, NUM_BANDS)
        self.stories: dict[str, Story] = {}
        self._keys: dict[str, int] = {}  # story id -> the LSH's integer key
        self._ids: dict[int, str] = {}
        self._next_key = itertools.count()

    def add(self, story: Story) -> None:
        """Follow a story."""
        self._forget(story.id)
        key = next(self._next_key)
        self.stories[story.id] = story
        self._keys[story.id], self._ids[key] = key, story.id
        self.lsh.insert(key, story.minhash)

    def expire(self, now: float) -> None:
        """Forget stories that started before the window."""
        for story in [s for s in self.stories.values() if s.started < now - self.window]:
            self._forget(story.id)

    def _forget(self, story_id: str) -> None:
        key = self._keys.pop(story_id, None)
        if key is not None:
            self.lsh.remove(key)
            del self._ids[key], self.stories[story_id]

    def place(
        self, words: frozenset[str], minhash: RMinHash, event: Event, now: float
    ) -> Placement:
        """The story an item belongs to, if any, and whether it develops it."""
        self.expire(now)
        best, best_score = None, 0.0
        for key in self.lsh.query(minhash):
            story = self.stories[self._ids[key]]
            score = story.similarity(words, minhash)
            if _joins(score, event, story.event) and score > best_score:
                best, best_score = story, score
        if best is None:
            return Placement(None)
        return Placement(best, event.develops(best.event))


def _joins(similarity: float, event: Event, story: Event) -> bool:
    if similarity >= STRONG:
        return event.agrees_with(story)
    return similarity >= WEAK and event.same_event(story)


def story_row(story: Story) -> StoryRow:
    """A story as the store keeps it."""
    event = story.event
    return StoryRow(
        id=story.first_item,
        started=story.started,
        supplier=tuple(sorted(event.supplier)),
        recipient=tuple(sorted(event.recipient)),
        categories=tuple(sorted(event.categories)),
        weapons=tuple(sorted(event.weapons)),
        status=event.status,
        minhash=story.minhash.__getstate__(),
        sources=tuple(story.sources),
        words=tuple(sorted(story.words)),
    )


def story_from_row(row: StoryRow) -> Story:
    """A stored story, followed again (after a restart); ValueError if its signature is not
    rensa's (rows from datasketch, 64 uint64 values, are at most a window old: see StoryBook)."""
    minhash = restore_signature(row.minhash)
    event = Event(
        frozenset(row.supplier),
        frozenset(row.recipient),
        frozenset(row.categories),
        frozenset(row.weapons),
        row.status,
    )
    return Story(
        row.id, row.id, event, minhash, row.started, list(row.sources), frozenset(row.words)
    )


def _readable_stories(rows: Iterable[StoryRow]) -> Iterator[Story]:
    """Stored stories whose signature can be read. Rows written before the switch from
    datasketch to rensa hold 64 uint64 hash values, not rensa's state: they are skipped, being
    at most a window (48 h by default) old; the story's next report starts a new one."""
    for row in rows:
        try:
            yield story_from_row(row)
        except ValueError as exc:
            log.warning("story_skipped story=%s reason=%r", row.id, str(exc))


@dataclass(frozen=True)
class Filing:
    """What to do with an alerting item: send, edit the story's first alert, or reply."""

    kind: str  # send | edit | reply
    story: Story


class StoryBook:
    """Files alerting items into stories; the pipeline's one entry point to merging."""

    def __init__(self, window: float, rows: Iterable[StoryRow] = ()):
        self.window = window
        self._rows = list(rows)
        self._index: StoryIndex | None = None

    @property
    def index(self) -> StoryIndex:
        """The index of recent stories, built when the first item is filed."""
        if self._index is None:
            index = StoryIndex(self.window)
            for story in _readable_stories(self._rows):
                index.add(story)
            self._index = index
        return self._index

    def take(self, rows: Iterable[StoryRow]) -> None:
        """Follow stories other instances filed or changed (replacing the copies held)."""
        if self._index is None:
            self._rows.extend(rows)  # the index is built from them when first needed
            return
        for story in _readable_stories(rows):
            self._index.add(story)

    def file(
        self,
        item: Item,
        text: str,
        mentions: Sequence[Mention],
        detection: Detection,
        now: float,
    ) -> Filing:
        """Place an item (its text as the rules read it): a new story, a source of a known
        one, or a development of it."""
        words = frozenset(story_words(text, mentions))
        minhash = signature(words)
        event = Event.of(detection)
        placement = self.index.place(words, minhash, event, now)
        if placement.story is None:
            story = Story(item.id, item.id, event, minhash, now, words=words)
            self.index.add(story)
            return Filing("send", story)
        story = placement.story
        story.event = story.event.merged(event)
        if placement.development:
            return Filing("reply", story)
        story.sources.append((item.source, item.link))
        return Filing("edit", story)
