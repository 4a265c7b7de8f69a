"""``python -m attention``: the command line of :mod:`attention.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
