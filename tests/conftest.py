"""Shared fixtures: real servers on 127.0.0.1 for feeds and the Telegram Bot API."""

from collections.abc import AsyncIterator, Iterator

import pytest
import telegram
from telegram.request import HTTPXRequest

from tests.servers import FakeBotAPI, FeedServer
from tests.servers import free_port as _free_port

BOT_TOKEN = "123456:TEST-token-abc"


@pytest.fixture
def bot_token() -> str:
    """The token FakeBotAPI accepts (any other gets 401 Unauthorized)."""
    return BOT_TOKEN


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A started FeedServer; fails the test if its handlers raised."""
    with FeedServer() as server:
        yield server
    assert not server.errors, server.errors


@pytest.fixture
def bot_api(bot_token: str) -> Iterator[FakeBotAPI]:
    """A started FakeBotAPI for bot_token; fails the test if its handlers raised."""
    with FakeBotAPI(bot_token) as api:
        yield api
    assert not api.errors, api.errors


@pytest.fixture
async def tg_bot(bot_api: FakeBotAPI, bot_token: str) -> AsyncIterator[telegram.Bot]:
    """An initialized telegram.Bot talking to bot_api.

    verify=False only skips loading CA certificates (~35 ms per Bot; plain HTTP here).
    """
    requests = [HTTPXRequest(httpx_kwargs={"verify": False}) for _ in range(2)]
    bot = telegram.Bot(
        bot_token, base_url=bot_api.base_url, request=requests[0], get_updates_request=requests[1]
    )
    async with bot:
        yield bot


@pytest.fixture
def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connections are refused)."""
    return _free_port()
