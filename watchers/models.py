"""Plain frozen dataclasses passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Feed:
    """A configured feed."""

    name: str
    url: str
    interval: float  # seconds between polls


@dataclass(frozen=True)
class Item:
    """One normalised feed entry."""

    id: str  # unique among stored items: what the outbox, events and stories refer to
    title: str
    summary: str = ""
    link: str = ""
    published: datetime | None = None  # always UTC when set
    source: str = ""  # feed name
    # The id the feed gives the item (its guid scoped to the site, else its link, else a
    # hash of its title) when the store had to extend `id` to keep it unique (another
    # item had that id: a reused guid); "" when `id` is that. See store/identity.py.
    feed_id: str = ""


@dataclass(frozen=True)
class Entity:
    """A canonical entity of the gazetteer: a country, armed group, company or weapon."""

    name: str  # canonical English name: "Iran", "Hezbollah", "Su-35"
    kind: str  # country | armed_group | company | organization | weapon
    aliases: tuple[str, ...] = ()
    country: str | None = None  # for armed groups, companies, people: the country they stand for
    category: str | None = None  # for weapons: aircraft, missiles, air_defence, ...
    code: str | None = None  # for countries: ISO 3166 alpha-2 ("IR")


@dataclass(frozen=True)
class Mention:
    """An entity alias found in a text; offsets index the original text."""

    entity: str
    kind: str
    start: int
    end: int
    text: str  # the matched text as written


@dataclass(frozen=True)
class Weapon:
    """A weapon named in a story, with its SIPRI-style category."""

    name: str
    category: str


@dataclass(frozen=True)
class Detection:
    """What the arms-transfer detector found in one item."""

    score: float = 0.0  # 0..1; >= the rule's min_score counts as a transfer
    supplier: tuple[str, ...] = ()
    recipient: tuple[str, ...] = ()
    weapons: tuple[Weapon, ...] = ()
    status: str | None = None  # requested|negotiating|planned|approved|signed|delivered|blocked
    reasons: tuple[str, ...] = ()
    weighed: tuple[tuple[str, float], ...] = ()  # the model's features present, with weights


@dataclass(frozen=True)
class Match:
    """One rule that fired on an item, with the reasons."""

    rule: str
    terms: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    priority: bool = False
    chat_id: str | None = None
    digest: str | None = None  # "hourly" | "daily": collected, not sent one by one


# A value like the others here, never changed once made and hashed by its fields, but
# not frozen: every item polled gets one, and frozen pays a setattr call per field.
@dataclass(unsafe_hash=True)
class Verdict:
    """The result of matching one item against all rules."""

    item_id: str
    matches: tuple[Match, ...] = ()
    detection: Detection = field(default_factory=Detection)

    @property
    def alert(self) -> bool:
        return bool(self.matches)


@dataclass(frozen=True)
class Alert:
    """A queued message for one chat, as stored in the outbox."""

    id: int
    item_id: str
    chat_id: str
    text: str  # Telegram HTML, already escaped
    attempts: int = 0
    kind: str = "send"  # send | edit (add "Also reported by" to target's message) | reply
    target_item: str | None = None  # edit/reply: the story's first item
    story_id: str | None = None


@dataclass(frozen=True)
class RuleSpec:
    """A watch rule as written in config.toml, validated but not yet compiled."""

    name: str
    where: str  # "config.toml line 57": for error messages
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()  # entity names, kinds or weapon categories; all must appear
    supplier: tuple[str, ...] = ()  # any of these as the detector's supplier
    recipient: tuple[str, ...] = ()
    within: int | None = None  # words; None = anywhere in the item
    within_sentence: bool = False
    detector: str | None = None  # "arms_transfer"
    min_score: float = 0.5
    priority: bool = False
    chat_id: str | None = None
    digest: str | None = None  # "hourly" | "daily"


@dataclass(frozen=True)
class StoryRow:
    """A followed story as stored: its event, its MinHash and the sources that joined it."""

    id: str  # the id of the story's first item
    started: float
    supplier: tuple[str, ...] = ()
    recipient: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    weapons: tuple[str, ...] = ()
    status: str | None = None
    minhash: bytes = b""
    sources: tuple[tuple[str, str], ...] = ()  # (source, link) of items that joined
    words: tuple[str, ...] = ()  # the first item's word set, compared exactly


@dataclass(frozen=True)
class EventRow:
    """The detector's reading of one alerted item, as stored for export and reports."""

    item_id: str
    seen_at: float
    published: str | None = None  # ISO 8601 UTC
    source: str = ""
    title: str = ""
    link: str = ""
    supplier: tuple[str, ...] = ()
    recipient: tuple[str, ...] = ()
    weapons: tuple[str, ...] = ()  # names: "Shahed-136", "ballistic missiles"
    categories: tuple[str, ...] = ()  # SIPRI-style: drones, missiles, ...
    status: str | None = None
    rules: tuple[str, ...] = ()
    score: float = 0.0


@dataclass(frozen=True)
class DigestEntry:
    """One item collected for a digest."""

    rule: str
    chat_id: str
    cadence: str  # hourly | daily
    item_id: str
    line: str  # the item's line in the digest, Telegram HTML
    created: float


@dataclass(frozen=True)
class Label:
    """An admin's correction from the channel: label 0 (/wrong) or 1 (/missed) for an item."""

    label: int  # 1: an arms transfer story, 0: not one
    kind: str  # wrong | missed
    user_id: int
    chat_id: str  # where it was said
    created_at: float
    item_id: str | None = None  # the stored item, when there is one
    link: str = ""
    title: str = ""  # empty: not trainable until a headline is given
    summary: str = ""
    username: str = ""
    id: int = 0  # given by the store
