#!/usr/bin/env python3
"""armswatch from a checkout: `python bot.py COMMAND` is `armswatch COMMAND` (watchers/cli.py)."""

import sys

from watchers.cli import COMMANDS, EXIT_ERROR, EXIT_OK, EXIT_QUEUED, main

__all__ = ["COMMANDS", "EXIT_ERROR", "EXIT_OK", "EXIT_QUEUED", "main"]

if __name__ == "__main__":
    sys.exit(main())
