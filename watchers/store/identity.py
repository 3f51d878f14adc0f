"""Item identity: when a feed entry is an item already stored, and when it is a new one.

An item is known by three things together: its guid within its site (the pipeline gives
plain guids the feed's host; an entry without a guid is known by its link, one with
neither by a hash of its title), its canonical link, and its title. A sighting is an
item already stored when

1. its guid and its title are those of a stored item (the link may have moved), or
2. its canonical link and its title are (the same article under a new random guid, in
   another feed, or with tracking parameters: canonical_link dropped those), or
3. its own guid (not merely its link) and its link are those of a stored item and the
   title is a small edit of that item's title: a corrected headline.

Anything else is a new item: items sharing a link but not a title are distinct (a press
release index, a site whose items all link home), a reused guid with another link and
title is a new item (a CMS that numbers its items by position), and a page re-published
under the same guid and link with a new headline is a new item (a live page).

Titles are compared as their words: NFKC, case-folded, punctuation and spacing dropped,
so "Iran's drones" and "IRAN'S  DRONES!" are the same title. A small edit keeps at least
three words in four, in order: difflib's ratio over the two word lists, 2·kept / (words
before + words after), is at least SMALL_EDIT. A typo, a changed figure, "UPDATE:" or an
added clause pass; a live page's new headline, which keeps only its "war live:" prefix,
does not. The rule needs the guid and the link to agree before it looks at a title
edit, so two different stories are confused only when a feed reuses both.

Rules 1 and 2 are exact and looked up by 64-bit keys (a hash of guid or link with the
title's words); rule 3 looks up the stored items with the same guid and link by a third
key and compares their titles. The keys are pure functions of (guid, link, title):
the PostgreSQL store computes the same ones.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from dataclasses import dataclass

SMALL_EDIT = 0.75  # the least share of words kept, in order, for a title edit to be small
_WORD = re.compile(r"\w+")


def title_words(title: str) -> str:
    """A title as its words: NFKC, case-folded, joined by single spaces."""
    if not title.isascii():
        title = unicodedata.normalize("NFKC", title)
    return " ".join(_WORD.findall(title.casefold()))


def small_edit(before: str, after: str) -> bool:
    """Whether one title (as title_words) is the other with a small edit (SMALL_EDIT)."""
    if before == after:
        return True
    a, b = before.split(), after.split()
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return matcher.real_quick_ratio() >= SMALL_EDIT and matcher.ratio() >= SMALL_EDIT


def key(*parts: str) -> int:
    """A 64-bit signed key of some strings (SQLite's integer), stable across versions."""
    data = "\x1f".join(parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


@dataclass(frozen=True)
class Keys:
    """The identity keys of one sighting; None where a part is missing."""

    guid_title: int  # rule 1: guid + title words
    link_title: int | None  # rule 2: link + title words; None without a link
    guid_link: int | None  # rule 3: guid + link; None unless the item has both, distinct
    words: str  # the title's words, for rule 3's comparison


def keys_of(guid: str, link: str, title: str) -> Keys:
    """The identity keys of an item: guid (scoped, or its link, or its title hash), link
    (canonical) and title (as shown)."""
    words = title_words(title)
    return Keys(
        guid_title=key("g", guid, words),
        link_title=key("l", link, words) if link else None,
        guid_link=key("c", guid, link) if link and guid != link else None,
        words=words,
    )
