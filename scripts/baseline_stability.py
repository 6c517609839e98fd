#!/usr/bin/env python3
"""Thin wrapper: `python scripts/baseline_stability.py --runs 3` == `autortc stability --runs 3`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autortc.cli import main

if __name__ == "__main__":
    sys.exit(main(["stability", *sys.argv[1:]]))
