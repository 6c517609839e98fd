"""`autortc baseline freeze RUN_DIR --name NAME`: make golden/<name>/ from a run.

A golden baseline holds summary.json (with BASELINE_NAME, FROZEN_FROM and frozen_at
added), metrics.csv, report.md and, per case, its final attempt's small artifacts:
the JSON files, events.jsonl, pre_rtc.wav and post_rtc_reply.wav: the two clips a
person compares. input.wav and turn*.wav (the committed case audio), post_rtc_user.wav
and post_rtc_full.wav (mostly silence; `include_full_audio=True` keeps it) are left
out, so the mini suite's golden directory stays under about 5 MB (about 4 MB measured).
It is never overwritten without `force` (spec: PRIMARY_KPI and baseline).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from autortc.errors import InputError

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
RUN_FILES = ("metrics.csv", "report.md", "junit.xml")  # report.html embeds audio: left out
ATTEMPT_SUFFIXES = (".json", ".jsonl", ".wav")
# input.wav is the committed case audio (cases/audio/); turn*.wav are its per-turn copies
SKIP_WAVS = ("post_rtc_user.wav", "input.wav")
FULL_WAV = "post_rtc_full.wav"


def validate_name(name: str) -> str:
    if not NAME_RE.match(name) or name in (".", ".."):
        raise InputError(
            f"baseline name {name!r} is invalid: use 1-64 letters, digits, '.', '_' or '-', "
            "no slashes or spaces"
        )
    return name


def _keep(path: Path, *, include_full_audio: bool) -> bool:
    if path.suffix not in ATTEMPT_SUFFIXES or not path.is_file():
        return False
    if path.name == FULL_WAV:
        return include_full_audio
    return not (path.name in SKIP_WAVS or (path.name.startswith("turn") and path.suffix == ".wav"))


def _final_attempts(run_dir: Path, summary: dict[str, object]) -> list[tuple[str, int]]:
    """(case_id, attempt) of each case's final attempt: from summary.json, else the directories."""
    found: list[tuple[str, int]] = []
    cases = summary.get("cases")
    if isinstance(cases, list) and cases:
        found = [(str(c["case_id"]), int(c["attempt"])) for c in cases if isinstance(c, dict)]
    else:
        for att in run_dir.glob("*/a*"):
            if att.is_dir() and att.name[1:].isdigit():
                found.append((att.parent.name, int(att.name[1:])))
    last: dict[str, int] = {}
    for case_id, attempt in found:
        last[case_id] = max(attempt, last.get(case_id, 0))
    return list(last.items())


def freeze(
    run_dir: Path,
    *,
    name: str,
    golden_dir: Path = Path("golden"),
    force: bool = False,
    include_full_audio: bool = False,
    now: datetime | None = None,
) -> Path:
    """Copy a run into golden_dir/name/. Returns that directory."""
    validate_name(name)
    run_dir = Path(run_dir)
    src_summary = run_dir / "summary.json"
    if not src_summary.is_file():
        raise InputError(
            f"{src_summary}: not found: {run_dir} is not an AutoRTC run directory "
            "(expected output/autortc/<run_id>/ with summary.json)"
        )
    try:
        summary = json.loads(src_summary.read_text())
    except ValueError as e:
        raise InputError(f"{src_summary}: not valid JSON ({e})") from None
    if not isinstance(summary, dict) or "PRIMARY_KPI_VALUE" not in summary:
        raise InputError(
            f"{src_summary}: field 'PRIMARY_KPI_VALUE' missing: not an AutoRTC summary.json"
        )
    dest = Path(golden_dir) / name
    if dest.exists() and not force:
        raise InputError(
            f"{dest} already exists: a golden baseline is never overwritten; "
            "pass --force to replace it, or choose another --name"
        )
    tmp = dest.with_name(f".{name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    frozen = dict(summary)
    frozen["BASELINE_NAME"] = name
    frozen["FROZEN_FROM"] = summary.get("run_id") or run_dir.name
    frozen["frozen_at"] = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    (tmp / "summary.json").write_text(json.dumps(frozen, indent=1, default=str))
    for fname in RUN_FILES:
        if (run_dir / fname).is_file():
            shutil.copy2(run_dir / fname, tmp / fname)
    for case_id, attempt in _final_attempts(run_dir, summary):
        src = run_dir / case_id / f"a{attempt}"
        if not src.is_dir():
            log.warning("baseline: attempt directory missing", extra={"path": str(src)})
            continue
        out = tmp / case_id / f"a{attempt}"
        out.mkdir(parents=True)
        for f in sorted(src.iterdir()):
            if _keep(f, include_full_audio=include_full_audio):
                shutil.copy2(f, out / f.name)
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return dest
