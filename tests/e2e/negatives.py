"""Find latencies below 0 anywhere in a run's outputs (the issue's acceptance: none in
metrics.csv, summary.json, report.md or report.html, nor in any metrics.json)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from autortc.metrics import registry as M

MS_NAMES = {m.name for m in M.REGISTRY if m.unit == "ms"}
DELTA = re.compile(r"delta|\u0394|vs baseline", re.IGNORECASE)  # a delta may be below 0


def _walk(obj: Any, where: str, out: list[str]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                if (k in MS_NAMES or k.endswith("_ms")) and v < 0:
                    out.append(f"{where}:{k}={v}")
            else:
                _walk(v, f"{where}/{k}", out)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _walk(v, f"{where}[{i}]", out)


def negative_latencies(run_dir: Path) -> list[str]:
    out: list[str] = []
    for path in [*sorted(run_dir.rglob("metrics.json")), run_dir / "summary.json"]:
        if path.exists():
            _walk(json.loads(path.read_text()), str(path.relative_to(run_dir)), out)
    csv_path = run_dir / "metrics.csv"
    with csv_path.open() if csv_path.exists() else open("/dev/null") as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                if k.endswith("_ms") and v and v.lstrip().startswith("-"):
                    out.append(f"metrics.csv:{row['case_id']}:{k}={v}")
    for name in ("report.md", "report.html"):
        text = (run_dir / name).read_text() if (run_dir / name).exists() else ""
        for line in text.splitlines():
            if DELTA.search(line):
                continue
            # a number of ms with a minus sign in front (not a dash in prose)
            found = re.finditer(r"(?<![\w.])[-\u2212]\d+(\.\d+)? ?ms", line)
            out += [f"{name}:{m.group(0)}" for m in found]
    return out
