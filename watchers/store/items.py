"""Which feed entries are stored items: the rules of identity.py applied through a
store's lookups, the same for SQLite and PostgreSQL (each store supplies the reads)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from watchers.models import Item
from watchers.store.identity import Keys, key, keys_of, small_edit

EDITS_COMPARED = 20  # rule 3 compares a title with the latest this many of its guid and link


class Lookups(Protocol):
    """The reads the rules need; a store's, inside its error guard."""

    def _found(self, column: str, values: list[int]) -> set[int]: ...
    def _titles_by_guid_link(self, ckeys: list[int]) -> dict[int, list[str]]: ...
    def _titles_by_id(self, ids: list[str]) -> dict[str, str]: ...
    def _taken_ids(self, ids: list[str]) -> set[str]: ...


def known_sightings(store: Lookups, sightings: Sequence[tuple[str, str, str]]) -> set[int]:
    """Indexes of the (feed id, link, title) sightings that are stored items by the exact
    rules. Most entries of a changed feed were stored under their own feed id with the
    very same title: one read of those titles finds them, without keys."""
    stored = store._titles_by_id([feed_id for feed_id, _, _ in sightings])
    found = {i for i, (feed_id, _, title) in enumerate(sightings) if stored.get(feed_id) == title}
    rest = {i: keys_of(*s) for i, s in enumerate(sightings) if i not in found}
    by_guid, by_link = stored_keys(store, list(rest.values()))
    return found | {
        i for i, k in rest.items() if k.guid_title in by_guid or k.link_title in by_link
    }


def unseen_items(store: Lookups, items: Sequence[Item]) -> list[Item]:
    """The items that are no stored item nor an earlier one of the batch, in order, each
    with an id no stored item has."""
    if not items:
        return []
    keyed = [(item, keys_of(item.feed_id or item.id, item.link, item.title)) for item in items]
    by_guid, by_link = stored_keys(store, [k for _, k in keyed])
    titles = store._titles_by_guid_link(
        [
            k.guid_link
            for _, k in keyed
            if k.guid_link is not None
            and k.guid_title not in by_guid
            and k.link_title not in by_link
        ]
    )
    new = []
    for item, k in keyed:
        if k.guid_title in by_guid or k.link_title in by_link:
            continue  # rules 1 and 2
        earlier = titles.get(k.guid_link, []) if k.guid_link is not None else []
        if any(small_edit(words, k.words) for words in earlier):
            continue  # rule 3: a corrected title
        by_guid.add(k.guid_title)
        if k.link_title is not None:
            by_link.add(k.link_title)
        if k.guid_link is not None:
            titles[k.guid_link] = [*earlier, k.words]
        new.append(item)
    return unique_ids(store, new)


def stored_keys(store: Lookups, keys: Sequence[Keys]) -> tuple[set[int], set[int]]:
    """The rule 1 and rule 2 keys among these that stored items have."""
    by_guid = store._found("gkey", [k.guid_title for k in keys])
    by_link = store._found("lkey", [k.link_title for k in keys if k.link_title is not None])
    return by_guid, by_link


def unique_ids(store: Lookups, items: list[Item]) -> list[Item]:
    """The items, each one whose id a stored item (or an earlier one) has given an id of
    its own: the feed id, '#', a hash of its title."""
    taken = store._taken_ids([item.id for item in items])
    out = []
    for item in items:
        if item.id in taken:
            feed_id = item.feed_id or item.id
            unique = f"{feed_id}#{key(feed_id, item.title) & (2**48 - 1):012x}"
            while unique in taken or store._taken_ids([unique]):
                unique += "+"
            item = replace(item, id=unique, feed_id=feed_id)
        taken.add(item.id)
        out.append(item)
    return out
