"""One feed over real HTTP: conditional GET, caps and deadlines, errors by kind."""

import gzip
import zlib

import pytest

from watchers.config.load import FetchConfig
from watchers.errors import FeedGone, FetchError
from watchers.feeds.fetch import fetch_feed, make_client, parse_retry_after

CONFIG = FetchConfig(timeout=2.0, max_bytes=100_000)


async def fetch(url, config=CONFIG, **kwargs):
    async with make_client(config) as client:
        return await fetch_feed(client, url, config, **kwargs)


async def test_conditional_get_gives_304(feed_server):
    feed_server.set("/f.xml", b"<rss/>")
    first = await fetch(feed_server.url("/f.xml"))
    assert first.status == 200 and first.body == b"<rss/>" and first.etag
    second = await fetch(feed_server.url("/f.xml"), etag=first.etag)
    assert second.not_modified
    third = await fetch(feed_server.url("/f.xml"), modified=first.last_modified)
    assert third.not_modified


async def test_sends_user_agent_and_accepts_gzip(feed_server):
    feed_server.set("/f.xml", b"<rss>" + b"x" * 5000 + b"</rss>")
    result = await fetch(feed_server.url("/f.xml"))
    assert len(result.body) == 5011
    (request,) = feed_server.requests
    assert request.headers["user-agent"].startswith("armswatch/")
    assert "gzip" in request.headers["accept-encoding"]


@pytest.mark.parametrize(
    "status,kind,error",
    [(404, "http_404", FetchError), (500, "http_500", FetchError), (410, "gone", FeedGone)],
)
async def test_http_errors_have_a_kind(feed_server, status, kind, error):
    feed_server.set("/f.xml", b"<rss/>")
    feed_server.fail("/f.xml", status)
    with pytest.raises(error) as caught:
        await fetch(feed_server.url("/f.xml"))
    assert caught.value.kind == kind


async def test_retry_after_is_read(feed_server):
    feed_server.set("/f.xml", b"<rss/>")
    feed_server.fail("/f.xml", 503, headers={"Retry-After": "90"})
    with pytest.raises(FetchError) as caught:
        await fetch(feed_server.url("/f.xml"))
    assert caught.value.retry_after == 90


async def test_body_over_the_cap_is_refused(feed_server):
    feed_server.set("/big.xml", b"x" * 200_000)
    with pytest.raises(FetchError, match="byte cap") as caught:
        await fetch(feed_server.url("/big.xml"))
    assert caught.value.kind == "too_big"


async def test_gzip_bomb_hits_the_cap(feed_server):
    bomb = gzip.compress(b"\0" * 50_000_000)
    feed_server.gzip = False
    feed_server.set("/bomb.xml", bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="byte cap"):
        await fetch(feed_server.url("/bomb.xml"))


async def test_dripping_server_is_cut_at_the_deadline(feed_server):
    feed_server.set("/slow.xml", b"<rss>" + b" " * 100 + b"</rss>")
    feed_server.drip("/slow.xml", 10)
    with pytest.raises(FetchError, match="within 1s") as caught:
        await fetch(feed_server.url("/slow.xml"), FetchConfig(timeout=1.0))
    assert caught.value.kind == "timeout"


async def test_redirect_loop_is_an_error(feed_server):
    feed_server.redirect("/a.xml", "/b.xml")
    feed_server.redirect("/b.xml", "/a.xml")
    with pytest.raises(FetchError, match="redirects"):
        await fetch(feed_server.url("/a.xml"))


async def test_permanent_redirect_reports_the_new_url(feed_server):
    feed_server.set("/new.xml", b"<rss/>")
    feed_server.redirect("/old.xml", "/new.xml", 301)
    result = await fetch(feed_server.url("/old.xml"))
    assert result.moved_to == feed_server.url("/new.xml")


async def test_connection_refused_is_a_network_error(free_port):
    with pytest.raises(FetchError) as caught:
        await fetch(f"http://127.0.0.1:{free_port}/f.xml")
    assert caught.value.kind == "network"


@pytest.mark.parametrize(
    "value,seconds",
    [("120", 120.0), ("", None), ("soon", None), ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0)],
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value, now=100.0) == seconds


async def test_nested_gzip_is_refused_before_it_inflates(feed_server):
    # 20 MB gzipped twice is ~300 bytes; httpx's own decoder would inflate it in one call
    bomb = gzip.compress(gzip.compress(b"\0" * 20_000_000, compresslevel=1))
    feed_server.gzip = False
    feed_server.set("/bomb.xml", bomb, headers={"Content-Encoding": "gzip, gzip"})
    with pytest.raises(FetchError, match="unsupported Content-Encoding") as caught:
        await fetch(feed_server.url("/bomb.xml"))
    assert caught.value.kind == "encoding"


@pytest.mark.parametrize(
    "encoding,body,expected",
    [
        ("deflate", zlib.compress(b"<rss>zlib</rss>"), b"<rss>zlib</rss>"),
        ("deflate", zlib.compress(b"<rss>raw</rss>", wbits=-15), b"<rss>raw</rss>"),
        ("x-gzip", gzip.compress(b"<rss>x</rss>"), b"<rss>x</rss>"),
        ("identity", b"<rss>plain</rss>", b"<rss>plain</rss>"),
    ],
)
async def test_content_encodings_are_undone(feed_server, encoding, body, expected):
    feed_server.gzip = False
    feed_server.set("/f.xml", body, headers={"Content-Encoding": encoding})
    assert (await fetch(feed_server.url("/f.xml"))).body == expected


@pytest.mark.parametrize(
    "encoding,body,message",
    [("br", b"x", "unsupported"), ("gzip", b"\x1f\x8b not gzip", "corrupt gzip")],
)
async def test_bad_content_encoding_is_an_error(feed_server, encoding, body, message):
    feed_server.gzip = False
    feed_server.set("/f.xml", body, headers={"Content-Encoding": encoding})
    with pytest.raises(FetchError, match=message) as caught:
        await fetch(feed_server.url("/f.xml"))
    assert caught.value.kind == "encoding"


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "/etc/passwd", "ftp://127.0.0.1/f", "http://"]
)
async def test_only_http_urls_are_fetched(url):
    with pytest.raises(FetchError) as caught:
        await fetch(url)
    assert caught.value.kind == "url"


async def test_redirect_to_a_file_url_is_refused(feed_server):
    feed_server.set("/f.xml", b"", status=302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(FetchError, match="not http") as caught:
        await fetch(feed_server.url("/f.xml"))
    assert caught.value.kind == "url"


async def test_https_to_a_plain_http_server_is_a_tls_error(feed_server):
    feed_server.set("/f.xml", b"<rss/>")
    with pytest.raises(FetchError, match="SSL") as caught:
        await fetch(feed_server.url("/f.xml").replace("http:", "https:"))
    assert caught.value.kind == "tls"


async def test_the_same_bytes_again_come_back_unchanged_without_a_body(feed_server):
    feed_server.set("/f.xml", b"<rss>" + b"x" * 5000 + b"</rss>")
    first = await fetch(feed_server.url("/f.xml"))
    assert first.body.startswith(b"<rss>") and first.digest and not first.unchanged
    again = await fetch(feed_server.url("/f.xml"), digest=first.digest)  # no ETag: a 200
    assert again.status == 200 and again.unchanged and again.body == b""
    assert again.digest == first.digest
    feed_server.set("/f.xml", b"<rss>changed</rss>")
    changed = await fetch(feed_server.url("/f.xml"), digest=first.digest)
    assert not changed.unchanged and changed.body == b"<rss>changed</rss>"


async def test_a_proxy_set_in_the_environment_is_used(feed_server, monkeypatch):
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", feed_server.origin)  # it answers 404 to what it proxies
    with pytest.raises(FetchError) as caught:
        await fetch("http://feeds.invalid/f.xml")
    assert caught.value.kind == "http_404"
    (request,) = feed_server.requests
    assert request.path == "http://feeds.invalid/f.xml"  # the absolute form a proxy gets
