#!/usr/bin/env python3
"""Thin wrapper: `python scripts/run_suite.py --suite mini` == `autortc run --suite mini`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autortc.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
