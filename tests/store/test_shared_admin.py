"""Admin commands with several instances on one PostgreSQL: Telegram lets one client read
getUpdates, so only the instance holding the lease polls; the others take over when it
stops or is a lease late."""

import asyncio

from watchers.admin import UpdatesLease, follow_turn
from watchers.store.sqlite import open_store


class Updater:
    """python-telegram-bot's Updater as follow_turn() uses it: polling or not."""

    def __init__(self):
        self.running = False
        self.starts = 0

    async def start_polling(self, error_callback=None):
        self.running, self.starts = True, self.starts + 1

    async def stop(self):
        self.running = False


def turn(lease: UpdatesLease, updater: Updater, now: float) -> bool:
    return asyncio.run(follow_turn(lease, updater, now, lambda exc: None))


def test_one_instance_polls_for_updates_and_another_takes_over_when_it_stops(two):
    (a, b), (ua, ub) = [UpdatesLease(s) for s in two], (Updater(), Updater())
    assert turn(a, ua, 100.0) and ua.running
    assert not turn(b, ub, 101.0) and not ub.running
    for now in (102.5, 105.0, 107.5, 110.0, 112.5):  # a renews every quarter lease
        assert turn(a, ua, now)
        assert not turn(b, ub, now + 0.1)
    assert (ua.starts, ub.starts) == (1, 0)
    a.give_back()  # a stops cleanly
    assert turn(b, ub, 113.0) and ub.running
    assert not turn(a, ua, 113.5) and not ua.running  # b's turn now, had a gone on


def test_a_killed_pollers_lease_expires_and_another_takes_over(pg_url, two):
    a, b = (UpdatesLease(s) for s in two)
    ua, ub = Updater(), Updater()
    assert turn(a, ua, 100.0)
    two[0]._conn.close()  # a is killed (or cut off): its lease is not renewed
    assert not turn(b, ub, 109.0)  # a's lease runs to 110
    assert turn(b, ub, 110.5) and ub.running
    assert not turn(a, ua, 111.0) and not ua.running  # a back: b holds it, a stops polling
    assert turn(b, ub, 112.0)


def test_an_instance_of_its_own_always_polls(tmp_path):
    store = open_store(tmp_path / "s.db")
    updater = Updater()
    assert turn(UpdatesLease(store), updater, 100.0) and updater.running
    store.close()
