"""When feeds are polled: adaptive waits, server freshness hints, and due ticks."""

import signal
from pathlib import Path

import pytest

from tests.helpers import boring, rss, start_run, write_config
from tests.test_faults import wait_for
from watchers.config.load import parse_config
from watchers.models import Feed
from watchers.pipeline import Pipeline, poll_tick
from watchers.store.sqlite import FeedState

FEED = Feed("F", "https://example.org/f.xml", interval=600.0)


def pipeline(schedule: str) -> Pipeline:
    config = parse_config(f"[schedule]\n{schedule}\n", Path("c.toml"))
    return Pipeline(config, store=None, rules=None, client=None)  # only timing is used


@pytest.mark.parametrize(
    "schedule,last_wait,fresh_for,expected",
    [
        ("", 0, None, 600),  # not adaptive: the interval
        ('min_interval = "1m"', 0, None, 60),  # adaptive: from the fastest tick
        ('min_interval = "1m"', 60, None, 120),  # quiet: the wait doubles
        ('min_interval = "1m"', 480, None, 600),  # up to the interval
        ("", 0, 3600, 3600),  # the server says it stays fresh an hour
        ("", 0, 10**9, 6 * 3600),  # but never past max_backoff
    ],
)
def test_next_poll_of_a_quiet_feed(schedule, last_wait, fresh_for, expected):
    state = FeedState(url=FEED.url, last_poll=1000.0, next_poll=1000.0 + last_wait)
    assert pipeline(schedule)._next_poll(FEED, state, fresh_for, now=5000.0) == 5000 + expected


@pytest.mark.parametrize(
    "schedule,posted,ttl,expected",
    [
        ('min_interval = "1m"', True, 300.0, 300),  # <ttl>5</ttl>: not polled faster
        ('min_interval = "1m"', True, 3600.0, 600),  # but never past the interval
        ('min_interval = "1m"', True, 0.0, 60),  # no ttl: the fastest tick
        ("", False, 60.0, 600),  # not adaptive: the interval
    ],
)
def test_next_poll_respects_the_feed_ttl(schedule, posted, ttl, expected):
    state = FeedState(url=FEED.url, last_poll=1000.0, next_poll=1060.0, ttl=ttl)
    got = pipeline(schedule)._next_poll(FEED, state, None, now=5000.0, posted=posted)
    assert got == 5000 + expected


def test_tick_and_due():
    adaptive = pipeline('min_interval = "1m"')
    assert poll_tick(FEED, adaptive.config) == 60
    state = FeedState(url=FEED.url, next_poll=1000.0)
    assert adaptive._due(FEED, state, now=975.0)  # within half a tick
    assert not adaptive._due(FEED, state, now=900.0)


def test_cache_control_max_age_is_respected_by_run(tmp_path, feed_server, bot_api, bot_token):
    feed_server.set("/f.xml", rss(boring(2)), headers={"Cache-Control": "max-age=3600"})
    feed_server.set("/g.xml", rss(boring(2)))
    feeds = [("F", feed_server.url("/f.xml")), ("G", feed_server.url("/g.xml"))]
    config = write_config(tmp_path / "c.toml", feeds, bot_api.base_url, interval="1s")
    daemon = start_run(config, bot_token)
    try:
        assert wait_for(lambda: feed_server.hits("/g.xml") >= 4, timeout=20)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
    assert feed_server.hits("/f.xml") == 1
