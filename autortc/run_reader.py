"""Read a finished run directory back: its attempts' rows (stability, merge).

An attempt directory is `<run>/<case_id>/a<N>`, or `r<R>a<N>` with --repeat.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from autortc.errors import InputError
from autortc.metrics.rows import AttemptRow

ATTEMPT_DIR = re.compile(r"^(r\d+)?a\d+$")


def attempt_dirs(run_dir: Path) -> list[Path]:
    """Every attempt directory of the run, sorted by path."""
    return sorted(p for p in Path(run_dir).glob("*/*") if p.is_dir() and ATTEMPT_DIR.match(p.name))


def rows_from_attempts(run_dir: Path) -> list[AttemptRow]:
    rows: list[AttemptRow] = []
    for att in attempt_dirs(run_dir):
        path = att / "metrics.json"
        if not path.is_file():
            continue
        try:
            body = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise InputError(f"{path}: not valid JSON ({e})") from None
        if isinstance(body, dict) and "case_id" in body:
            rows.append(AttemptRow.from_dict(body, source=str(path)))
    return rows


def rows_from_csv(path: Path) -> list[AttemptRow]:
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: unreadable metrics.csv ({e})") from None
    return [
        AttemptRow.from_dict({str(k): v for k, v in rec.items()}, source=f"{path} row {i + 2}")
        for i, rec in enumerate(df.to_dict(orient="records"))
    ]


def read_summary(run_dir: Path, *, needs: str) -> dict[str, object]:
    """The run's summary.json; an InputError naming the file (and the field `needs`,
    when it lacks it) for anything that is not an AutoRTC run directory."""
    path = Path(run_dir) / "summary.json"
    if not Path(run_dir).is_dir():
        raise InputError(f"{run_dir}: run directory not found")
    if not path.is_file():
        raise InputError(f"{path}: not found: {run_dir} is not an AutoRTC run directory")
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(body, dict) or needs not in body:
        raise InputError(f"{path}: field '{needs}' missing: not an AutoRTC summary.json")
    return body


def read_rows(run_dir: Path) -> list[AttemptRow]:
    """The run's rows: from the attempts' metrics.json, else from metrics.csv."""
    rows = rows_from_attempts(run_dir)
    if not rows and (Path(run_dir) / "metrics.csv").is_file():
        rows = rows_from_csv(Path(run_dir) / "metrics.csv")
    if not rows:
        raise InputError(f"{run_dir}: no per-attempt metrics.json and no metrics.csv")
    return rows
