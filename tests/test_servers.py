"""The local servers themselves, driven by the real clients: httpx and python-telegram-bot."""

import asyncio
import datetime as dtm
import gzip
import json
import threading
import time
import warnings

import httpx
import pytest
import telegram
from telegram.error import (
    BadRequest,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from tests.servers import FakeBotAPI, Fault, FeedServer, parse_telegram_html

CHANNEL = "@armswatch_test"
CHANNEL_ID = -1001234567890
RSS = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after: an int (deprecated) in PTB 22.8, a timedelta with PTB_TIMEDELTA=1."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


# ------------------------------------------------------------------------- FeedServer


def test_feed_serves_body_with_validators(feed_server: FeedServer) -> None:
    feed_server.set("/a.xml", RSS)
    response = httpx.get(feed_server.url("/a.xml"))
    assert response.status_code == 200
    assert response.content == RSS
    assert response.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"].endswith("GMT")
    assert feed_server.hits("/a.xml") == 1


@pytest.mark.parametrize(
    ("conditional", "status"),
    [
        ({"If-None-Match": "{etag}"}, 304),
        ({"If-None-Match": 'W/"other", {etag}'}, 304),
        ({"If-None-Match": '"other"'}, 200),
        ({"If-Modified-Since": "{last_modified}"}, 304),
        ({"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}, 200),
        ({"If-None-Match": '"other"', "If-Modified-Since": "{last_modified}"}, 200),
        ({"If-Modified-Since": "not a date"}, 200),
    ],
)
def test_feed_conditional_get(feed_server: FeedServer, conditional: dict, status: int) -> None:
    feed_server.set("/a.xml", RSS)
    first = httpx.get(feed_server.url("/a.xml"))
    validators = {"etag": first.headers["etag"], "last_modified": first.headers["last-modified"]}
    headers = {name: value.format(**validators) for name, value in conditional.items()}
    second = httpx.get(feed_server.url("/a.xml"), headers=headers)
    assert second.status_code == status
    assert second.content == (b"" if status == 304 else RSS)
    assert feed_server.requests[-1].headers.keys() >= {k.lower() for k in headers}
    assert feed_server.requests[-1].status == status


def test_feed_new_body_gets_new_validators(feed_server: FeedServer) -> None:
    feed_server.set("/a.xml", RSS)
    first = httpx.get(feed_server.url("/a.xml"))
    feed_server.set("/a.xml", RSS + b"<!-- v2 -->")
    headers = {"If-Modified-Since": first.headers["last-modified"]}
    second = httpx.get(feed_server.url("/a.xml"), headers=headers)
    assert second.status_code == 200
    assert second.headers["etag"] != first.headers["etag"]


@pytest.mark.parametrize(
    ("server_gzip", "accept", "encoded"),
    [(True, "gzip, deflate", True), (False, "gzip, deflate", False), (True, "identity", False)],
)
def test_feed_gzip(feed_server: FeedServer, server_gzip: bool, accept: str, encoded: bool) -> None:
    feed_server.gzip = server_gzip
    feed_server.set("/a.xml", RSS * 20)
    response = httpx.get(feed_server.url("/a.xml"), headers={"Accept-Encoding": accept})
    assert response.content == RSS * 20  # httpx decodes
    assert (response.headers.get("content-encoding") == "gzip") is encoded
    assert (int(response.headers["content-length"]) < len(RSS * 20)) is encoded


def test_feed_gzip_body_is_real_gzip(feed_server: FeedServer) -> None:
    feed_server.set("/a.xml", RSS)
    with httpx.stream("GET", feed_server.url("/a.xml")) as response:
        wire = b"".join(response.iter_raw())
    assert gzip.decompress(wire) == RSS


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (500, None),
        (503, {"Retry-After": "120"}),
        (404, None),
        (410, None),
        (429, {"Retry-After": "5"}),
    ],
)
def test_feed_fail(feed_server: FeedServer, status: int, headers: dict | None) -> None:
    feed_server.set("/a.xml", RSS)
    feed_server.fail("/a.xml", status, headers)
    for _ in range(2):
        response = httpx.get(feed_server.url("/a.xml"))
        assert response.status_code == status
        for name, value in (headers or {}).items():
            assert response.headers[name] == value
    assert "etag" not in response.headers
    feed_server.clear("/a.xml")
    assert httpx.get(feed_server.url("/a.xml")).status_code == 200


def test_feed_fail_times_then_recovers(feed_server: FeedServer) -> None:
    feed_server.set("/a.xml", RSS)
    feed_server.fail("/a.xml", 502, times=2)
    statuses = [httpx.get(feed_server.url("/a.xml")).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    assert [r.status for r in feed_server.requests] == statuses


def test_feed_unknown_path_is_404(feed_server: FeedServer) -> None:
    assert httpx.get(feed_server.url("/nothing")).status_code == 404
    assert feed_server.requests[0].status == 404


def test_feed_delay_beyond_read_timeout(feed_server: FeedServer) -> None:
    feed_server.set("/slow.xml", RSS)
    feed_server.delay("/slow.xml", 2)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(feed_server.url("/slow.xml"), timeout=httpx.Timeout(5, read=0.2))
    assert feed_server.hits("/slow.xml") == 1


def test_feed_delay_within_timeout(feed_server: FeedServer) -> None:
    feed_server.set("/slow.xml", RSS)
    feed_server.delay("/slow.xml", 0.2)
    started = time.monotonic()
    assert httpx.get(feed_server.url("/slow.xml"), timeout=2).content == RSS
    assert time.monotonic() - started >= 0.2


def test_feed_drip_outlasts_read_timeout(feed_server: FeedServer) -> None:
    """httpx's read timeout is per read: a dripping body never trips it."""
    feed_server.gzip = False
    feed_server.set("/drip.xml", b"x" * 20)
    feed_server.drip("/drip.xml", 25)
    started = time.monotonic()
    response = httpx.get(feed_server.url("/drip.xml"), timeout=httpx.Timeout(5, read=0.3))
    assert response.content == b"x" * 20
    assert time.monotonic() - started >= 0.6


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_feed_redirect(feed_server: FeedServer, status: int) -> None:
    feed_server.set("/new.xml", RSS)
    feed_server.redirect("/old.xml", "/new.xml", status)
    response = httpx.get(feed_server.url("/old.xml"), follow_redirects=True)
    assert response.content == RSS
    assert [r.status_code for r in response.history] == [status]
    assert response.history[0].headers["location"] == feed_server.url("/new.xml")
    assert (feed_server.hits("/old.xml"), feed_server.hits("/new.xml")) == (1, 1)


def test_feed_reset(feed_server: FeedServer) -> None:
    feed_server.set("/a.xml", RSS)
    feed_server.reset("/a.xml", times=1)
    with pytest.raises(httpx.TransportError):
        httpx.get(feed_server.url("/a.xml"))
    assert httpx.get(feed_server.url("/a.xml")).status_code == 200
    assert [r.status for r in feed_server.requests] == [None, 200]


def test_feed_head_and_set_file(feed_server: FeedServer, tmp_path) -> None:
    path = tmp_path / "feed.atom"
    path.write_bytes(b"<feed/>")
    feed_server.set_file("atom", path, content_type="application/atom+xml", headers={"X-A": "1"})
    response = httpx.head(feed_server.url("/atom"))
    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["x-a"] == "1"
    assert httpx.get(feed_server.url("/atom"), headers={"Accept-Encoding": ""}).content == (
        b"<feed/>"
    )


def test_feed_header_none_drops_default(feed_server: FeedServer) -> None:
    feed_server.set("/a.xml", RSS, headers={"ETag": None})
    response = httpx.get(feed_server.url("/a.xml"))
    assert "etag" not in response.headers
    assert "last-modified" in response.headers


def test_feed_stop_does_not_wait_for_slow_handlers() -> None:
    server = FeedServer().start()
    server.set("/slow.xml", RSS)
    server.delay("/slow.xml", 30)
    client = threading.Thread(
        target=lambda: pytest.raises(httpx.TransportError, httpx.get, server.url("/slow.xml")),
        daemon=True,
    )
    client.start()
    while not server.hits("/slow.xml"):
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    client.join(2)
    assert time.monotonic() - started < 1.5
    assert not client.is_alive()


# ------------------------------------------------------------------------- FakeBotAPI


async def test_bot_get_me(tg_bot: telegram.Bot, bot_api: FakeBotAPI) -> None:
    assert tg_bot.id == 123456
    assert tg_bot.username == "armswatch_test_bot"
    assert [c.method for c in bot_api.calls] == ["getMe"]


async def test_bot_send_message_stores_and_returns_message(
    tg_bot: telegram.Bot, bot_api: FakeBotAPI
) -> None:
    first = await tg_bot.send_message(
        CHANNEL,
        "<b>Deal</b> &amp; more <a href='https://example.com/x?a=1&amp;b=2'>link</a>",
        parse_mode="HTML",
        link_preview_options=telegram.LinkPreviewOptions(is_disabled=True),
    )
    second = await tg_bot.send_message(
        CHANNEL_ID, "plain", reply_parameters=telegram.ReplyParameters(first.message_id)
    )
    assert (first.message_id, second.message_id) == (1, 2)
    assert first.chat.id == second.chat.id == CHANNEL_ID
    assert first.chat.username == "armswatch_test"
    assert first.text == "Deal & more link"
    assert (
        first.text_html == '<b>Deal</b> &amp; more <a href="https://example.com/x?a=1&b=2">link</a>'
    )
    assert second.reply_to_message.message_id == 1
    stored = bot_api.messages_for(CHANNEL)
    assert stored == bot_api.messages_for(CHANNEL_ID) == bot_api.messages
    assert stored[0].plain == "Deal & more link"
    assert stored[0].text.startswith("<b>Deal</b> &amp;")
    assert (stored[0].parse_mode, stored[1].parse_mode) == ("HTML", None)
    assert stored[0].link_preview_options == {"is_disabled": True}
    assert stored[1].reply_to == 1


async def test_ptb_sends_form_strings(tg_bot: telegram.Bot, bot_api: FakeBotAPI) -> None:
    """PTB: form-encoded, every value a string, nested objects as JSON strings, and
    disable_web_page_preview turned into link_preview_options."""
    await tg_bot.send_message(CHANNEL_ID, "x", disable_web_page_preview=True)
    params = bot_api.calls[-1].params
    assert params == {
        "chat_id": str(CHANNEL_ID),
        "text": "x",
        "link_preview_options": '{"is_disabled": true}',
    }
    assert bot_api.messages[0].disable_web_page_preview is None


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("AT&T", 'Can\'t parse entities: unescaped "&" at byte offset 2'),
        ("a &nbsp; b", 'Can\'t parse entities: unescaped "&" at byte offset 2'),
        ("1 < 2", 'Can\'t parse entities: unsupported start tag "" at byte offset 2'),
        ("x <br> y", 'Can\'t parse entities: unsupported start tag "br" at byte offset 2'),
        ("<b>bold", "Can't parse entities: can't find end tag corresponding to start tag b"),
        ("<b><i>x</b></i>", "Can't parse entities: unmatched end tag at byte offset 7, expected"),
        ("x</b>", "Can't parse entities: unexpected end tag at byte offset 1"),
        ("<span>x</span>", 'Can\'t parse entities: tag "span" must have class "tg-spoiler"'),
        ("<a href=x'y>x</a>", "Can't parse entities: unexpected end of name token"),
        ("<a href=https://x.org>x</a>", "Can't parse entities: unexpected end of name token"),
        ("<b", "Can't parse entities: unclosed start tag at byte offset 0"),
        ("é<u", "Can't parse entities: unclosed start tag at byte offset 2"),
        ("a" * 4097, "Message is too long"),
        ("😀" * 2049, "Message is too long"),
        ("<b>" + "a" * 4097 + "</b>", "Message is too long"),
        ("", "Message text is empty"),
        ("  \n ", "Message text is empty"),
        ("<b></b>", "Message text is empty"),
    ],
)
async def test_bot_rejects_bad_html(tg_bot: telegram.Bot, bot_api: FakeBotAPI, text, description):
    """PTB strips "Bad Request: " and capitalize()s the rest: it lower-cases the whole tail."""
    with pytest.raises(BadRequest) as raised:
        await tg_bot.send_message(CHANNEL, text, parse_mode="HTML")
    assert str(raised.value).startswith(description)
    assert bot_api.calls[-1].status == 400
    assert bot_api.calls[-1].description.startswith("Bad Request: ")
    assert bot_api.messages == []


@pytest.mark.parametrize(
    ("html", "plain", "entities"),
    [
        ("&lt;a&gt; &quot;q&quot; &#39;s&#x27; &amp;", "<a> \"q\" 's' &", []),
        ("a > b", "a > b", []),
        ("<b>b</b><strong>s</strong>", "bs", [("bold", 0, 1), ("bold", 1, 1)]),
        ("<i>i</i><em>e</em>", "ie", [("italic", 0, 1), ("italic", 1, 1)]),
        ("<u>u</u><ins>n</ins>", "un", [("underline", 0, 1), ("underline", 1, 1)]),
        ("<s>s</s><strike>t</strike>", "st", [("strikethrough", 0, 1), ("strikethrough", 1, 1)]),
        ("<del>d</del>", "d", [("strikethrough", 0, 1)]),
        ("<tg-spoiler>x</tg-spoiler>", "x", [("spoiler", 0, 1)]),
        ('<span class="tg-spoiler">y</span>', "y", [("spoiler", 0, 1)]),
        ("😀<b>x</b>", "😀x", [("bold", 2, 1)]),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1", [("pre", 0, 5)]),
        ("<code>c</code>", "c", [("code", 0, 1)]),
        ("<blockquote>q</blockquote>", "q", [("blockquote", 0, 1)]),
        ("<blockquote expandable>q</blockquote>", "q", [("expandable_blockquote", 0, 1)]),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍", [("custom_emoji", 0, 2)]),
        ("<B>x</>", "x", [("bold", 0, 1)]),
        ("<b>a<i>b</i></b>", "ab", [("bold", 0, 2), ("italic", 1, 1)]),
        ('<a href="javascript:alert(1)">x</a>', "x", []),
        ("<a href=Example.com>x</a>", "x", [("text_link", 0, 1)]),
        ("&#128512;", "😀", []),
        ("&amp;" * 4096, "&" * 4096, []),
    ],
)
async def test_bot_accepts_html(tg_bot: telegram.Bot, html: str, plain: str, entities) -> None:
    message = await tg_bot.send_message(CHANNEL, html, parse_mode="HTML")
    assert message.text == plain
    assert [(e.type, e.offset, e.length) for e in message.entities] == entities


def test_parse_html_lenient_matches_telegram() -> None:
    assert parse_telegram_html("AT&T &nbsp;", strict=False) == ("AT&T &nbsp;", [])
    assert parse_telegram_html('<pre><code class="language-py">x</code></pre>')[1] == [
        {"type": "pre", "offset": 0, "length": 1, "language": "py"}
    ]


@pytest.mark.parametrize("chat", ["@nobody", -100999, "", "armswatch_test"])
async def test_bot_chat_not_found(tg_bot: telegram.Bot, chat) -> None:
    with pytest.raises(BadRequest, match="^Chat( not found|_id is empty)$"):
        await tg_bot.send_message(chat, "x")


async def test_bot_chat_username_case_insensitive(tg_bot, bot_api: FakeBotAPI) -> None:
    bot_api.add_chat(-1009, "Other", title="Other")
    await tg_bot.send_message("@ARMSWATCH_test", "x")
    await tg_bot.send_message("@other", "y")
    assert [m.chat_id for m in bot_api.messages] == [CHANNEL_ID, -1009]
    assert bot_api.messages_for(-1009)[0].message_id == 1


async def test_bot_chats_is_a_plain_set(tg_bot: telegram.Bot, bot_api: FakeBotAPI) -> None:
    bot_api.chats.update({"-1005", "@loose"})
    assert (await tg_bot.send_message(-1005, "x")).chat.id == -1005
    assert (await tg_bot.send_message("@loose", "y")).chat.username == "loose"
    bot_api.chats.discard("-1005")
    with pytest.raises(BadRequest, match="Chat not found"):
        await tg_bot.send_message(-1005, "z")


def test_feed_query_string_paths(feed_server: FeedServer) -> None:
    feed_server.set("/q", b"any")
    feed_server.set("/q?page=2", b"two")
    feed_server.fail("/q?page=3", 500)
    bodies = [httpx.get(feed_server.url(f"/q?page={n}")) for n in (1, 2, 3)]
    assert [(r.status_code, r.content) for r in bodies] == [
        (200, b"any"),
        (200, b"two"),
        (500, b"500 Internal Server Error"),
    ]
    assert (feed_server.hits("/q"), feed_server.hits("/q?page=2")) == (3, 1)


async def test_bot_forbidden_chat(tg_bot: telegram.Bot, bot_api: FakeBotAPI) -> None:
    bot_api.forbid(CHANNEL)
    with pytest.raises(Forbidden, match="not a member"):
        await tg_bot.send_message(CHANNEL_ID, "x")


async def test_bot_wrong_token(bot_api: FakeBotAPI) -> None:
    """PTB replaces the server's description with one that contains the token."""
    with pytest.raises(InvalidToken, match="The token `999:wrong` was rejected"):
        async with telegram.Bot("999:wrong", base_url=bot_api.base_url):
            pass
    assert bot_api.calls[0].status == 401


async def test_bot_unknown_method(tg_bot: telegram.Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await tg_bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": CHANNEL})


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("POST", {"json": {"chat_id": CHANNEL_ID, "text": "json", "parse_mode": "HTML"}}),
        ("POST", {"data": {"chat_id": CHANNEL, "text": "form"}}),
        ("GET", {"params": {"chat_id": CHANNEL, "text": "query"}}),
        ("POST", {"params": {"chat_id": CHANNEL}, "data": {"text": "mixed"}}),
    ],
)
def test_bot_api_body_kinds(bot_api: FakeBotAPI, bot_token: str, method: str, kwargs) -> None:
    url = f"{bot_api.base_url}{bot_token}/SENDMESSAGE"
    reply = httpx.request(method, url, **kwargs)
    assert reply.status_code == 200
    assert reply.json()["ok"] is True
    assert reply.json()["result"]["chat"]["id"] == CHANNEL_ID
    assert bot_api.calls[-1].method == "sendMessage"


@pytest.mark.parametrize(
    ("path", "status", "description"),
    [("/bot123456:TEST-token-abc/nope", 404, "Not Found"), ("/bot1:x/getMe", 401, "Unauthorized"),
     ("/other", 404, "Not Found")],
)  # fmt: skip
def test_bot_api_error_shape(bot_api: FakeBotAPI, path: str, status: int, description: str):
    reply = httpx.post(bot_api.origin + path)
    assert reply.status_code == status
    assert reply.json() == {"ok": False, "error_code": status, "description": description}


async def test_bot_edit_message_text(tg_bot: telegram.Bot, bot_api: FakeBotAPI) -> None:
    sent = await tg_bot.send_message(CHANNEL, "<b>v1</b>", parse_mode="HTML")
    edited = await tg_bot.edit_message_text(
        "<b>v2</b>", CHANNEL_ID, sent.message_id, parse_mode="HTML"
    )
    assert edited.text == "v2"
    assert edited.edit_date is not None
    stored = bot_api.messages[0]
    assert (stored.text, stored.plain, stored.history) == ("<b>v2</b>", "v2", ["<b>v1</b>"])


@pytest.mark.parametrize(
    ("message_id", "text", "description"),
    [
        (99, "x", "Message to edit not found"),
        (1, "<b>v1</b>", "Message is not modified: specified new message content"),
        (1, "<b>v2", "Can't parse entities"),
        (1, "", "Message text is empty"),
    ],
)
async def test_bot_edit_errors(tg_bot: telegram.Bot, message_id: int, text: str, description):
    await tg_bot.send_message(CHANNEL, "<b>v1</b>", parse_mode="HTML")
    with pytest.raises(BadRequest) as raised:
        await tg_bot.edit_message_text(text, CHANNEL, message_id, parse_mode="HTML")
    assert str(raised.value).startswith(description)


async def test_bot_send_photo_stores_bytes(tg_bot: telegram.Bot, bot_api: FakeBotAPI) -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    message = await tg_bot.send_photo(CHANNEL, data, caption="<i>map</i>", parse_mode="HTML")
    assert message.caption == "map"
    assert message.photo[0].file_size == len(data)
    assert bot_api.messages[0].photo == data
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await tg_bot.send_photo(CHANNEL, data, caption="x" * 1025)
    with pytest.raises(BadRequest, match="There is no text in the message to edit"):
        await tg_bot.edit_message_text("x", CHANNEL, message.message_id)


async def test_bot_get_updates_offset(tg_bot: telegram.Bot, bot_api: FakeBotAPI) -> None:
    bot_api.push_message("/status now")
    bot_api.push_update({"update_id": 10, "message": {"message_id": 1, "date": 0,
                        "chat": {"id": 1, "type": "private"}, "text": "hi"}})  # fmt: skip
    updates = await tg_bot.get_updates()
    assert [u.update_id for u in updates] == [1, 10]
    assert updates[0].message.text == "/status now"
    assert updates[0].message.entities[0].type == "bot_command"
    assert updates[0].message.entities[0].length == len("/status")
    assert [u.update_id for u in await tg_bot.get_updates(offset=2)] == [10]
    assert await tg_bot.get_updates(offset=11) == ()
    assert bot_api.push_message("again") == 11


async def test_bot_get_updates_long_poll_wakes_on_push(tg_bot, bot_api: FakeBotAPI) -> None:
    threading.Timer(0.2, bot_api.push_message, args=("/start",)).start()
    started = time.monotonic()
    updates = await tg_bot.get_updates(timeout=5)
    assert 0.15 < time.monotonic() - started < 2
    assert updates[0].message.text == "/start"


async def test_bot_get_updates_long_poll_times_out(tg_bot: telegram.Bot) -> None:
    started = time.monotonic()
    assert await tg_bot.get_updates(timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 2


async def test_bot_other_methods(tg_bot: telegram.Bot, bot_api: FakeBotAPI) -> None:
    bot_api.push_message("old")
    assert await tg_bot.delete_webhook(drop_pending_updates=True) is True
    assert await tg_bot.get_updates() == ()
    assert await tg_bot.set_my_commands([("status", "Show status")]) is True
    assert bot_api.commands == [{"command": "status", "description": "Show status"}]
    chat = await tg_bot.get_chat(CHANNEL)
    assert (chat.id, chat.type, chat.username) == (CHANNEL_ID, "channel", "armswatch_test")


# -------------------------------------------------------------------- fault injection


KICKED = "Forbidden: bot was kicked from the channel chat"


@pytest.mark.parametrize(
    ("fault", "exception", "match", "status", "retry"),
    [
        (Fault.flood(7), RetryAfter, "Flood control exceeded", 429, 7),
        (429, RetryAfter, "Flood control exceeded", 429, 1),
        (500, NetworkError, "Internal Server Error", 500, None),
        (Fault.error(502), NetworkError, "Bad Gateway", 502, None),
        (503, NetworkError, "Service Unavailable", 503, None),
        (Fault.error(403, KICKED), Forbidden, "kicked", 403, None),
        (Fault.reset(), NetworkError, "httpx", None, None),
    ],
)
async def test_bot_fault_then_recovery(tg_bot, bot_api, fault, exception, match, status, retry):
    bot_api.queue_errors(fault)
    with pytest.raises(exception, match=match) as raised:
        await tg_bot.send_message(CHANNEL, "x")
    if exception is RetryAfter:
        assert retry_seconds(raised.value) == retry
    assert bot_api.messages == []
    await tg_bot.send_message(CHANNEL, "y")
    assert [m.plain for m in bot_api.messages] == ["y"]
    assert [c.status for c in bot_api.calls][-2:] == [status, 200]


async def test_bot_429_wire_shape(bot_api: FakeBotAPI, bot_token: str) -> None:
    bot_api.queue_errors(Fault.flood(3))
    reply = httpx.post(f"{bot_api.base_url}{bot_token}/sendMessage", data={"chat_id": CHANNEL})
    assert reply.status_code == 429
    assert reply.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }


async def test_bot_faults_skip_get_me_unless_targeted(bot_api: FakeBotAPI, bot_token) -> None:
    bot_api.queue_errors(502)
    bot_api.queue_errors(503, method="editMessageText")
    async with telegram.Bot(bot_token, base_url=bot_api.base_url) as bot:
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(CHANNEL, "x")
        sent = await bot.send_message(CHANNEL, "y")
        with pytest.raises(NetworkError, match="Service Unavailable"):
            await bot.edit_message_text("z", CHANNEL, sent.message_id)
    bot_api.queue_errors(500, method="getMe")
    with pytest.raises(NetworkError):
        async with telegram.Bot(bot_token, base_url=bot_api.base_url):
            pass


async def test_bot_slow_answer_times_out_but_delivers(tg_bot, bot_api: FakeBotAPI) -> None:
    bot_api.queue_errors(Fault.slow(1))
    with pytest.raises(TimedOut):
        await tg_bot.send_message(CHANNEL, "maybe", read_timeout=0.2)
    assert [m.plain for m in bot_api.messages] == ["maybe"]


async def test_bot_reset_after_delivery(tg_bot, bot_api: FakeBotAPI) -> None:
    bot_api.queue_errors(Fault.reset(delivered=True))
    with pytest.raises(NetworkError):
        await tg_bot.send_message(CHANNEL, "lost answer")
    assert [m.plain for m in bot_api.messages] == ["lost answer"]


async def test_bot_flood_limit_per_chat(tg_bot: telegram.Bot, bot_api: FakeBotAPI) -> None:
    bot_api.add_chat(-1002, "second")
    bot_api.flood_limit(per_minute=3)
    for n in range(3):
        await tg_bot.send_message(CHANNEL, str(n))
    with pytest.raises(RetryAfter) as raised:
        await tg_bot.send_message(CHANNEL, "too many")
    assert 55 <= retry_seconds(raised.value) <= 60
    await tg_bot.send_message("@second", "other chat is fine")
    bot_api.flood_limit(None)
    await tg_bot.send_message(CHANNEL, "limit off")
    assert len(bot_api.messages_for(CHANNEL)) == 4


async def test_bot_flood_window_rolls(tg_bot: telegram.Bot, bot_api: FakeBotAPI) -> None:
    bot_api.flood_limit(per_minute=2, window=0.3)
    await asyncio.gather(*(tg_bot.send_message(CHANNEL, str(n)) for n in range(2)))
    with pytest.raises(RetryAfter):
        await tg_bot.send_message(CHANNEL, "too soon")
    await asyncio.sleep(0.35)
    await tg_bot.send_message(CHANNEL, "later")
    assert [c.status for c in bot_api.calls[1:]] == [200, 200, 429, 200]


async def test_bot_concurrent_sends_get_distinct_ids(tg_bot, bot_api: FakeBotAPI) -> None:
    sent = await asyncio.gather(*(tg_bot.send_message(CHANNEL, str(n)) for n in range(20)))
    assert sorted(m.message_id for m in sent) == list(range(1, 21))
    assert sorted(m.message_id for m in bot_api.messages) == list(range(1, 21))


def test_bot_api_chat_id_lookup(bot_api: FakeBotAPI) -> None:
    assert bot_api.chat_id("@armswatch_test") == bot_api.chat_id(CHANNEL_ID) == CHANNEL_ID
    with pytest.raises(ValueError, match="unknown chat"):
        bot_api.messages_for("@typo")


async def test_bot_bad_parameter_is_400(tg_bot: telegram.Bot) -> None:
    with pytest.raises(BadRequest, match="Wrong parameter value"):
        await tg_bot.do_api_request("getUpdates", api_kwargs={"offset": "abc"})


async def test_bot_api_down_and_back_on_same_port(tg_bot, bot_api: FakeBotAPI) -> None:
    await tg_bot.send_message(CHANNEL, "before")  # leaves a keep-alive connection in the pool
    base_url = bot_api.base_url
    bot_api.stop()
    for _ in range(2):
        with pytest.raises(NetworkError) as raised:
            await tg_bot.send_message(CHANNEL, "down")
        assert not isinstance(raised.value, TimedOut)
    bot_api.start()
    assert bot_api.base_url == base_url
    await tg_bot.send_message(CHANNEL, "after")
    assert [m.plain for m in bot_api.messages] == ["before", "after"]


async def test_bot_connection_refused(free_port: int, bot_token: str) -> None:
    with pytest.raises(NetworkError, match="ConnectError"):
        async with telegram.Bot(bot_token, base_url=f"http://127.0.0.1:{free_port}/bot"):
            pass


async def test_bot_stop_does_not_wait_for_long_poll(bot_token: str) -> None:
    api = FakeBotAPI(bot_token).start()
    async with telegram.Bot(bot_token, base_url=api.base_url) as bot:
        threading.Timer(0.2, api.stop).start()
        started = time.monotonic()
        with pytest.raises(NetworkError):
            await bot.get_updates(timeout=30)
        assert time.monotonic() - started < 2


def test_bot_calls_record_json_params(bot_api: FakeBotAPI, bot_token: str) -> None:
    body = {"chat_id": CHANNEL_ID, "text": "x", "link_preview_options": {"is_disabled": True}}
    httpx.post(f"{bot_api.base_url}{bot_token}/sendMessage", content=json.dumps(body),
               headers={"Content-Type": "application/json"})  # fmt: skip
    assert bot_api.calls[-1].params == body
    assert bot_api.messages[0].link_preview_options == {"is_disabled": True}
