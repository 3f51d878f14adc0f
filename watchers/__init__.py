"""armswatch: watch news feeds for arms transfers and alert a Telegram channel."""

__version__ = "0.1.0"
