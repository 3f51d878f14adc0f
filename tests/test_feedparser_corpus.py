"""A slice of feedparser's own test suite, polled end to end: no crash, each refusal named.

tests/data/feedparser/ holds 388 of the 2,248 files of feedparser 6.0.14's tests/
(well-formed and ill-formed feeds, encodings, entities, compression; README.md there
says which). A FeedServer on 127.0.0.1 serves each file with the headers its `Header:`
lines name, as feedparser's own test server does, and the compression/ files with the
Content-Encoding their extension names; one `bot.py once` polls them all. Every file
must poll without a crash; the few that are refused are listed below with the reason
the feeds table must give.
"""

from __future__ import annotations

import contextlib
import io
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

import bot
from tests.helpers import TOKEN_ENV, write_config
from tests.servers import FeedServer

CORPUS = Path(__file__).resolve().parent / "data" / "feedparser"
HEADER = re.compile(rb"^Header:\s+([^:]+):(.+)$", re.MULTILINE)
NOT_A_FEED = "not an RSS or Atom feed (no channel or feed element)"
CDF = "wellformed/cdf/channel_"  # Microsoft's Channel Definition Format (1997), no items
REFUSED = {  # file -> the reason it is refused with; every other file polls ok
    "compression/deflate-not-compressed.z": "corrupt deflate body",
    "compression/gzip-not-compressed.gz": "corrupt gzip body",
    "compression/gzip-struct-error.gz": "corrupt gzip body",
    "illformed/rss_empty_document.xml": f"{NOT_A_FEED}: <unknown>:6:0: no element found",
    **{
        f"{CDF}{name}.xml": NOT_A_FEED
        for name in (
            "abstract_map_description",
            "abstract_map_tagline",
            "href_map_link",
            "href_map_links",
            "lastmod",
            "lastmod_parsed",
            "title",
        )
    },
}
ITEMS = 48  # most files test a channel element; these many entries have a title or summary


def corpus_files() -> list[str]:
    return sorted(
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and p.suffix in (".xml", ".gz", ".z")
    )


def serve(server: FeedServer, raw: FeedServer, name: str) -> str:
    """Serve one file as feedparser's test server would; its URL."""
    body = (CORPUS / name).read_bytes()
    path = "/" + name
    if name.startswith("compression/"):
        coding = "gzip" if name.endswith(".gz") else "deflate"
        raw.set(path, body, "application/xml", headers={"Content-Encoding": coding})
        return raw.url(path)
    headers = {k.decode().strip(): v.decode().strip() for k, v in HEADER.findall(body)}
    content_type = headers.pop("Content-type", "application/xml")
    headers.pop("Status", None)
    server.set(path, body, content_type, headers=headers)
    return server.url(path)


@dataclass
class Polled:
    code: int
    log: str
    states: dict[str, sqlite3.Row]  # the feeds table, by file
    items: int  # stored after the first run
    items_again: int  # after a second run that reads every file again


def once(config: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = bot.main(["--config", str(config), "once", "--wait", "5"])
    return code, err.getvalue()


def count_items(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("select count(*) from items").fetchone()[0]


@pytest.fixture(scope="module")
def polled(tmp_path_factory) -> Polled:
    """One `once` over every file, then one more that reads every file again, as if no
    server had sent validators and every body had changed."""
    tmp = tmp_path_factory.mktemp("feedparser")
    with FeedServer() as server, FeedServer() as raw, pytest.MonkeyPatch.context() as mp:
        raw.gzip = False
        mp.delenv(TOKEN_ENV, raising=False)  # alerts, if any, go to the terminal
        feeds = [(name, serve(server, raw, name)) for name in corpus_files()]
        config = write_config(tmp / "c.toml", feeds, fetch="concurrency = 64\nper_host = 400")
        code, log = once(config)
        items = count_items(tmp / "state.db")
        with sqlite3.connect(tmp / "state.db") as db:
            db.execute("update feeds set etag = '', last_modified = '', body_hash = ''")
        code_again, log_again = once(config)
        assert not server.errors and not raw.errors
    db = sqlite3.connect(tmp / "state.db")
    db.row_factory = sqlite3.Row
    states = {row["name"]: row for row in db.execute("select * from feeds")}
    db.close()
    return Polled(
        max(code, code_again), log + log_again, states, items, count_items(tmp / "state.db")
    )


def test_the_slice_is_what_the_readme_says():
    assert len(corpus_files()) == 388
    assert "Redistribution and use in source and binary forms" in (CORPUS / "LICENSE").read_text()


def test_every_file_polls_without_a_crash(polled):
    assert polled.code == 0, polled.log[-3000:]
    assert "Traceback" not in polled.log and "poll_crashed" not in polled.log
    assert set(polled.states) == set(corpus_files())  # each one polled and recorded
    assert polled.items == ITEMS


def test_every_entry_is_known_when_read_again(polled):
    assert polled.items_again == polled.items


def test_each_refusal_is_named(polled):
    states = polled.states
    refused = {name: row["error"] for name, row in states.items() if row["status"] != "ok"}
    assert refused.keys() == REFUSED.keys(), refused
    for name, reason in REFUSED.items():
        assert reason in refused[name]
