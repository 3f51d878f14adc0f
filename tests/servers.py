"""Real HTTP servers on 127.0.0.1 that the test suite talks to.

FeedServer   serves feeds with ETag/Last-Modified/gzip and injected faults per path.
FakeBotAPI   speaks the Telegram Bot API (the subset armswatch uses) to a real
             ``telegram.Bot(token, base_url=api.base_url)``.

Both run a ThreadingHTTPServer in a daemon thread, start on a random free port, keep
that port across ``stop()``/``start()``, and collect exceptions raised inside their
handlers in ``.errors`` (the conftest fixtures fail the test when it is not empty).

Where the fake is deliberately stricter than Telegram (checked against tdlib's HTML
parser): a bare ``&`` or an unknown named entity like ``&nbsp;`` is a 400 here
(``strict_html = False`` gives Telegram's behaviour: kept literally), and text length
is counted in UTF-16 code units, the larger of the two plausible counts.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import email.utils
import gzip
import hashlib
import json
import math
import re
import socket
import struct
import sys
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

__all__ = ["ApiCall", "FakeBotAPI", "Fault", "FeedServer", "FeedRequest", "SentMessage"]
__all__ += ["free_port", "parse_telegram_html", "HtmlParseError"]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- plumbing


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # the default 5 drops SYNs under load: 1 s client stalls

    def __init__(self, port: int, owner: _LocalServer) -> None:
        self.owner = owner
        self.conns: set[socket.socket] = set()
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away; keep anything else for the test to see."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            self.owner.errors.append(f"{type(exc).__name__}: {exc}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms stalls
        with self.server.owner.lock:
            self.server.conns.add(self.connection)

    def finish(self) -> None:
        with self.server.owner.lock:
            self.server.conns.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.server.owner.handle(self)

    do_POST = do_HEAD = do_GET

    def read_body(self) -> bytes:
        """Read the request body announced by Content-Length."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_head(self, status: int, headers: dict[str, str | None], length: int) -> None:
        """Send the status line and headers (a None value drops that header)."""
        self.send_response(status)
        for name, value in headers.items():
            if value is not None:
                self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def reset_connection(self) -> None:
        """Close the TCP connection with a RST, sending no answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


class _LocalServer:
    """Start/stop a ThreadingHTTPServer on 127.0.0.1, keeping the port across restarts."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.lock = threading.RLock()
        self.errors: list[str] = []
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Listen (on the same port as before after a stop) and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(self.port, self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection (clients then get refused)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        self.wake()
        httpd.shutdown()
        with self.lock:
            conns = list(httpd.conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def wake(self) -> None:
        """Wake handlers blocked in long waits (overridden where there are any)."""

    def sleep(self, seconds: float) -> bool:
        """Sleep in a handler; return False at once when the server is stopping."""
        return not self._stopping.wait(seconds)

    def handle(self, handler: _Handler) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------------- FeedServer


@dataclass
class FeedRequest:
    """One request the FeedServer received; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    status: int | None = None  # None: the connection was reset


@dataclass
class _Resource:
    body: bytes
    content_type: str
    status: int
    headers: dict[str, str | None]
    etag: str
    last_modified: float


@dataclass
class _Behaviour:
    fail: tuple[int, dict[str, str]] | None = None
    fail_times: int | None = None
    delay: float = 0.0
    drip: int | None = None
    redirect: tuple[str, int] | None = None
    reset: bool = False
    reset_times: int | None = None


class FeedServer(_LocalServer):
    """Serves feed bodies per path with conditional GET, gzip and injected faults."""

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.gzip = True
        self._resources: dict[str, _Resource] = {}
        self._behaviours: dict[str, _Behaviour] = {}
        self._requests: list[FeedRequest] = []
        self.in_flight = 0  # requests being answered now
        self.most_in_flight = 0  # the most answered at once

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server."""
        return self.origin + _slash(path)

    def set(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/rss+xml; charset=utf-8",
        status: int = 200,
        headers: dict[str, str | None] | None = None,
        last_modified: float | None = None,
    ) -> None:
        """Serve body at path; headers add to or (value None) drop the defaults."""
        path = _slash(path)
        with self.lock:
            old = self._resources.get(path)
            stamp = float(int(time.time() if last_modified is None else last_modified))
            if last_modified is None and old and old.body != body:
                stamp = max(stamp, old.last_modified + 1)  # a change always moves the date
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            self._resources[path] = _Resource(
                body, content_type, status, dict(headers or {}), etag, stamp
            )

    def set_file(self, path: str, file_path: str | Path, **kwargs: Any) -> None:
        """Serve the bytes of a file at path (same keywords as set)."""
        self.set(path, Path(file_path).read_bytes(), **kwargs)

    def fail(
        self,
        path: str,
        status: int,
        headers: dict[str, str] | None = None,
        times: int | None = None,
    ) -> None:
        """Answer path with status (all requests, or the next `times` ones)."""
        with self.lock:
            rule = self._rule(path)
            rule.fail, rule.fail_times = (status, dict(headers or {})), times

    def delay(self, path: str, seconds: float) -> None:
        """Sleep before answering path."""
        with self.lock:
            self._rule(path).delay = seconds

    def drip(self, path: str, bytes_per_second: int) -> None:
        """Send the body of path slowly."""
        with self.lock:
            self._rule(path).drip = bytes_per_second

    def redirect(self, path: str, to_path: str, status: int = 301) -> None:
        """Redirect path to to_path on this server."""
        with self.lock:
            self._rule(path).redirect = (_slash(to_path), status)

    def reset(self, path: str, times: int | None = None) -> None:
        """Close the connection without an answer (always, or the next `times` times)."""
        with self.lock:
            rule = self._rule(path)
            rule.reset, rule.reset_times = True, times

    def clear(self, path: str) -> None:
        """Remove every behaviour of path (its content stays)."""
        with self.lock:
            self._behaviours.pop(_slash(path), None)

    @property
    def requests(self) -> list[FeedRequest]:
        with self.lock:
            return list(self._requests)

    def hits(self, path: str) -> int:
        """How many requests reached path (query string ignored unless given)."""
        path = _slash(path)
        with self.lock:
            return sum(1 for r in self._requests if path in (r.path, r.path.split("?")[0]))

    def _rule(self, path: str) -> _Behaviour:
        return self._behaviours.setdefault(_slash(path), _Behaviour())

    def _lookup(self, raw_path: str) -> tuple[_Resource | None, _Behaviour]:
        """Exact path with its query string first, then the path alone."""
        bare = raw_path.split("?")[0]
        resource = self._resources.get(raw_path) or self._resources.get(bare)
        rule = self._behaviours.get(raw_path) or self._behaviours.get(bare)
        return resource, rule or _Behaviour()

    def handle(self, handler: _Handler) -> None:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self._handle(handler)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _handle(self, handler: _Handler) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        record = FeedRequest(handler.command, handler.path, headers)
        with self.lock:
            resource, rule = self._lookup(handler.path)
            reset = _take(rule, "reset")
            status, out_headers, body = (
                (0, {}, b"") if reset else self._answer(resource, rule, headers)
            )
            record.status = None if reset else status
            self._requests.append(record)
        if rule.delay and not self.sleep(rule.delay):
            return handler.reset_connection()
        if reset:
            return handler.reset_connection()
        handler.send_head(status, out_headers, len(body))
        if handler.command != "HEAD":
            self._write(handler, body, rule.drip)

    def _answer(
        self, resource: _Resource | None, rule: _Behaviour, req: dict[str, str]
    ) -> tuple[int, dict[str, str | None], bytes]:
        if rule.redirect:
            to, status = rule.redirect
            return status, {"Location": self.url(to)}, b""
        if _take(rule, "fail"):
            status, extra = rule.fail  # type: ignore[misc]
            return status, {"Content-Type": "text/plain", **extra}, _phrase(status).encode()
        if resource is None:
            return 404, {"Content-Type": "text/plain"}, b"Not Found"
        headers: dict[str, str | None] = {"Content-Type": resource.content_type}
        if resource.status == 200:
            headers["ETag"] = resource.etag
            headers["Last-Modified"] = email.utils.formatdate(resource.last_modified, usegmt=True)
        headers.update(resource.headers)
        if resource.status == 200 and _not_modified(resource, req):
            headers.pop("Content-Type")
            return 304, headers, b""
        body = resource.body
        if self.gzip and "gzip" in req.get("accept-encoding", "").lower():
            body = gzip.compress(body, mtime=0)
            headers.update({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return resource.status, headers, body

    def _write(self, handler: _Handler, body: bytes, bytes_per_second: int | None) -> None:
        if not bytes_per_second:
            handler.wfile.write(body)
            return
        chunk = max(1, bytes_per_second // 10)
        for start in range(0, len(body), chunk):
            handler.wfile.write(body[start : start + chunk])
            handler.wfile.flush()
            if start + chunk < len(body) and not self.sleep(chunk / bytes_per_second):
                return


def _slash(path: str) -> str:
    return path if path.startswith("/") else "/" + path


def _phrase(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _take(rule: _Behaviour, name: str) -> bool:
    """Whether behaviour `name` applies to this request, counting down its `times`."""
    if not getattr(rule, name):
        return False
    times = getattr(rule, f"{name}_times")
    if times is not None:
        if times <= 0:
            return False
        setattr(rule, f"{name}_times", times - 1)
    return True


def _not_modified(resource: _Resource, req: dict[str, str]) -> bool:
    """RFC 9110 conditional GET: If-None-Match wins over If-Modified-Since."""
    if "if-none-match" in req:
        tags = [t.strip().removeprefix("W/") for t in req["if-none-match"].split(",")]
        return "*" in tags or resource.etag in tags
    if "if-modified-since" in req:
        try:
            since = email.utils.parsedate_to_datetime(req["if-modified-since"]).timestamp()
        except (TypeError, ValueError):
            return False
        return resource.last_modified <= since
    return False


# ---------------------------------------------------------------- Telegram HTML parser


class HtmlParseError(ValueError):
    """Text that Telegram's HTML parse mode refuses; str() is the API's wording."""


_TAG_TYPES = {
    "a": "text_link",
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(?:#x([0-9a-fA-F]{1,6})|#([0-9]{1,7})|([A-Za-z]+));?")
_SPACE = " \t\r\n\f"


def _u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _decode_entity(text: str, i: int) -> tuple[str, int] | None:
    """Decode the HTML entity at text[i] ('&') as Telegram does; None if it is not one."""
    m = _ENTITY.match(text, i)
    if not m:
        return None
    if m[3] is not None:
        char = _NAMED.get(m[3])
        return (char, m.end()) if char else None
    code = int(m[1], 16) if m[1] else int(m[2])
    if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), m.end()


class _HtmlParser:
    """Telegram's parse_mode=HTML: plain text plus entities with UTF-16 offsets."""

    def __init__(self, text: str, strict: bool) -> None:
        self.text, self.strict = text, strict
        self.out: list[str] = []
        self.u16 = self.chars = 0
        self.stack: list[tuple[str, dict[str, str], int, int]] = []
        self.entities: list[dict[str, Any]] = []

    def fail(self, message: str) -> HtmlParseError:
        return HtmlParseError(f"Bad Request: can't parse entities: {message}")

    def emit(self, chars: str) -> None:
        self.out.append(chars)
        self.u16 += _u16(chars)
        self.chars += len(chars)

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        text, i = self.text, 0
        while i < len(text):
            c = text[i]
            if c == "&":
                decoded = _decode_entity(text, i)
                if decoded is None and self.strict:
                    raise self.fail(f'Unescaped "&" at byte offset {_byte_offset(text, i)}')
                char, i = decoded or ("&", i + 1)
                self.emit(char)
            elif c != "<":
                j = min((k for k in (text.find("&", i), text.find("<", i)) if k >= 0), default=-1)
                j = len(text) if j < 0 else j
                self.emit(text[i:j])
                i = j
            elif text.startswith("</", i):
                i = self.end_tag(i)
            else:
                i = self.start_tag(i)
        if self.stack:
            raise self.fail(f"Can't find end tag corresponding to start tag {self.stack[-1][0]}")
        for entity in self.entities:
            if entity["type"] == "code":
                entity.pop("language", None)  # only pre keeps a language
        return "".join(self.out), sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))

    def start_tag(self, begin: int) -> int:
        text, i = self.text, begin + 1
        where = f"at byte offset {_byte_offset(text, begin)}"
        while i < len(text) and text[i] not in _SPACE and text[i] != ">":
            i += 1
        if i >= len(text):
            raise self.fail(f"Unclosed start tag {where}")
        name = text[begin + 1 : i].lower()
        if name not in _TAG_TYPES:
            raise self.fail(f'Unsupported start tag "{name}" {where}')
        attrs: dict[str, str] = {}
        while True:
            while i < len(text) and text[i] in _SPACE:
                i += 1
            if i >= len(text):
                raise self.fail(f"Unclosed start tag {where}")
            if text[i] == ">":
                break
            i = self.attribute(name, i, where, attrs)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise self.fail(f'Tag "span" must have class "tg-spoiler" {where}')
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise self.fail(f'Tag "tg-emoji" must have attribute "emoji-id" {where}')
        self.stack.append((name, attrs, self.u16, self.chars))
        return i + 1

    def attribute(self, tag: str, i: int, where: str, attrs: dict[str, str]) -> int:
        text, start = self.text, i
        while i < len(text) and text[i] not in _SPACE and text[i] not in "=>":
            i += 1
        name = text[start:i]
        if not name:
            raise self.fail(f'Empty attribute name in the tag "{tag}" {where}')
        while i < len(text) and text[i] in _SPACE:
            i += 1
        if i < len(text) and text[i] != "=" and tag == "blockquote" and name == "expandable":
            attrs[name] = ""
            return i
        if i >= len(text) or text[i] != "=":
            raise self.fail(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" {where}'
            )
        i += 1
        while i < len(text) and text[i] in _SPACE:
            i += 1
        if i >= len(text):
            raise self.fail(f'Unclosed start tag "{tag}" {where}')
        if text[i] in "'\"":
            quote, i, value = text[i], i + 1, []
            while i < len(text) and text[i] != quote:
                decoded = _decode_entity(text, i) if text[i] == "&" else None
                char, i = decoded or (text[i], i + 1)
                value.append(char)
            attrs[name] = "".join(value)
            return i + 1
        m = re.compile(r"[A-Za-z0-9.\-]*").match(text, i)
        assert m is not None
        if m.end() < len(text) and text[m.end()] not in _SPACE and text[m.end()] != ">":
            raise self.fail(f"Unexpected end of name token at byte offset {_byte_offset(text, i)}")
        attrs[name] = m[0].lower()
        return m.end()

    def end_tag(self, begin: int) -> int:
        text, i = self.text, begin + 2
        where = f"at byte offset {_byte_offset(text, begin)}"
        if not self.stack:
            raise self.fail(f"Unexpected end tag {where}")
        while i < len(text) and text[i] not in _SPACE and text[i] != ">":
            i += 1
        end_name = text[begin + 2 : i]
        while i < len(text) and text[i] in _SPACE:
            i += 1
        if i >= len(text) or text[i] != ">":
            raise self.fail(f"Unclosed end tag {where}")
        name, attrs, offset, chars = self.stack.pop()
        if end_name and end_name != name:
            raise self.fail(
                f'Unmatched end tag {where}, expected "</{name}>", found "</{end_name}>"'
            )
        if self.u16 > offset:
            inner = "".join(self.out)[chars:]
            self.add_entity(name, attrs, offset, self.u16 - offset, inner)
        return i + 1

    def add_entity(
        self, name: str, attrs: dict[str, str], offset: int, length: int, inner: str
    ) -> None:
        entity: dict[str, Any] = {"type": _TAG_TYPES[name], "offset": offset, "length": length}
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and (last["offset"], last["length"]) == (offset, length)
        if name == "a":
            url = attrs.get("href") or inner
            if not re.match(r"(https?|tg|ton)://\S+$|[\w-]+(\.[\w-]+)+(/\S*)?$", url):
                return  # Telegram silently drops links it cannot parse
            entity["url"] = url
        elif name == "code" and attrs.get("class", "").startswith("language-"):
            entity["language"] = attrs["class"].removeprefix("language-")
        elif name == "pre" and same_span and last and last["type"] == "code" and "language" in last:
            self.entities.pop()
            entity["language"] = last["language"]
        elif name == "blockquote" and "expandable" in attrs:
            entity["type"] = "expandable_blockquote"
        elif name == "tg-emoji":
            entity["custom_emoji_id"] = attrs["emoji-id"]
        self.entities.append(entity)


def parse_telegram_html(text: str, strict: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse text as parse_mode=HTML; return (plain text, entities) or raise HtmlParseError."""
    return _HtmlParser(text, strict).parse()


# ------------------------------------------------------------------------- FakeBotAPI


class _ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class Fault:
    """One injected answer for FakeBotAPI.queue_errors; build it with the classmethods."""

    kind: str  # "error" | "slow" | "reset"
    status: int = 0
    description: str = ""
    retry_after: int | None = None
    seconds: float = 0.0
    delivered: bool = False

    @classmethod
    def flood(cls, retry_after: int) -> Fault:
        """429 Too Many Requests with parameters.retry_after (PTB raises RetryAfter)."""
        desc = f"Too Many Requests: retry after {retry_after}"
        return cls("error", 429, desc, retry_after=retry_after)

    @classmethod
    def error(cls, status: int, description: str | None = None) -> Fault:
        """Any error answer, e.g. 500/502/503 (NetworkError) or 403 (Forbidden)."""
        desc = description or _DEFAULT_DESCRIPTIONS.get(status) or _phrase(status)
        return cls("error", status, desc)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Carry out the call (the message IS stored), then wait before answering."""
        return cls("slow", seconds=seconds, delivered=True)

    @classmethod
    def reset(cls, delivered: bool = False) -> Fault:
        """Cut the connection without answering, after carrying out the call if delivered."""
        return cls("reset", delivered=delivered)


@dataclass
class ApiCall:
    """One request FakeBotAPI received: params exactly as decoded from the request."""

    method: str
    params: dict[str, Any]
    status: int | None  # None: the connection was reset
    description: str | None = None


@dataclass
class SentMessage:
    """A message the bot sent; `text` is what it sent (text or caption), `plain` is parsed."""

    message_id: int
    chat_id: int
    text: str
    plain: str
    parse_mode: str | None
    entities: list[dict[str, Any]]
    date: int
    link_preview_options: dict[str, Any] | None = None
    disable_web_page_preview: bool | None = None
    reply_to: int | None = None
    reply_markup: Any = None
    photo: bytes | str | None = None
    edit_date: int | None = None
    history: list[str] = field(default_factory=list)  # earlier texts, oldest first
    params: dict[str, Any] = field(default_factory=dict)


_CHAT_ID_LIMIT = 10**10
_SEND_METHODS = {"sendmessage", "sendphoto"}
_SELF_CALLS = {"getme", "getupdates"}  # PTB makes these on its own: initialize, polling


class FakeBotAPI(_LocalServer):
    """The Telegram Bot API over real HTTP: PTB connects with base_url=api.base_url."""

    def __init__(self, token: str = "123456:TEST-token-abc", port: int = 0) -> None:
        super().__init__(port)
        self.token = token
        self.bot_id = int(token.split(":")[0]) if token.split(":")[0].isdigit() else 1
        self.strict_html = True
        self.chats: set[str] = set()
        self.forbidden: dict[int, str] = {}
        self.commands: list[dict[str, Any]] = []
        self._links: dict[str, dict[str, Any]] = {}
        self._messages: list[SentMessage] = []
        self._calls: list[ApiCall] = []
        self._next_id: dict[int, int] = {}
        self._faults: deque[tuple[Fault, str | None]] = deque()
        self._flood: tuple[int, float] | None = None
        self._sent_at: dict[int, deque[float]] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._cond = threading.Condition(self.lock)
        self.add_chat(-1001234567890, "armswatch_test", title="Armswatch Test")

    @property
    def base_url(self) -> str:
        return f"{self.origin}/bot"

    # ---- configuration

    def add_chat(self, chat_id: int, username: str | None = None, title: str | None = None) -> None:
        """Make a chat known by its id and, if given, its @username."""
        info: dict[str, Any] = {"id": chat_id, "type": _chat_type(chat_id)}
        if info["type"] == "private":
            info["first_name"] = title or "Test User"
        else:
            info["title"] = title or f"Chat {chat_id}"
        with self.lock:
            self.chats.add(str(chat_id))
            if username:
                info["username"] = username
                self.chats.add("@" + username)
                self._links["@" + username.lower()] = info
            self._links[str(chat_id)] = info

    def forbid(self, chat: int | str, description: str = "") -> None:
        """Answer sends to this chat with 403 (bot kicked / not a member)."""
        chat_id = self.chat_id(chat)
        with self.lock:
            self.forbidden[chat_id] = description or (
                "Forbidden: bot is not a member of the channel chat"
            )

    def queue_errors(self, *faults: Fault | int, method: str | None = None) -> None:
        """Make the next len(faults) calls answer with these faults, in order.

        An int is a status: 429 becomes Fault.flood(1), others Fault.error(status).
        method=None targets every method except getMe and getUpdates (PTB calls those
        on its own); give a method name to target only that one.
        """
        with self.lock:
            for fault in faults:
                if isinstance(fault, int):
                    fault = Fault.flood(1) if fault == 429 else Fault.error(fault)
                self._faults.append((fault, method.lower() if method else None))

    def flood_limit(self, per_minute: int | None = 20, window: float = 60.0) -> None:
        """Answer 429 once a chat got per_minute messages in the last `window` seconds."""
        with self.lock:
            self._flood = (per_minute, window) if per_minute else None
            self._sent_at.clear()

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates (update_id added if missing); return its id."""
        with self._cond:
            update = dict(update)
            update.setdefault("update_id", self._next_update)
            self._next_update = max(self._next_update, update["update_id"]) + 1
            self._updates.append(update)
            self._cond.notify_all()
            return update["update_id"]

    def push_message(self, text: str, chat_id: int = 4242, user_id: int = 4242) -> int:
        """Queue a private text message from a user (a /command gets its entity)."""
        user = {"id": user_id, "is_bot": False, "first_name": "Tester"}
        message: dict[str, Any] = {
            "message_id": self._take_id(chat_id),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": _chat_type(chat_id), "first_name": "Tester"},
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _u16(text.split()[0])}
            ]
        return self.push_update({"message": message})

    # ---- assertions

    @property
    def messages(self) -> list[SentMessage]:
        with self.lock:
            return list(self._messages)

    def messages_for(self, chat: int | str) -> list[SentMessage]:
        """Messages sent to one chat, given by id or @username."""
        chat_id = self.chat_id(chat)
        return [m for m in self.messages if m.chat_id == chat_id]

    def chat_id(self, chat: int | str) -> int:
        """The numeric id of a known chat given by id or @username (ValueError if unknown)."""
        try:
            return self._chat_info(str(chat))["id"]
        except _ApiError:
            raise ValueError(f"unknown chat {chat!r}; known: {sorted(self.chats)}") from None

    @property
    def calls(self) -> list[ApiCall]:
        with self.lock:
            return list(self._calls)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # ---- HTTP

    def handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        m = re.fullmatch(r"/bot([^/]*)/([^/]+)", split.path)
        try:
            params = _request_params(handler, split.query)
        except ValueError:
            params = {}
        if not m:
            return self._reply(handler, "", params, _ApiError(404, "Not Found"))
        token, method = m[1], m[2]
        if token != self.token:
            return self._reply(handler, method, params, _ApiError(401, "Unauthorized"))
        impl = getattr(self, f"_m_{method.lower()}", None)
        if impl is None:
            return self._reply(handler, method, params, _ApiError(404, "Not Found"))
        fault = self._next_fault(method.lower())
        if fault and fault.kind == "error":
            params_err = {"retry_after": fault.retry_after} if fault.retry_after else None
            err = _ApiError(fault.status, fault.description, params_err)
            return self._reply(handler, method, params, err)
        if fault and fault.kind == "reset" and not fault.delivered:
            self._record(method, params, None, None)
            return handler.reset_connection()
        try:
            result: Any = impl(params)
        except _ApiError as exc:
            result = exc
        except (ValueError, TypeError) as exc:  # e.g. offset=abc: Telegram says 400 too
            result = _ApiError(400, f"Bad Request: wrong parameter value ({exc})")
        except Exception as exc:  # a bug in the fake: fail the test, answer 500
            self.errors.append(f"{method}: {type(exc).__name__}: {exc}")
            result = _ApiError(500, f"Internal Server Error: fake raised {exc!r}")
        if (fault and fault.kind == "reset") or self._stopping.is_set():
            self._record(method, params, None, None)
            return handler.reset_connection()
        if fault and fault.kind == "slow" and not self.sleep(fault.seconds):
            return handler.reset_connection()
        self._reply(handler, method, params, result)

    def _reply(self, handler: _Handler, method: str, params: dict, result: Any) -> None:
        if isinstance(result, _ApiError):
            status = result.code
            payload: dict[str, Any] = {
                "ok": False,
                "error_code": result.code,
                "description": result.description,
            }
            if result.parameters:
                payload["parameters"] = result.parameters
            self._record(method, params, status, result.description)
        else:
            status, payload = 200, {"ok": True, "result": result}
            self._record(method, params, 200, None)
        body = json.dumps(payload, ensure_ascii=False).encode()
        handler.send_head(status, {"Content-Type": "application/json"}, len(body))
        if handler.command != "HEAD":
            handler.wfile.write(body)

    def _record(self, method: str, params: dict, status: int | None, desc: str | None) -> None:
        name = _CANONICAL.get(method.lower(), method)
        with self.lock:
            self._calls.append(ApiCall(name, params, status, desc))

    def _next_fault(self, method: str) -> Fault | None:
        with self.lock:
            for index, (fault, target) in enumerate(self._faults):
                if target == method or (target is None and method not in _SELF_CALLS):
                    del self._faults[index]
                    return fault
        return None

    # ---- helpers for the methods

    def _chat_info(self, key: str) -> dict[str, Any]:
        key = key.strip()
        with self.lock:
            known = {c.lower() for c in self.chats}
            if not key or key.lower() not in known:
                raise _ApiError(400, "Bad Request: chat not found")
            if key.lower() in self._links:
                return self._links[key.lower()]
            if key.startswith("@"):
                chat_id = -(_CHAT_ID_LIMIT * 100 + zlib.crc32(key.lower().encode()))
                return {"id": chat_id, "type": "channel", "title": key, "username": key[1:]}
            chat_id = int(key)
            return {"id": chat_id, "type": _chat_type(chat_id), "title": f"Chat {key}"}

    def _target_chat(self, params: dict, sending: bool) -> dict[str, Any]:
        if str(params.get("chat_id", "")).strip() == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        chat = self._chat_info(str(params["chat_id"]))
        if sending and chat["id"] in self.forbidden:
            raise _ApiError(403, self.forbidden[chat["id"]])
        return chat

    def _take_id(self, chat_id: int) -> int:
        with self.lock:
            self._next_id[chat_id] = self._next_id.get(chat_id, 0) + 1
            return self._next_id[chat_id]

    def _parse_text(
        self, params: dict, name: str, limit: int, *, required: bool
    ) -> tuple[str, str, list[dict[str, Any]], str | None]:
        raw = params.get(name)
        text = "" if raw is None else str(raw)
        mode = params.get("parse_mode") or None
        if mode is not None and str(mode).lower() not in {"html", "markdown", "markdownv2"}:
            raise _ApiError(400, "Bad Request: unsupported parse_mode")
        entities = _json_field(params, "entities" if name == "text" else "caption_entities")
        if mode and str(mode).lower() == "html":
            try:
                plain, entities = parse_telegram_html(text, strict=self.strict_html)
            except HtmlParseError as exc:
                raise _ApiError(400, str(exc)) from None
        else:
            plain, entities = text, list(entities or [])
        if required and not plain.strip():
            raise _ApiError(400, f"Bad Request: message {name} is empty")
        if _u16(plain) > limit:
            what = "message is too long" if name == "text" else "message caption is too long"
            raise _ApiError(400, f"Bad Request: {what}")
        return text, plain, entities, mode

    def _check_flood(self, chat_id: int) -> None:
        with self.lock:
            if not self._flood:
                return
            limit, window = self._flood
            sent, now = self._sent_at.setdefault(chat_id, deque()), time.monotonic()
            while sent and sent[0] <= now - window:
                sent.popleft()
            if len(sent) >= limit:
                wait = max(1, math.ceil(sent[0] + window - now))
                desc = f"Too Many Requests: retry after {wait}"
                raise _ApiError(429, desc, {"retry_after": wait})
            sent.append(now)

    def _reply_to(self, params: dict, chat_id: int) -> int | None:
        reply = _json_field(params, "reply_parameters") or {}
        target = reply.get("message_id", params.get("reply_to_message_id"))
        if target in (None, ""):
            return None
        target = int(target)
        allow = reply.get("allow_sending_without_reply", params.get("allow_sending_without_reply"))
        if not _as_bool(allow) and self._find(chat_id, target) is None:
            raise _ApiError(400, "Bad Request: message to be replied not found")
        return target

    def _find(self, chat_id: int, message_id: int) -> SentMessage | None:
        with self.lock:
            for message in self._messages:
                if (message.chat_id, message.message_id) == (chat_id, message_id):
                    return message
        return None

    def _store(self, chat: dict[str, Any], **fields: Any) -> dict[str, Any]:
        chat_id = chat["id"]
        with self.lock:
            reply_to = self._reply_to(fields["params"], chat_id)
            self._check_flood(chat_id)
            message = SentMessage(
                self._take_id(chat_id), chat_id, date=int(time.time()), reply_to=reply_to, **fields
            )
            self._messages.append(message)
            return self._message_json(message, chat)

    def _message_json(self, message: SentMessage, chat: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"message_id": message.message_id, "date": message.date}
        out["chat"] = dict(chat)
        if chat["type"] == "channel":
            out["sender_chat"] = dict(chat)
        else:
            out["from"] = self._m_getme({})
        text_key = "caption" if message.photo is not None else "text"
        out[text_key] = message.plain
        if message.entities:
            out["entities" if text_key == "text" else "caption_entities"] = message.entities
        if message.photo is not None:
            size = len(message.photo) if isinstance(message.photo, bytes) else 0
            unique = f"{message.chat_id}_{message.message_id}"
            out["photo"] = [
                {"file_id": f"photo-{unique}", "file_unique_id": f"u{unique}", "width": 1,
                 "height": 1, "file_size": size}
            ]  # fmt: skip
        if message.link_preview_options:
            out["link_preview_options"] = message.link_preview_options
        if message.reply_to is not None:
            replied = self._find(message.chat_id, message.reply_to)
            if replied is not None:
                out["reply_to_message"] = self._message_json(replied, chat)
        if message.edit_date:
            out["edit_date"] = message.edit_date
        if message.reply_markup:
            out["reply_markup"] = message.reply_markup
        return out

    # ---- the methods (names after _m_ are the lower-cased Bot API method names)

    def _m_getme(self, params: dict) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Armswatch Test",
            "username": "armswatch_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _m_sendmessage(self, params: dict) -> dict[str, Any]:
        chat = self._target_chat(params, sending=True)
        text, plain, entities, mode = self._parse_text(params, "text", 4096, required=True)
        return self._store(
            chat,
            text=text,
            plain=plain,
            parse_mode=mode,
            entities=entities,
            link_preview_options=_json_field(params, "link_preview_options"),
            disable_web_page_preview=_opt_bool(params.get("disable_web_page_preview")),
            reply_markup=_json_field(params, "reply_markup"),
            params=params,
        )

    def _m_sendphoto(self, params: dict) -> dict[str, Any]:
        chat = self._target_chat(params, sending=True)
        photo = params.get("photo")
        if isinstance(photo, str) and photo.startswith("attach://"):
            photo = params.get(photo.removeprefix("attach://"))
        if photo in (None, "", b""):
            raise _ApiError(400, "Bad Request: there is no photo in the request")
        text, plain, entities, mode = self._parse_text(params, "caption", 1024, required=False)
        return self._store(
            chat,
            text=text,
            plain=plain,
            parse_mode=mode,
            entities=entities,
            photo=photo,
            reply_markup=_json_field(params, "reply_markup"),
            params=params,
        )

    def _m_editmessagetext(self, params: dict) -> dict[str, Any]:
        chat = self._target_chat(params, sending=False)
        try:
            message = self._find(chat["id"], int(params.get("message_id", "")))
        except ValueError:
            raise _ApiError(400, "Bad Request: message identifier is not specified") from None
        if message is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        if message.photo is not None:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        text, plain, entities, mode = self._parse_text(params, "text", 4096, required=True)
        markup = _json_field(params, "reply_markup")
        with self.lock:
            if (plain, entities, markup) == (message.plain, message.entities, message.reply_markup):
                raise _ApiError(
                    400,
                    "Bad Request: message is not modified: specified new message content and "
                    "reply markup are exactly the same as a current content and reply markup "
                    "of the message",
                )
            message.history.append(message.text)
            message.text, message.plain, message.entities = text, plain, entities
            message.parse_mode, message.reply_markup = mode, markup
            message.edit_date = int(time.time())
            if "link_preview_options" in params:
                message.link_preview_options = _json_field(params, "link_preview_options")
            return self._message_json(message, chat)

    def _m_getupdates(self, params: dict) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = min(100, max(1, int(params.get("limit") or 100)))
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._cond:
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]
            while not self._updates and not self._stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._cond.wait(remaining):
                    break
            return [dict(u) for u in self._updates[:limit]]

    def _m_deletewebhook(self, params: dict) -> bool:
        if _as_bool(params.get("drop_pending_updates")):
            with self.lock:
                self._updates.clear()
        return True

    def _m_setmycommands(self, params: dict) -> bool:
        commands = _json_field(params, "commands")
        if not isinstance(commands, list) or not all(
            isinstance(c, dict) and c.get("command") and c.get("description") for c in commands
        ):
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        with self.lock:
            self.commands = commands
        return True

    def _m_getchat(self, params: dict) -> dict[str, Any]:
        chat = dict(self._target_chat(params, sending=False))
        chat.update(accent_color_id=0, max_reaction_count=11)
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
        chat["accepted_gift_types"] = dict.fromkeys((*gifts, "gifts_from_channels"), False)
        return chat


_CANONICAL = {
    name.lower(): name
    for name in (
        "getMe",
        "sendMessage",
        "sendPhoto",
        "editMessageText",
        "getUpdates",
        "deleteWebhook",
        "setMyCommands",
        "getChat",
    )
}


def _chat_type(chat_id: int) -> str:
    if chat_id > 0:
        return "private"
    return "channel" if chat_id <= -(10**12) else "group"


def _as_bool(value: Any) -> bool:
    return value is True or str(value).lower() in {"true", "1"}


def _opt_bool(value: Any) -> bool | None:
    return None if value in (None, "") else _as_bool(value)


def _json_field(params: dict, name: str) -> Any:
    """A nested object: a JSON string in forms and query strings, native in JSON bodies."""
    value = params.get(name)
    if not isinstance(value, str | bytes):
        return value
    if value in ("", b""):
        return None
    try:
        return json.loads(value)
    except ValueError:
        label = name.replace("_", " ").removesuffix("s")
        raise _ApiError(400, f"Bad Request: can't parse {label} JSON object") from None


def _request_params(handler: _Handler, query: str) -> dict[str, Any]:
    """Merge query string and body (form, JSON or multipart) as the Bot API does."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    body = handler.read_body()
    ctype = handler.headers.get("Content-Type", "")
    if not body:
        return params
    if ctype.startswith("application/json"):
        data = json.loads(body)
        if isinstance(data, dict):
            params.update(data)
    elif ctype.startswith("multipart/form-data"):
        params.update(_parse_multipart(ctype, body))
    else:
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
    return params


def _parse_multipart(ctype: str, body: bytes) -> dict[str, Any]:
    """Fields as str, file parts as bytes."""
    head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        fields[name] = data if part.get_filename() else data.decode()
    return fields
