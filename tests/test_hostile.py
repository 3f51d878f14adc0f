"""Hostile and broken feeds, each survived for real: one `bot.py once` run over all of them.

Every case below is a feed in ONE config next to a good feed carrying the seed article;
FeedServers on 127.0.0.1 (and a raw socket server for what HTTP servers cannot do) serve
the faults, the fake Bot API receives the alerts. The run happens twice (module fixture);
each case then checks its row in the feeds table, its alerts and what was logged. The
files are in tests/data/hostile/ (README.md there says what each one is).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import re
import socket
import socketserver
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

import bot
from tests.helpers import TOKEN_ENV, boring, rss, run_bot, seed_item, write_config
from tests.servers import FakeBotAPI, FeedServer, SentMessage, free_port, parse_telegram_html
from watchers.feeds.parse import parse_feed

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = Path(__file__).resolve().parent / "data" / "hostile"
TOKEN = "987654:HOSTILE-token-Zx9"
KEYWORD = "armswatch-test-keyword"
RU = "Россия получила иранские ракеты"
MAX_BYTES = 1_000_000
RSS = "application/rss+xml"
HREF = re.compile(r'href="([^"]*)"')


# ----------------------------------------------------------------- a raw socket server


class RawServer:
    """Answers each path with raw bytes written by a function: what http.server cannot do."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[socket.socket, threading.Event], None]] = {}
        self.stopping = threading.Event()
        routes, stopping = self.routes, self.stopping

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    data = self.request.recv(4096)
                    if not data:
                        return
                    head += data
                path = head.split(b" ", 2)[1].decode()
                with contextlib.suppress(OSError):
                    routes[path](self.request, stopping)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def endless(sock: socket.socket, stopping: threading.Event) -> None:
    """200 with a chunked body that never ends."""
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n")
    sock.sendall(b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"<item><title>more</title></item>" * 2000
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    sock.sendall(b"5\r\n<rss>\r\n")
    while not stopping.is_set():
        sock.sendall(frame)


def short_body(sock: socket.socket, stopping: threading.Event) -> None:
    """Content-Length 5000, then 100 bytes and a closed connection."""
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n")
    sock.sendall(b"Content-Length: 5000\r\n\r\n" + b"<rss>" + b" " * 95)


def not_http(sock: socket.socket, stopping: threading.Event) -> None:
    """Something that is not HTTP at all answers."""
    sock.sendall(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n")


def huge_header(sock: socket.socket, stopping: threading.Event) -> None:
    """A 200 whose header block never fits in memory limits (200 KB of one header)."""
    sock.sendall(b"HTTP/1.1 200 OK\r\nX-Junk: " + b"a" * 200_000 + b"\r\n\r\n<rss/>")


# ----------------------------------------------------------------------------- cases


@dataclass
class Lab:
    """The servers a case can set itself up on."""

    feeds: FeedServer  # gzip like a real server
    raw: FeedServer  # sends bodies as given (for bombs and 50 MB)
    sock: RawServer
    refused_port: int


@dataclass(frozen=True)
class Case:
    name: str
    serve: Callable[[Lab], str]  # sets the fault up, returns the feed's URL
    status: str = "ok"  # the feeds table's status after the runs: ok | error | gone
    error: str = ""  # a fragment of the feeds table's error
    alerts: tuple[str, ...] = ()  # a fragment of each alert's text, one per alert
    items: int | None = None  # items stored from the feed, when it matters
    retry_after: float = 0.0  # back-off the feed must be given at least


def corpus(file: str, content_type: str = RSS) -> Callable[[Lab], str]:
    def serve(lab: Lab) -> str:
        lab.feeds.set_file(f"/c/{file}", HOSTILE / file, content_type=content_type)
        return lab.feeds.url(f"/c/{file}")

    return serve


def served(
    path: str, body: bytes | Callable[[], bytes], raw: bool = False, **kwargs
) -> Callable[[Lab], str]:
    """Serve a body (or what a function makes, when the run starts) at path."""

    def serve(lab: Lab) -> str:
        server = lab.raw if raw else lab.feeds
        server.set(path, body() if callable(body) else body, **kwargs)
        return server.url(path)

    return serve


def failing(path: str, status: int, headers: dict | None = None) -> Callable[[Lab], str]:
    """Serve an error; a header value may be a function, called when the lab starts."""

    def serve(lab: Lab) -> str:
        lab.feeds.set(path, rss([{"guid": path, "title": f"{path} {KEYWORD}"}]))
        values = {k: v() if callable(v) else v for k, v in (headers or {}).items()}
        lab.feeds.fail(path, status, headers=values or None)
        return lab.feeds.url(path)

    return serve


def with_server(setup: Callable[[FeedServer], str]) -> Callable[[Lab], str]:
    return lambda lab: setup(lab.feeds)


def redirect_loop(server: FeedServer) -> str:
    server.redirect("/loop-a.xml", "/loop-b.xml", 302)
    server.redirect("/loop-b.xml", "/loop-a.xml", 302)
    return server.url("/loop-a.xml")


def moved(server: FeedServer) -> str:
    server.set("/new-home.xml", rss([{"guid": "moved-1", "title": f"Moved feed {KEYWORD}"}]))
    server.redirect("/old-home.xml", "/new-home.xml", 301)
    return server.url("/old-home.xml")


def drip(server: FeedServer) -> str:
    server.set("/drip.xml", rss(boring(3)))
    server.drip("/drip.xml", 1)
    return server.url("/drip.xml")


def slow_headers(server: FeedServer) -> str:
    server.set("/slow.xml", rss(boring(3)))
    server.delay("/slow.xml", 30)
    return server.url("/slow.xml")


def many_items(n: int) -> bytes:
    """n short dated items that match no rule (ids from their titles), under the byte cap."""
    now = format_datetime(datetime.now(UTC))
    items = "".join(
        f"<item><title>Park {i}</title><pubDate>{now}</pubDate></item>" for i in range(n)
    )
    return f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def retry_date(hours: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(hours=hours), usegmt=True)


def gzip_bomb() -> bytes:
    """50 MB of zeros in 50 KB of gzip."""
    return gzip.compress(b"\0" * 50_000_000, compresslevel=1)


def nested_bomb() -> bytes:
    """20 MB of zeros gzipped twice: a few hundred bytes."""
    return gzip.compress(gzip.compress(b"\0" * 20_000_000, compresslevel=1))


def big_body() -> bytes:
    return b"<rss>" + b" " * 50_000_000 + b"</rss>"


CASES = [
    # the corpus: encodings
    Case("truncated", corpus("truncated.xml"), alerts=("First whole item", "Second whole item")),
    Case("cp1251", corpus("cp1251.xml"), alerts=(RU,)),
    Case(
        "cp1251-header",
        corpus("cp1251-header-charset.xml", "text/xml; charset=windows-1251"),
        alerts=(RU,),
    ),
    Case("cp1251-undeclared", corpus("cp1251-undeclared.xml"), alerts=(RU,)),
    Case("cp1251-declared-utf8", corpus("cp1251-declared-utf8.xml"), alerts=(RU,)),
    Case("koi8r-undeclared", corpus("koi8r-undeclared.xml", "text/xml"), alerts=(RU,)),
    Case("utf8-declared-latin1", corpus("utf8-declared-latin1.xml"), alerts=(RU,)),
    Case("utf16-bom", corpus("utf16-bom.xml", f"{RSS}; charset=utf-8"), alerts=(RU,)),
    Case("utf16be", corpus("utf16be-nobom.xml", "application/xml; charset=utf-16be"), alerts=(RU,)),
    Case("bom-whitespace", corpus("utf8-bom-whitespace.xml"), alerts=("Leading BOM",)),
    # the corpus: not a feed, XML attacks
    Case("html-page", corpus("html-page.html", "text/html"), "error", "not an RSS or Atom feed"),
    Case(
        "billion-laughs",
        corpus("billion-laughs.xml"),
        alerts=("Laughs &lol9;", "Plain item after the bomb"),
    ),
    Case("xxe", corpus("xxe.xml"), alerts=("Leak [&xxe;]",)),
    # the corpus: formats
    Case("rss10-rdf", corpus("rss10.rdf", "application/rdf+xml"), alerts=("RSS 1.0 item",)),
    Case("atom-xhtml", corpus("atom-xhtml.xml"), alerts=("XHTML bold title", "HTML escaped title")),
    Case("cdata", corpus("cdata.xml"), alerts=("CDATA title with tags & ampersand",)),
    Case("namespaces", corpus("namespaces.xml"), alerts=("Namespaced item",)),
    # the corpus: items
    Case("no-guid-no-link", corpus("no-guid-no-link.xml"), alerts=("neither guid", "Another item")),
    Case(
        "duplicate-guids", corpus("duplicate-guids.xml"), alerts=("Same guid, version 1",), items=1
    ),
    Case("dates", corpus("dates.xml"), alerts=("Dated in the year 2999",), items=3),
    Case(
        "injection",
        corpus("injection.xml"),
        alerts=(
            "<script>alert(1)</script>Script",
            "Link in title",
            "Data link",
            "Quote",
            "Entities",
        ),
    ),
    Case(
        "control-rtl-long",
        corpus("control-rtl-long.xml"),
        alerts=("Bell escape[31m null-ish control", "RTL evil.exe and marks", "Long Long"),
    ),
    Case("undefined-entities", corpus("undefined-entities.xml"), alerts=("Café talks — …",)),
    Case("empty-channel", corpus("empty-channel.xml"), items=0),
    # generated: bodies
    Case("empty-200", served("/empty.xml", b""), "error", "the body is empty"),
    Case(
        "binary-garbage",
        served("/garbage.xml", bytes(range(256)) * 40),
        "error",
        "not an RSS or Atom feed",
    ),
    Case(
        "served-as-html",
        served(
            "/as-html.xml",
            rss([{"guid": "as-html", "title": f"As html {KEYWORD}"}]),
            content_type="text/html",
        ),
        alerts=("As html",),
    ),
    Case("10000-items", served("/many.xml", many_items(10_000)), items=10_000),
    Case("50mb-body", served("/big.xml", big_body, raw=True), "error", "byte cap"),
    Case("endless-stream", lambda lab: lab.sock.url("/endless"), "error", "byte cap"),
    Case(
        "gzip-bomb",
        served("/bomb.xml", gzip_bomb, raw=True, headers={"Content-Encoding": "gzip"}),
        "error",
        "byte cap",
    ),
    Case(
        "nested-gzip-bomb",
        served("/bomb2.xml", nested_bomb, raw=True, headers={"Content-Encoding": "gzip, gzip"}),
        "error",
        "unsupported Content-Encoding",
    ),
    Case(
        "corrupt-gzip",
        served(
            "/corrupt.xml", b"\x1f\x8b not gzip", raw=True, headers={"Content-Encoding": "gzip"}
        ),
        "error",
        "corrupt gzip",
    ),
    # generated: HTTP
    Case("redirect-loop", with_server(redirect_loop), "error", "too many redirects"),
    Case(
        "redirect-to-file",
        served("/to-file.xml", b"", status=302, headers={"Location": "file:///etc/passwd"}),
        "error",
        "not http(s)",
    ),
    Case("permanent-redirect", with_server(moved), alerts=("Moved feed",)),
    Case("drip-1-byte-per-s", with_server(drip), "error", "no complete answer within 2s"),
    Case("slow-headers", with_server(slow_headers), "error", "no complete answer within 2s"),
    Case("http-404", failing("/404.xml", 404), "error", "HTTP 404"),
    Case("http-410", failing("/410.xml", 410), "gone", "410 Gone"),
    Case("http-500", failing("/500.xml", 500), "error", "HTTP 500"),
    Case(
        "http-503-retry-after",
        failing("/503.xml", 503, {"Retry-After": "3600"}),
        "error",
        "HTTP 503",
        retry_after=3600,
    ),
    Case(
        "http-429-retry-date",
        # the date is taken when served: taken at collection, a long suite ran it down
        failing("/429.xml", 429, {"Retry-After": lambda: retry_date(2)}),
        "error",
        "HTTP 429",
        retry_after=7000,
    ),
    # generated: connections
    Case(
        "connection-refused",
        lambda lab: f"http://127.0.0.1:{lab.refused_port}/f.xml",
        "error",
        "cannot connect to 127.0.0.1",
    ),
    Case("connection-reset", lambda lab: _reset(lab.feeds), "error", "connection"),
    Case(
        "https-to-plain-http",
        lambda lab: lab.feeds.url("/tls.xml").replace("http:", "https:"),
        "error",
        "SSL",
    ),
    Case("short-body", lambda lab: lab.sock.url("/short"), "error", "cut short"),
    Case("not-http", lambda lab: lab.sock.url("/not-http"), "error", "not a valid HTTP answer"),
    Case("huge-header", lambda lab: lab.sock.url("/huge-header"), "error", "not a valid HTTP"),
]


def _reset(server: FeedServer) -> str:
    server.set("/reset.xml", rss(boring(1)))
    server.reset("/reset.xml")
    return server.url("/reset.xml")


# ------------------------------------------------------------------------ the two runs


@dataclass
class Run:
    codes: list[int]
    seconds: list[float]
    err: str
    out: str
    config: Path
    urls: dict[str, str]
    states: dict[str, sqlite3.Row] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)
    api: FakeBotAPI | None = None

    def messages_of(self, feed: str) -> list[SentMessage]:
        """The messages whose source line names this feed."""
        assert self.api is not None
        return [
            m
            for m in self.api.messages
            if any(line == feed or line.startswith(f"{feed} · ") for line in m.plain.split("\n"))
        ]

    def alerts_of(self, feed: str) -> list[str]:
        """Plain texts of the messages from this feed."""
        return [m.plain for m in self.messages_of(feed)]


def hostile_config(path: Path, feeds: list[tuple[str, str]], api: str) -> Path:
    """The e2e config with small caps, fast pacing and a backfill that covers the corpus."""
    write_config(path, feeds, api)
    text = path.read_text()
    changes = {
        'backfill = "24h"': 'backfill = "36500d"',
        'timeout = "5s"\n': f'timeout = "2s"\nmax_bytes = {MAX_BYTES}\nconcurrency = 64\n',
        'send_timeout = "3s"\n': 'send_timeout = "3s"\nper_minute = 6000\n',
    }
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    # Each case is checked by its own alerts: no story merging across the corpus.
    path.write_text(text + "\n[stories]\nmerge = false\n")
    return path


def run_once(config: Path) -> tuple[int, float, str, str]:
    err, out = io.StringIO(), io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = bot.main(["--config", str(config), "once", "--wait", "10"])
    return code, time.monotonic() - started, err.getvalue(), out.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("hostile")
    sock = RawServer()
    sock.routes.update(
        {
            "/endless": endless,
            "/short": short_body,
            "/not-http": not_http,
            "/huge-header": huge_header,
        }
    )
    with FeedServer() as feeds, FeedServer() as raw, FakeBotAPI(TOKEN) as api:
        raw.gzip = False
        lab = Lab(feeds, raw, sock, free_port())
        urls = {case.name: case.serve(lab) for case in CASES}
        feeds.set("/good.xml", rss([seed_item()]))
        urls["good"] = feeds.url("/good.xml")
        config = hostile_config(tmp / "c.toml", list(urls.items()), api.base_url)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(TOKEN_ENV, TOKEN)
            results = [run_once(config) for _ in range(2)]
        result = Run(
            codes=[r[0] for r in results],
            seconds=[r[1] for r in results],
            err="".join(r[2] for r in results),
            out="".join(r[3] for r in results),
            config=config,
            urls=urls,
            api=api,
        )
        db = sqlite3.connect(tmp / "state.db")
        db.row_factory = sqlite3.Row
        result.states = {row["name"]: row for row in db.execute("select * from feeds")}
        counts = db.execute("select feed, count(*) from items group by feed")
        result.items = dict(counts.fetchall())
        db.close()
        yield result
        assert not feeds.errors and not raw.errors and not api.errors
    sock.stop()


# ------------------------------------------------------------------------------ tests


def test_the_process_lives_and_the_good_feed_is_unaffected(run):
    assert run.codes == [0, 0], run.err[-3000:]
    assert "Traceback" not in run.err and "poll_crashed" not in run.err
    (alert,) = run.alerts_of("good")
    assert "🇮🇷 Iran → 🇷🇺 Russia" in alert and seed_item()["title"] in alert
    assert run.states["good"]["status"] in ("ok", "not_modified")


def test_a_run_is_bounded_by_the_deadline_not_by_the_worst_feed(run):
    # drip, slow headers and the endless stream all end at the 2 s deadline in parallel
    assert max(run.seconds) < 10, run.seconds


def test_every_alert_is_valid_telegram_html_with_http_links_only(run):
    assert run.api is not None
    sends = [c for c in run.api.calls if c.method.lower() == "sendmessage"]
    assert sends and all(c.status == 200 for c in sends), [c.description for c in sends]
    for message in run.api.messages:
        parse_telegram_html(message.text)  # what the fake already enforced, once more
        assert "<script" not in message.text.lower()
        assert all(h.startswith(("http://", "https://")) for h in HREF.findall(message.text))
        for entity in message.entities:
            if entity["type"] == "text_link":
                assert entity["url"].startswith(("http://", "https://")), entity
        assert not any(ch in message.plain for ch in "\x00\x01\x07\x1b\u202e\u202c")
        assert len(message.plain) <= 4096


def test_no_file_content_leaks(run):
    passwd = Path("/etc/passwd").read_text().splitlines()[0]
    db = (run.config.parent / "state.db").read_bytes()
    assert passwd.encode() not in db
    assert run.api is not None
    assert not any(passwd in m.plain for m in run.api.messages)


def test_each_failure_is_logged_once_over_two_runs(run):
    for case in CASES:
        logged = run.err.count(f"event=feed_failed feed={case.name} ")
        assert logged == (0 if case.status == "ok" else 1), (case.name, logged)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_feed(run, case):
    state = run.states[case.name]
    assert state["status"] in ({case.status} | ({"unchanged", "not_modified"} - {"error"}))
    if case.status == "ok":
        assert state["status"] in ("ok", "unchanged", "not_modified"), state["error"]
        assert state["error"] == ""
    else:
        assert state["status"] == case.status
        assert case.error in state["error"], state["error"]
    if case.retry_after:
        assert state["next_poll"] - state["last_poll"] >= case.retry_after
    alerts = run.alerts_of(case.name)
    assert len(alerts) == len(case.alerts), alerts
    for fragment in case.alerts:
        assert any(fragment in alert for alert in alerts), (fragment, alerts)
    if case.items is not None:
        assert run.items.get(case.name, 0) == case.items


def test_10000_items_parse_in_a_second_or_two():
    body = many_items(10_000)
    started = time.process_time()  # CPU, not wall: other processes on the machine don't count
    items = parse_feed(body, "many", {"content-type": RSS})
    assert len(items) == 10_000 and len(body) < MAX_BYTES
    assert time.process_time() - started < 3


def test_future_dates_are_clamped_to_fetch_time(run):
    (alert,) = run.alerts_of("dates")
    assert "2999" not in alert.split("\n")[-2]  # the source line shows when, not 2999
    assert datetime.now(UTC).strftime("%Y-%m-%d") in alert


def test_links_without_http_scheme_are_dropped(run):
    hrefs = [h for m in run.messages_of("injection") for h in HREF.findall(m.text)]
    assert hrefs == [
        "https://hostile.example.org/inj/4?q=%22%3E%3Cscript%3Ealert%285%29%3C%2Fscript%3E"
    ]


# --------------------------------------------------------------------------- security


def test_the_token_never_appears_in_logs_db_or_check_output(run):
    check = run_bot(
        "--config", str(run.config), "-v", "check", env={**os.environ, TOKEN_ENV: TOKEN}
    )
    assert check.returncode == 0, check.stderr
    files = [p.read_bytes() for p in run.config.parent.iterdir() if p.name.startswith("state.db")]
    for where, text in [
        ("log", run.err + run.out),
        ("check", check.stdout + check.stderr),
        *((f"db file {i}", data.decode("latin-1")) for i, data in enumerate(files)),
    ]:
        assert TOKEN not in text, where
        assert TOKEN.split(":")[1] not in text, where


def test_a_failing_bot_api_does_not_leak_the_token(tmp_path, feed_server, bot_api, bot_token):
    from tests.servers import Fault

    feed_server.set("/f.xml", rss([seed_item()]))
    config = write_config(tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))], bot_api.base_url)
    bot_api.queue_errors(Fault.error(502), Fault.error(400), method="sendMessage")
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err):
        mp.setenv(TOKEN_ENV, bot_token)
        code = bot.main(["--config", str(config), "-v", "once", "--wait", "5"])
    assert code == 0 and "event=alert_rejected" in err.getvalue()
    db = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("state.db"))
    assert bot_token not in err.getvalue() and bot_token.encode() not in db
    assert bot_token.split(":")[1] not in err.getvalue()


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "/etc/passwd", "ftp://127.0.0.1/f.xml", "gopher://x/1"]
)
def test_check_rejects_feed_urls_that_are_not_http(tmp_path, url):
    config = write_config(tmp_path / "c.toml", [("Local", url)])
    done = run_bot("--config", str(config), "check")
    assert done.returncode == 1
    assert "http(s) URL" in done.stderr and "Traceback" not in done.stderr
