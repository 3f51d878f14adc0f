"""The PostgreSQL store's statements and rows: leases, feed states, inserts, and the guard
that turns psycopg's errors into ours."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import psycopg

from watchers.errors import StoreError, StoreUnavailable
from watchers.store.base import PENDING, FeedState, QueuedAlert

# A lease is taken when it is free (or expired) and nobody polled the feed since the
# caller read its state, or renewed when this instance holds it: one statement, so two
# instances can never both win (the second waits for the first's row lock, then sees
# its lease).
CLAIM_FEED = """
insert into feeds as f (url, lease_owner, lease_until) values (%(url)s, %(me)s, %(until)s)
on conflict (url) do update set lease_owner = excluded.lease_owner,
    lease_until = excluded.lease_until
where f.lease_owner = %(me)s
   or ((f.lease_owner is null or f.lease_until < %(now)s)
       and coalesce(f.next_poll, 0) = %(seen)s)
returning *
"""

CLAIM_CHAT = """
insert into chat_leases as c (chat_id, owner, until) values (%(chat)s, %(me)s, %(until)s)
on conflict (chat_id) do update set owner = excluded.owner, until = excluded.until
where c.owner = %(me)s or c.until < %(now)s
returning owner
"""

STATE_COLUMNS = tuple(f.name for f in fields(FeedState))
# Writing a state gives the lease back, unless another instance took it meanwhile (this
# one was presumed dead): then its poll is the newer one and this write is dropped.
SAVE_STATE = (
    f"insert into feeds as f ({', '.join(STATE_COLUMNS)}, lease_owner, lease_until) "
    f"values ({', '.join(['%s'] * len(STATE_COLUMNS))}, null, null) "
    "on conflict (url) do update set "
    + ", ".join(f"{c} = excluded.{c}" for c in STATE_COLUMNS[1:])
    + ", lease_owner = null, lease_until = null "
    "where f.lease_owner is null or f.lease_owner = %s"
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


def alert_row(alert: QueuedAlert, now: float) -> dict:
    """An outbox row of a new alert (its id from the table's identity)."""
    return {
        "kind": alert.kind,
        "target_item": alert.target_item,
        "story_id": alert.story_id,
        "item_id": alert.item_id,
        "chat_id": alert.chat_id,
        "text": alert.text,
        "status": PENDING,
        "attempts": 0,
        "error": "",
        "message_id": None,
        "created_at": now,
        "last_attempt": None,
        "sent_at": None,
        "next_attempt": 0.0,
    }


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
