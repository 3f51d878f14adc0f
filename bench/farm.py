"""The loopback feed farm: N generated feeds on 127.0.0.1, in a process of its own.

    python bench/farm.py --data DIR --feeds 10000 [--port 0]

Prints one JSON line {"port": P} when it listens. Feeds are /feed/<f>.xml (f = 0..N-1),
rendered by feedgen.py, gzip when asked, with ETag and Last-Modified; If-None-Match and
If-Modified-Since get 304. A small asyncio HTTP/1.1 server with keep-alive and a listen
backlog of 1024 (Python's ThreadingHTTPServer has 5: SYN retries stall clients 1 s).

Control (GET, JSON answers):
  /_ctl/change?fraction=0.1&new=3&limit=N   that fraction of feeds 0..limit-1 gain `new` items
  /_ctl/publish?feed=F&news=I               feed F gains one item with news text I
  /_ctl/auto?every=S&fraction=0.1&new=3&limit=N   change every S seconds (every=0 stops)
  /_ctl/conditional?on=0|1                  honour If-None-Match / If-Modified-Since
  /_ctl/state?limit=N                       feed states (for seeding a bot's database)
  /_ctl/hits?since=T&limit=N                request arrival times per feed since T
  /_ctl/stats                               requests by status
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import NEWS, add_data_option, data_files  # noqa: E402
from feedgen import FeedMaker, FeedState, gzipped, load_news  # noqa: E402

MAX_HEAD = 16_384


class Farm:
    """Feed states, rendering and the control actions."""

    def __init__(self, feeds: int, news: list[dict], seed: int = 5):
        self.maker = FeedMaker(news)
        self.states = [FeedState() for _ in range(feeds)]
        self.random = random.Random(seed)
        self.conditional = True
        self.status = Counter()
        self.hits: list[list[float]] = [[] for _ in range(feeds)]
        self.auto: asyncio.Task | None = None
        self._cache: dict[int, tuple[str, bytes, bytes]] = {}  # f -> (etag, body, gzipped)

    def add_item(self, f: int, news: int | None = None) -> None:
        state = self.states[f]
        state.head += 1
        index = news if news is not None else self.random.randrange(len(self.maker.news))
        state.extra[state.head] = (index, time.time())
        self._cache.pop(f, None)

    def change(self, fraction: float, new: int, limit: int) -> list[int]:
        limit = min(limit, len(self.states))
        chosen = self.random.sample(range(limit), round(limit * fraction))
        for f in chosen:
            for _ in range(new):
                self.add_item(f)
        return sorted(chosen)

    def body(self, f: int) -> tuple[str, bytes, bytes]:
        state = self.states[f]
        etag = self.maker.etag(f, state)
        cached = self._cache.get(f)
        if cached and cached[0] == etag:
            return cached
        body = self.maker.render(f, state)
        entry = (etag, body, gzipped(body))
        if len(self._cache) > 2000:
            self._cache.clear()
        self._cache[f] = entry
        return entry

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict, bytes]:
        parts = urlsplit(path)
        if parts.path.startswith("/_ctl/"):
            query = dict(parse_qsl(parts.query))
            data = self.control(parts.path[6:], query)
            return 200, {"Content-Type": "application/json"}, json.dumps(data).encode()
        name = parts.path.removeprefix("/feed/").removesuffix(".xml")
        if not name.isdigit() or int(name) >= len(self.states):
            return 404, {"Content-Type": "text/plain"}, b"Not Found"
        f = int(name)
        self.hits[f].append(time.time())
        state = self.states[f]
        etag, modified = self.maker.etag(f, state), self.maker.last_modified(state)
        # A short max-age: the bot honours it, and it must not hold polls past the intervals
        # the soak and latency runs measure (10 s and up).
        out = {"ETag": etag, "Last-Modified": modified, "Cache-Control": "max-age=5"}
        if self.conditional and _not_modified(headers, etag, modified):
            return 304, out, b""
        _, body, zipped = self.body(f)
        out["Content-Type"] = "application/rss+xml; charset=utf-8"
        if "gzip" in headers.get("accept-encoding", ""):
            out["Content-Encoding"], body = "gzip", zipped
        return 200, out, body

    def control(self, action: str, q: dict[str, str]) -> object:
        limit = int(q.get("limit", len(self.states)))
        if action == "change":
            changed = self.change(float(q.get("fraction", 0.1)), int(q.get("new", 3)), limit)
            return {"changed": changed, "time": time.time()}
        if action == "publish":
            f = int(q["feed"])
            self.add_item(f, int(q["news"]))
            return {"time": time.time(), "seq": self.states[f].head}
        if action == "auto":
            return self.set_auto(float(q.get("every", 0)), q, limit)
        if action == "conditional":
            self.conditional = q.get("on", "1") == "1"
            return {"conditional": self.conditional}
        if action == "state":
            return [s.to_json() for s in self.states[:limit]]
        if action == "hits":
            since = float(q.get("since", 0))
            return [[t for t in h if t >= since] for h in self.hits[:limit]]
        if action == "stats":
            return {str(k): v for k, v in self.status.items()}
        return {"error": f"unknown action {action}"}

    def set_auto(self, every: float, q: dict[str, str], limit: int) -> dict:
        if self.auto:
            self.auto.cancel()
            self.auto = None
        if every > 0:
            fraction, new = float(q.get("fraction", 0.1)), int(q.get("new", 3))

            async def tick() -> None:
                while True:
                    await asyncio.sleep(every)
                    self.change(fraction, new, limit)

            self.auto = asyncio.get_running_loop().create_task(tick())
        return {"every": every}


async def serve(farm: Farm, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One connection: requests until the client closes (HTTP/1.1 keep-alive)."""
    farm.status["connections"] += 1
    with contextlib.suppress(
        ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError
    ):
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > MAX_HEAD:
                break
            lines = head.decode("latin-1").split("\r\n")
            method, path, version = (lines[0].split(" ") + ["", "", ""])[:3]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name:
                    headers[name.strip().lower()] = value.strip()
            status, out, body = farm.answer(path, headers)
            farm.status[status] += 1
            close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
            reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
            lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
            lines += [f"{k}: {v}" for k, v in out.items()]
            lines.append("Connection: close" if close else "Connection: keep-alive")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            if method != "HEAD":
                writer.write(body)
            await writer.drain()
            if close:
                break
    writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--port", type=int, default=0)
    add_data_option(parser)
    args = parser.parse_args()
    farm = Farm(args.feeds, load_news(data_files(args.data, NEWS)[0]))
    server = await asyncio.start_server(
        lambda r, w: serve(farm, r, w), "127.0.0.1", args.port, backlog=1024, limit=MAX_HEAD
    )
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port, "feeds": args.feeds}), flush=True)
    async with server:
        await server.serve_forever()


def _not_modified(headers: dict[str, str], etag: str, modified: str) -> bool:
    """RFC 9110: If-None-Match decides when sent; If-Modified-Since only without it (two
    changes within a second share a Last-Modified, never an ETag)."""
    if "if-none-match" in headers:
        return headers["if-none-match"] == etag
    return headers.get("if-modified-since") == modified


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
