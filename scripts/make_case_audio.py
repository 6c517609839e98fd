#!/usr/bin/env python
"""Regenerate the committed case audio (cases/audio/*.wav + .json) for every suite.

    python scripts/make_case_audio.py            # write all (removes stale files)
    python scripts/make_case_audio.py --check    # exit 1 if any file would change

Same as `autortc make-audio`; the work is in `autortc.case_audio.main`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autortc.case_audio import main

if __name__ == "__main__":
    sys.exit(main())
