"""Metrics and /healthz: scraped over HTTP from `bot.py run`, and stalled for real."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import CHAT, keyword_items, rss, write_config
from tests.test_admin import start_run, wait_for
from watchers.config.load import parse_config
from watchers.errors import ConfigError
from watchers.models import Feed
from watchers.ops.metrics import Metrics, MetricsServer
from watchers.pipeline import PollResult
from watchers.telegram.deliver import DeliveryReport

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def scrape(origin: str) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    text = httpx.get(f"{origin}/metrics", timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(origin: str, name: str, **labels: str) -> float:
    return scrape(origin).get((name, tuple(sorted(labels.items()))), 0.0)


def healthz(origin: str) -> int:
    return httpx.get(f"{origin}/healthz", timeout=5).status_code


def test_metrics_move_and_healthz_fails_while_polling_is_stalled(
    tmp_path, feed_server, bot_api, bot_token, free_port
):
    feed_server.set("/f.xml", rss(keyword_items(2)))
    config = write_config(
        tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))], bot_api.base_url, interval="1s"
    )
    text = config.read_text().replace('timeout = "5s"', 'timeout = "1s"')  # stall limit: 3 s
    config.write_text(text + f'\n[metrics]\nlisten = "127.0.0.1:{free_port}"\n')
    origin = f"http://127.0.0.1:{free_port}"
    daemon = start_run(config, bot_token)
    try:
        wait_for(lambda: len(bot_api.messages_for(CHAT)) == 2, timeout=20)
        wait_for(lambda: sample(origin, "armswatch_alerts_sent_total") == 2)
        metrics = scrape(origin)
        assert metrics[("armswatch_polls_total", (("status", "ok"),))] >= 1
        assert metrics[("armswatch_items_new_total", ())] == 2
        assert metrics[("armswatch_alerts_queued_total", ())] == 2
        assert metrics[("armswatch_alerts_failed_total", ())] == 0
        assert metrics[("armswatch_outbox_depth", ())] == 0
        assert metrics[("armswatch_poll_lag_seconds", ())] < 3
        assert healthz(origin) == 200

        # A backup holding the database stalls the first poll that has items to store
        # (unchanged feeds defer their state: they do not wait for the lock).
        holder = sqlite3.connect(tmp_path / "state.db", timeout=0)
        holder.execute("begin exclusive")
        started = time.monotonic()
        feed_server.set("/f.xml", rss(keyword_items(3)))
        try:
            wait_for(lambda: healthz(origin) == 503, timeout=4.3)
            body = httpx.get(f"{origin}/healthz").text
            assert body.startswith("stalled: no poll completed for") and "limit 3s" in body
        finally:
            time.sleep(max(0.0, 4.5 - (time.monotonic() - started)))
            holder.rollback()
            holder.close()
        wait_for(lambda: healthz(origin) == 200, timeout=5)

        ok_polls = sample(origin, "armswatch_polls_total", status="ok")
        feed_server.fail("/f.xml", 500)
        wait_for(lambda: sample(origin, "armswatch_fetch_errors_total", kind="http_500") >= 1)
        assert sample(origin, "armswatch_polls_total", status="error") >= 1
        assert sample(origin, "armswatch_feeds_failing") == 1
        assert sample(origin, "armswatch_polls_total", status="ok") >= ok_polls
        assert healthz(origin) == 200  # a failing feed is not stalled polling
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=10)
        print(daemon.stderr.read())  # shown when the test fails
    assert code == 0
    with pytest.raises(httpx.ConnectError):  # the port is released on stop
        httpx.get(f"{origin}/healthz", timeout=2)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def served(free_port):
    clock = Clock()
    metrics = Metrics(clock)
    server = MetricsServer(metrics, "127.0.0.1", free_port)
    yield metrics, clock, f"http://127.0.0.1:{free_port}"
    server.close()


def test_healthz_follows_the_last_completed_poll(served):
    metrics, clock, origin = served
    assert healthz(origin) == 200  # no feeds: nothing can stall
    metrics.watch_feeds([Feed("a", "http://a/", 600), Feed("b", "http://b/", 60)], 30, 20)
    assert metrics.stall_after == 2 * 60 + 30 + 20
    clock.now += 170
    assert healthz(origin) == 200  # since the start, before the first poll
    clock.now += 1
    assert healthz(origin) == 503
    metrics.record_poll(PollResult("b", "waiting"), 0.0)  # a skipped poll is still alive
    assert healthz(origin) == 200
    clock.now += 171
    assert healthz(origin) == 503
    metrics.watch_feeds([], 30, 20)
    assert healthz(origin) == 200


def test_healthz_fails_while_writes_fail_and_says_why(served):
    metrics, clock, origin = served
    metrics.record_store("s.db: record_items failed: database or disk is full")
    clock.now += 30
    answer = httpx.get(f"{origin}/healthz", timeout=5)
    assert answer.status_code == 503
    assert (
        answer.text
        == "store: writes fail (30s): s.db: record_items failed: database or disk is full\n"
    )
    assert sample(origin, "armswatch_store_writable") == 0
    metrics.record_store(None)
    assert healthz(origin) == 200 and sample(origin, "armswatch_store_writable") == 1


def test_counters_from_poll_results_and_delivery_reports(served):
    metrics, _clock, origin = served
    metrics.record_poll(PollResult("a", "ok", items=5, new=3, alerts=2), 0.4)
    metrics.record_poll(PollResult("b", "error", error="HTTP 503", kind="http_503"), 1.0)
    metrics.record_poll(PollResult("c", "error", error="boom", kind="timeout"), 1.0)
    metrics.record_delivery(DeliveryReport(sent=2, failed=1, waiting=4))
    found = scrape(origin)
    assert found[("armswatch_polls_total", (("status", "ok"),))] == 1
    assert found[("armswatch_polls_total", (("status", "error"),))] == 2
    assert found[("armswatch_fetch_errors_total", (("kind", "http_503"),))] == 1
    assert found[("armswatch_fetch_errors_total", (("kind", "timeout"),))] == 1
    assert found[("armswatch_items_parsed_total", ())] == 5
    assert found[("armswatch_items_new_total", ())] == 3
    assert found[("armswatch_alerts_queued_total", ())] == 2
    assert found[("armswatch_alerts_sent_total", ())] == 2
    assert found[("armswatch_alerts_failed_total", ())] == 1
    assert found[("armswatch_outbox_depth", ())] == 4
    assert found[("armswatch_feeds_failing", ())] == 2
    assert found[("armswatch_poll_duration_seconds_count", ())] == 3
    assert not any(name.startswith("python_") for name, _ in found)  # our registry only


def test_port_in_use_is_a_config_error(served, free_port):
    _metrics, _clock, origin = served
    port = int(origin.rsplit(":", 1)[1])
    with pytest.raises(ConfigError, match=rf"cannot listen on 127.0.0.1:{port}"):
        MetricsServer(Metrics(), "127.0.0.1", port)


@pytest.mark.parametrize(
    "value,listen",
    [
        ('"127.0.0.1:9108"', ("127.0.0.1", 9108)),
        ('"localhost:80"', ("localhost", 80)),
        ('"[::1]:9108"', ("::1", 9108)),
    ],
)
def test_listen_key(value, listen):
    config = parse_config(f"[metrics]\nlisten = {value}\n", Path("c.toml"))
    assert config.metrics_listen == listen


@pytest.mark.parametrize("value", ['"9108"', '"127.0.0.1"', '"127.0.0.1:0"', '"h:70000"', "9108"])
def test_listen_key_rejects(value):
    with pytest.raises(ConfigError, match=r"c.toml line 2: \[metrics\] listen"):
        parse_config(f"[metrics]\nlisten = {value}\n", Path("c.toml"))


def test_metrics_are_off_by_default():
    assert parse_config("", Path("c.toml")).metrics_listen is None


@pytest.mark.parametrize("key", ["[metrics] listen", "[telegram] admins"])
def test_new_keys_are_documented(key):
    assert f"`{key}`" in README
