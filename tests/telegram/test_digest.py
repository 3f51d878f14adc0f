"""Digest rules: matches collected, sent as one message per rule and chat when due."""

import bot
from tests.helpers import CHAT, TOKEN_ENV, keyword_items, rss, seed_item, write_config
from watchers.store.sqlite import open_store
from watchers.telegram.digest import compose_digest
from watchers.telegram.message import TELEGRAM_LIMIT, plain_text

DIGEST_RULE = '\n[[rules]]\nname = "daily-words"\nany = ["daily-digest-word"]\ndigest = "daily"\n'


def age_digest(db_path, seconds: float) -> None:
    """Make the collected items look older (as if a day had passed)."""
    store = open_store(db_path)
    try:
        store.db.execute("update digest set created = created - ?", [seconds])
    finally:
        store.close()


def test_digest_collects_then_sends_one_message(
    tmp_path, feed_server, bot_api, bot_token, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, bot_token)
    items = [
        {
            "guid": f"d{i}",
            "title": f"daily-digest-word item {i} {'xyz' * i}",
            "link": f"https://d.org/{i}",
        }
        for i in range(3)
    ]
    feed_server.set("/f.xml", rss([*items, seed_item()]))
    config = write_config(
        tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))], bot_api.base_url, extra=DIGEST_RULE
    )
    assert bot.main(["--config", str(config), "once"]) == 0
    assert len(bot_api.messages) == 1  # the seed alerts now; the digest items wait
    age_digest(tmp_path / "state.db", 86400)
    assert bot.main(["--config", str(config), "once"]) == 0
    digest = bot_api.messages_for(CHAT)[-1]
    assert digest.plain.startswith("🗞 Daily digest: daily-words (3)")
    assert all(f"daily-digest-word item {i}" in digest.plain for i in range(3))
    assert 'href="https://d.org/0"' in digest.text
    assert bot.main(["--config", str(config), "once"]) == 0
    assert len(bot_api.messages) == 2  # sent once


def test_an_item_alerted_anyway_is_not_repeated_in_the_digest(
    tmp_path, feed_server, bot_api, bot_token, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, bot_token)
    both = keyword_items(1)[0] | {"title": keyword_items(1)[0]["title"] + " daily-digest-word"}
    feed_server.set("/f.xml", rss([both]))
    config = write_config(
        tmp_path / "c.toml", [("F", feed_server.url("/f.xml"))], bot_api.base_url, extra=DIGEST_RULE
    )
    assert bot.main(["--config", str(config), "once"]) == 0
    age_digest(tmp_path / "state.db", 86400)
    assert bot.main(["--config", str(config), "once"]) == 0
    (message,) = bot_api.messages
    assert "Rule: keyword" in message.plain


def test_a_long_digest_stays_under_telegrams_limit():
    lines = [f'• <a href="https://x.org/{i}">{"headline " * 20}{i}</a>' for i in range(200)]
    text = compose_digest("r", "hourly", lines)
    assert len(plain_text(text)) <= TELEGRAM_LIMIT
    assert text.endswith("more)</i>")
