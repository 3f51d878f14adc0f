"""The PostgreSQL store's statements and rows: leases, feed states, inserts, and the guard
that turns psycopg's errors into ours."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import psycopg

from watchers.errors import StoreError, StoreUnavailable
from watchers.store.base import FeedState

# Each feed stays with the instance that polled it last (lease_owner), which polls it as
# a single instance would. Another instance takes it only when nobody owns it (new, or
# given back at a clean stop), or its owner is `lease` seconds late: dead, frozen or cut
# off. Taking it also needs that nobody polled it since the state the taker read, and
# that no poll is under way (lease_until: set while polling). One statement, so two
# instances can never both win: the second waits for the first's row lock, then sees it.
CLAIM_FEED = """
insert into feeds as f (url, lease_owner, lease_until) values (%(url)s, %(me)s, %(until)s)
on conflict (url) do update set lease_owner = excluded.lease_owner,
    lease_until = excluded.lease_until
where f.lease_owner = %(me)s
   or (coalesce(f.next_poll, 0) = %(seen)s
       and (f.lease_until is null or f.lease_until < %(now)s)
       and (f.lease_owner is null or coalesce(f.next_poll, 0) <= %(late)s))
returning *
"""

# The feeds whose owner is `lease` late and not polling, oldest first, skipping rows other
# instances are adopting at the same moment.
ADOPT_FEEDS = """
with late as (
    select url from feeds
    where coalesce(next_poll, 0) <= %(late)s and lease_owner is not null
      and lease_owner != %(me)s and (lease_until is null or lease_until < %(now)s)
    order by next_poll limit %(limit)s
    for update skip locked)
update feeds f set lease_owner = %(me)s, lease_until = %(until)s from late
where f.url = late.url
returning f.url
"""

CLAIM_CHAT = """
insert into chat_leases as c (chat_id, owner, until) values (%(chat)s, %(me)s, %(until)s)
on conflict (chat_id) do update set owner = excluded.owner, until = excluded.until
where c.owner = %(me)s or c.until < %(now)s
returning owner
"""

STATE_COLUMNS = tuple(f.name for f in fields(FeedState))
# Writing a state ends the poll (lease_until) and keeps the feed with this instance,
# unless another took it meanwhile (this one was presumed dead): then its poll is the
# newer one and this write is dropped.
SAVE_STATE = (
    f"insert into feeds as f ({', '.join(STATE_COLUMNS)}, lease_owner, lease_until) "
    f"values ({', '.join(['%s'] * len(STATE_COLUMNS))}, %s, null) "
    "on conflict (url) do update set "
    + ", ".join(f"{c} = excluded.{c}" for c in STATE_COLUMNS[1:])
    + ", lease_owner = excluded.lease_owner, lease_until = null "
    "where f.lease_owner is null or f.lease_owner = excluded.lease_owner"
)


def state_params(state: FeedState, instance: str) -> list:
    """SAVE_STATE's parameters for a state written by this instance."""
    return [*(getattr(state, name) for name in STATE_COLUMNS), instance]


def state_from_row(row: dict) -> FeedState:
    return FeedState(**{k: v for k, v in row.items() if v is not None and k in STATE_COLUMNS})


def insert_sql(table: str, columns: list[str], upsert: str = "") -> str:
    """INSERT of same-shaped rows that skips those clashing with a unique key, or (upsert)
    updates the row with the same key."""
    sql = (
        f"insert into {table} ({', '.join(columns)}) "
        f"values ({', '.join(['%s'] * len(columns))}) on conflict "
    )
    if not upsert:
        return sql + "do nothing"
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != upsert)
    return sql + f"({upsert}) do update set {updates}"


def first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def guarded(method: Callable) -> Callable:
    """psycopg errors -> StoreUnavailable (the connection is lost: the store reconnects
    later) or StoreError, naming the database and the method."""

    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            result = method(self, *args, **kwargs)
        except StoreUnavailable:
            raise
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self._lost(exc)
            raise StoreUnavailable(f"{self.where}: {method.__name__}: {first_line(exc)}") from exc
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: {method.__name__} failed: {exc}") from exc
        self._reached()
        return result

    return call
