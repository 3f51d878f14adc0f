"""One story, one alert: items reporting the same story join it (MinHash/LSH + the event).

An item joins a recent story (within the window) when their texts are alike (estimated
Jaccard similarity of word sets, entities written by their canonical names so "Berlin"
and "Germany" agree) and their events do not contradict: strongly alike texts merge
unless supplier or recipient differ; weakly alike ones merge only when the detector saw
the same supplier, recipient and weapon category in both. A joined item that moves the
story on (a later status, a new weapon or party) is a development: a new alert, posted
as a reply to the story's first one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from watchers.models import Detection, Item, Mention, StoryRow

if TYPE_CHECKING:  # datasketch pulls in scipy (0.3 s): imported when a story is first filed
    from datasketch import MinHash

NUM_PERM = 64
SCHEME = "affine32"  # datasketch's hashing scheme, named so stored signatures stay valid
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


@functools.cache
def _permutations() -> object:
    """datasketch's hash permutations for NUM_PERM and SCHEME: fixed by its seed, so made once
    (making them costs seven times the MinHash of a headline)."""
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, scheme=SCHEME).permutations


def signature(words: Iterable[str]) -> MinHash:
    """The MinHash of a word set."""
    from datasketch import MinHash

    minhash = MinHash(num_perm=NUM_PERM, scheme=SCHEME, permutations=_permutations())
    minhash.update_batch([w.encode("utf-8") for w in words])
    return minhash


@dataclass
class Story:
    """A story being followed: its first item, its event, its signature and sources."""

    id: str  # the first item's id
    first_item: str
    event: Event
    minhash: MinHash
    started: float
    sources: list[tuple[str, str]] = field(default_factory=list)  # (source, link)


@dataclass(frozen=True)
class Placement:
    """Where an item goes: a new story, into a story, or a development of one."""

    story: Story | None  # None: the item starts a new story
    development: bool = False


class StoryIndex:
    """Recent stories, searchable by MinHash LSH; stories older than the window drop out."""

    def __init__(self, window: float):
        self.window = window
        from datasketch import MinHashLSH

        self.lsh = MinHashLSH(threshold=WEAK, num_perm=NUM_PERM)
        self.stories: dict[str, Story] = {}

    def add(self, story: Story) -> None:
        """Follow a story."""
        self.stories[story.id] = story
        self.lsh.insert(story.id, story.minhash)

    def expire(self, now: float) -> None:
        """Forget stories that started before the window."""
        for story in [s for s in self.stories.values() if s.started < now - self.window]:
            self.lsh.remove(story.id)
            del self.stories[story.id]

    def place(self, minhash: MinHash, event: Event, now: float) -> Placement:
        """The story an item belongs to, if any, and whether it develops it."""
        self.expire(now)
        best, best_score = None, 0.0
        for key in self.lsh.query(minhash):
            story = self.stories[key]
            score = story.minhash.jaccard(minhash)
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
        minhash=story.minhash.hashvalues.astype("uint64").tobytes(),
        sources=tuple(story.sources),
    )


def story_from_row(row: StoryRow) -> Story:
    """A stored story, followed again (after a restart)."""
    import numpy as np
    from datasketch import MinHash

    hashvalues = np.frombuffer(row.minhash, dtype=np.uint64)
    event = Event(
        frozenset(row.supplier),
        frozenset(row.recipient),
        frozenset(row.categories),
        frozenset(row.weapons),
        row.status,
    )
    minhash = MinHash(num_perm=NUM_PERM, hashvalues=hashvalues, scheme=SCHEME)
    return Story(row.id, row.id, event, minhash, row.started, list(row.sources))


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
            self._index = StoryIndex(self.window)
            for row in self._rows:
                self._index.add(story_from_row(row))
        return self._index

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
        minhash = signature(story_words(text, mentions))
        event = Event.of(detection)
        placement = self.index.place(minhash, event, now)
        if placement.story is None:
            story = Story(item.id, item.id, event, minhash, now)
            self.index.add(story)
            return Filing("send", story)
        story = placement.story
        story.event = story.event.merged(event)
        if placement.development:
            return Filing("reply", story)
        story.sources.append((item.source, item.link))
        return Filing("edit", story)
