"""Shared fixtures: real servers on 127.0.0.1 for feeds, the Telegram Bot API and
PostgreSQL."""

import os
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import telegram
from telegram.request import HTTPXRequest

from tests.pgserver import PASSWORD, PgServer, Unavailable
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


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One real PostgreSQL server for the session (PGPASSWORD set for its clients and the
    processes tests start); skips the tests that need it when none can be started."""
    try:
        server = PgServer().start()
    except Unavailable as exc:
        pytest.skip(f"no PostgreSQL server: {exc}")
    old = os.environ.get("PGPASSWORD")
    os.environ["PGPASSWORD"] = PASSWORD
    try:
        yield server
    finally:
        if old is None:
            os.environ.pop("PGPASSWORD", None)
        else:
            os.environ["PGPASSWORD"] = old
        server.close()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of a fresh, empty database on the session's server."""
    return pg_server.create_db()


@pytest.fixture(params=["sqlite", "postgresql"])
def open_db(request, tmp_path) -> Callable:
    """Opens a store on one database, SQLite file or PostgreSQL; each call is another
    connection to the same database, as another process (or instance) would make."""
    from watchers.store.connect import open_configured

    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    return lambda lease=60.0: open_configured(tmp_path / "state.db", url, lease)


@pytest.fixture
def store(open_db):
    """A store on a fresh database, of each kind."""
    store = open_db()
    yield store
    store.close()
