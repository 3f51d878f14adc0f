"""Two instances filing reports of one story at the same instant on one PostgreSQL: the
story lock makes filing and recording one step, so the story starts once (one alert) and
a source either adds is kept. The race is reproduced deterministically: instance a files
and holds its transaction open while instance b files the same story."""

import threading
import time
from pathlib import Path

import pytest

from tests.stories.test_stories import POLAND
from watchers.config.load import load_config
from watchers.detection.rules import compile_rules
from watchers.dispatch import Dispatcher
from watchers.models import Item
from watchers.store.postgres import open_pg_store
from watchers.stories.merge import StoryBook

NOW = 1_000_000.0
TITLES = [*POLAND, "Poland to send four MiG-29 fighter jets to Ukraine, minister says"]
HOLD = 0.5  # seconds a holds its filing open: b files meanwhile


@pytest.fixture(scope="module")
def config():
    return load_config(Path(__file__).resolve().parents[2] / "config.toml")


@pytest.fixture
def instances(pg_url, config):
    """Two instances' stores and dispatchers (each its own StoryBook) on one database."""
    rules = compile_rules(config)
    stores = [open_pg_store(pg_url, instance=name) for name in ("a", "b")]
    yield [(s, Dispatcher(config, s, rules, StoryBook(config.story_window))) for s in stores]
    for store in stores:
        store.close()


def report(n: int) -> Item:
    return Item(f"p{n}", TITLES[n], source=f"Outlet {n}", link=f"https://o{n}.org/a")


def file_and_record(instance, item: Item, filed: threading.Event | None = None) -> None:
    """What Pipeline._poll does with a new alerting item (filed: set, then held open)."""
    store, dispatch = instance
    with store.filing():
        out = dispatch.alerts_for([item], NOW)
        if filed is not None:
            filed.set()
            time.sleep(HOLD)
        store.record_items(
            f"feed {item.id}", [item], out.alerts, NOW, stories=out.stories, events=out.events
        )


def at_once(first, first_item: Item, second, second_item: Item) -> float:
    """first files and holds; second files meanwhile; how long second waited."""
    filed = threading.Event()
    thread = threading.Thread(target=file_and_record, args=(first, first_item, filed))
    thread.start()
    assert filed.wait(10)
    started = time.monotonic()
    file_and_record(second, second_item)
    waited = time.monotonic() - started
    thread.join()
    return waited


def outbox(store) -> list[tuple[str, str, str | None]]:
    rows = store.query("select item_id, kind, target_item from outbox order by id")
    return [(r["item_id"], r["kind"], r["target_item"]) for r in rows]


def test_two_instances_filing_one_new_story_at_once_start_it_once(instances):
    a, b = instances
    waited = at_once(a, report(0), b, report(1))
    assert waited >= HOLD * 0.8  # b waited for a's commit, then saw a's story
    assert outbox(a[0]) == [("p0", "send", None), ("p1", "edit", "p0")]
    assert a[0].story_sources("p0") == [("Outlet 1", "https://o1.org/a")]
    assert a[0].query("select count(*) as n from stories")[0]["n"] == 1


def test_two_instances_adding_sources_to_one_story_at_once_keep_both(instances):
    a, b = instances
    file_and_record(a, report(0))
    file_and_record(b, report(3))  # b follows the story too (another outlet's report)
    at_once(a, report(1), b, report(2))
    assert [kind for _, kind, _ in outbox(a[0])] == ["send", "edit", "edit", "edit"]
    assert sorted(a[0].story_sources("p0")) == [
        ("Outlet 1", "https://o1.org/a"),
        ("Outlet 2", "https://o2.org/a"),
        ("Outlet 3", "https://o3.org/a"),
    ]


def test_filing_on_sqlite_holds_nothing(tmp_path):
    from watchers.store.sqlite import open_store

    store = open_store(tmp_path / "s.db")
    with store.filing():
        store.lock_stories()
    store.close()
