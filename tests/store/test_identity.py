"""Item identity on a real SQLite file: which sightings are stored items (store/identity.py).

The end-to-end table (real feeds through `bot.py once`) is tests/test_identity.py; this
one pins the rule itself, item by item, and the title comparison it rests on.
"""

import sqlite3

import pytest

from watchers.errors import StoreError
from watchers.models import Item
from watchers.store.identity import keys_of, small_edit, title_words
from watchers.store.sqlite import open_store
from watchers.store.tables import SCHEMA_VERSION

HOME = "https://press.example.org/"
A = "https://news.example.org/a"
B = "https://news.example.org/b"


@pytest.mark.parametrize(
    "title,words",
    [
        ("Iran's drones", "iran s drones"),
        ("IRAN'S  DRONES!", "iran s drones"),
        ("Su-35 jets — “delivered”", "su 35 jets delivered"),
        ("Ｓｕ－３５", "su 35"),  # full-width forms (NFKC)
        ("Россия получила ракеты", "россия получила ракеты"),
    ],
)
def test_titles_are_compared_as_their_words(title, words):
    assert title_words(title) == words


@pytest.mark.parametrize(
    "before,after,small",
    [
        ("Germany to send Leopard tanls to Ukraine", "Germany to send Leopard tanks to Ukraine", 1),
        ("Poland to send 14 Leopard tanks to Kyiv", "Poland to send 10 Leopard tanks to Kyiv", 1),
        ("Iran sends drones to Russia", "UPDATE: Iran sends drones to Russia", 1),
        ("Iran sends drones to Russia", "Iran sends drones to Russia, officials say", 1),
        ("Zelensky thanks Biden for Patriot", "Zelenskyy thanks Biden for Patriot", 1),
        ("Same guid, version 1 armswatch", "Same guid, version 2 armswatch", 1),
        ("Ukraine war live: Patriots arrive in Kyiv", "Ukraine war live: drones hit Odesa port", 0),
        ("Germany approves tanks", "Germany approves tanks for Taiwan after talks", 0),
        ("US approves $1bn arms sale to Taiwan", "North Korea ships shells to Russia", 0),
    ],
)
def test_a_small_edit_keeps_three_words_in_four(before, after, small):
    assert small_edit(title_words(before), title_words(after)) is bool(small)
    assert small_edit(title_words(after), title_words(before)) is bool(small)


def test_keys_need_an_own_guid_for_the_correction_rule():
    assert keys_of("g1", A, "T").guid_link is not None
    assert keys_of(A, A, "T").guid_link is None  # no guid of its own: the link stands in
    assert keys_of("g1", "", "T").guid_link is None and keys_of("g1", "", "T").link_title is None
    assert keys_of("g1", A, "A title").guid_title == keys_of("g1", B, "A TITLE!").guid_title


# (name, stored items, later items, titles of the later items that are new)
CASES = [
    (
        "distinct items sharing a link are distinct",
        [Item("p1", "Germany approves Leopard exports", link=HOME)],
        [Item("p2", "Iran delivers drones to Russia", link=HOME)],
        ["Iran delivers drones to Russia"],
    ),
    (
        "a reused guid with another link and title is a new item",
        [Item("1", "Germany approves Leopard exports", link=A)],
        [Item("1", "Iran delivers drones to Russia", link=B)],
        ["Iran delivers drones to Russia"],
    ),
    (
        "the same article in two feeds (link and title) is one item",
        [Item("site-a/77", "Iran delivers drones to Russia", link=A)],
        [Item("site-b/12", "Iran delivers drones to Russia", link=A)],
        [],
    ),
    (
        "a live page re-published with a new headline is a new item",
        [Item(A, "Ukraine war live: Patriots arrive in Kyiv", link=A)],
        [Item(A, "Ukraine war live: drones hit Odesa port", link=A)],
        ["Ukraine war live: drones hit Odesa port"],
    ),
    (
        "a live page with a guid of its own and a new headline is a new item",
        [Item("live-1", "Ukraine war live: Patriots arrive in Kyiv", link=A)],
        [Item("live-1", "Ukraine war live: drones hit Odesa port", link=A)],
        ["Ukraine war live: drones hit Odesa port"],
    ),
    (
        "a corrected title (same guid and link, small edit) is the same item",
        [Item("g1", "Germany to send Leopard tanls to Ukraine", link=A)],
        [Item("g1", "Germany to send Leopard tanks to Ukraine", link=A)],
        [],
    ),
    (
        "a corrected title without a guid is a new item (the link alone vouches for less)",
        [Item(A, "Germany to send Leopard tanls to Ukraine", link=A)],
        [Item(A, "Germany to send Leopard tanks to Ukraine", link=A)],
        ["Germany to send Leopard tanks to Ukraine"],
    ),
    (
        "the same article under a new random guid is the same item",
        [Item("rnd-1", "Iran delivers drones to Russia", link=A)],
        [Item("rnd-2", "Iran delivers drones to Russia", link=A)],
        [],
    ),
    (
        "the same guid and title under a moved link is the same item",
        [Item("g1", "Iran delivers drones to Russia", link=A)],
        [Item("g1", "Iran delivers drones to Russia", link=B)],
        [],
    ),
    (
        "titles differing only in case and punctuation are one title",
        [Item("rnd-1", "Iran delivers drones to Russia", link=A)],
        [Item("rnd-2", "IRAN DELIVERS DRONES TO RUSSIA!", link=A)],
        [],
    ),
    (
        "no guid, no link: the title is the item",
        [Item("host/sha1:1", "Iran delivers drones to Russia")],
        [Item("host/sha1:1", "Iran delivers drones to Russia")],
        [],
    ),
    (
        "items of one batch sharing a guid and link with small edits are one item",
        [],
        [
            Item("dup-1", "Same guid, version 1 armswatch", link=A),
            Item("dup-1", "Same guid, version 2 armswatch", link=A),
        ],
        ["Same guid, version 1 armswatch"],
    ),
    (
        "items of one batch sharing a link, not a title, are distinct",
        [],
        [Item("p1", "Leopard exports approved", link=HOME), Item("p2", "Drones sold", link=HOME)],
        ["Leopard exports approved", "Drones sold"],
    ),
]


@pytest.mark.parametrize("name,stored,later,new", CASES, ids=[c[0] for c in CASES])
def test_identity(tmp_path, name, stored, later, new):
    store = open_store(tmp_path / "s.db")
    try:
        store.record_items("f", store.unseen(stored), [], now=1.0)
        found = store.unseen(later)
        assert [i.title for i in found] == new
        store.record_items("f", found, [], now=2.0)
        assert store.unseen(later) == []  # and once stored, they are known
        ids = [row[0] for row in store.db.conn.execute("select id from items")]
        assert len(ids) == len(set(ids)) == len(stored) + len(new)
    finally:
        store.close()


def test_the_scan_knows_exactly_what_is_stored(tmp_path):
    store = open_store(tmp_path / "s.db")
    store.record_items("f", [Item("g1", "Iran delivers drones", link=A)], [], now=1.0)
    sightings = [
        ("g1", A, "Iran delivers drones"),
        ("g9", A, "Iran delivers drones"),  # link and title
        ("g1", B, "Iran delivers drones"),  # guid and title
        ("g1", A, "Iran delivers drone"),  # maybe a correction: unseen() decides
        ("g2", B, "Other"),
    ]
    assert store.known(sightings) == {0, 1, 2}
    store.close()


def test_a_database_of_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "new.db"
    open_store(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"pragma user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="made by a newer armswatch"):
        open_store(path)
