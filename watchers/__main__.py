"""`python -m watchers COMMAND` is `armswatch COMMAND`."""

import sys

from watchers.cli import main

sys.exit(main())
