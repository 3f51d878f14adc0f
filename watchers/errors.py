"""The exception tree of armswatch.

    ArmswatchError
    ├── ConfigError      a config, data or OPML file is invalid (names file, line, key)
    ├── FetchError       a feed could not be fetched (network, HTTP status, size, time)
    │   └── FeedGone     the feed answered 410 Gone: stop polling it
    ├── ParseError       fetched bytes are not a usable feed
    ├── StoreError       the database cannot be opened or written
    │   └── StoreUnavailable  a read or write failed for a reason a retry can mend (the
    │                         disk or [storage] max_bytes is full, the file stays locked,
    │                         I/O, the PostgreSQL server cannot be reached)
    └── DeliveryError    Telegram refused an alert for good (bad request, chat not found)

Stages wrap third-party exceptions in these with ``raise ... from``; the pipeline
catches them per feed, logs them with the feed's name and goes on. A StoreUnavailable
leaves nothing half-stored: the daemon retries what it was doing and keeps running; any
other StoreError stops it.
"""


class ArmswatchError(Exception):
    """Base of every error armswatch raises on purpose."""


class ConfigError(ArmswatchError):
    """The configuration (or an entity data file) is invalid."""


class FetchError(ArmswatchError):
    """A feed could not be fetched."""

    def __init__(self, message: str, kind: str = "network", retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


class FeedGone(FetchError):
    """The feed answered 410 Gone."""


class ParseError(ArmswatchError):
    """Fetched bytes are not a usable feed."""


class StoreError(ArmswatchError):
    """The database cannot be opened or written."""


class StoreUnavailable(StoreError):
    """A read or write failed for a passing reason (full, locked, I/O, the database server
    unreachable); retry later."""


class DeliveryError(ArmswatchError):
    """Telegram refused an alert permanently."""
