"""Logging: key=value event lines on stderr, journald-friendly, the token never shown."""

from __future__ import annotations

import logging
import sys


class RedactFilter(logging.Filter):
    """Replaces secrets in every record's final message."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                for secret in self.secrets:
                    record.exc_text = record.exc_text.replace(secret, "[token]")
                record.exc_info = None
            for secret in self.secrets:
                message = message.replace(secret, "[token]")
            record.msg, record.args = message, ()
        return True


def setup_logging(verbose: bool = False, secrets: list[str] | None = None) -> None:
    """Configure logging once, from main()."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    )
    handler.addFilter(RedactFilter(secrets or []))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    noisy_loggers = ("aiohttp", "httpx", "httpcore", "telegram", "apscheduler", "watchfiles")
    for noisy in (*noisy_loggers, "pymorphy3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
