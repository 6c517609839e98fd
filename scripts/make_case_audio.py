#!/usr/bin/env python
"""Regenerate the committed case audio (cases/audio/*.wav + .json) for every suite.

python scripts/make_case_audio.py            # write all
python scripts/make_case_audio.py --check    # exit 1 if any file would change
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autortc.case_audio import AUDIO_DIR, write_case_audio
from autortc.case_schema import SUITE_NAMES, Case, load_suite
from autortc.errors import AutortcError


def all_cases() -> list[Case]:
    cases: dict[str, Case] = {}
    for name in SUITE_NAMES:
        for case in load_suite(name):
            cases.setdefault(case.id, case)
    return list(cases.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio-dir", type=Path, default=AUDIO_DIR)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    try:
        cases = all_cases()
        if not args.check:
            paths = write_case_audio(cases, args.audio_dir)
            expected = {p.name for p in paths} | {p.with_suffix(".json").name for p in paths}
            for old in sorted(args.audio_dir.glob("*__t*.*")):
                if old.name not in expected:
                    old.unlink()
                    print(f"removed stale {old}")
            total = sum(p.stat().st_size for p in args.audio_dir.iterdir())
            print(f"wrote {len(paths)} turn(s) to {args.audio_dir} ({total / 1e6:.2f} MB)")
            return 0
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_case_audio(cases, Path(tmp))
            changed = [
                p.name
                for p in paths
                for f in (p, p.with_suffix(".json"))
                if not (args.audio_dir / f.name).is_file()
                or (args.audio_dir / f.name).read_bytes() != f.read_bytes()
            ]
        for name in changed:
            print(f"differs: {name}")
        print(f"checked {len(paths)} turn(s): {len(changed)} file(s) differ")
        return 1 if changed else 0
    except AutortcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
