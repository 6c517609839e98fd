"""Write a run's reports: summary.json, summary_brief.json, metrics.csv, report.md (+ extras)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from autortc.report.markdown import render_report
from autortc.report.outcome import NESTED_KEYS, SuiteOutcome, brief_summary

log = logging.getLogger(__name__)


def metrics_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    flat = [{k: (json.dumps(v) if k in NESTED_KEYS else v) for k, v in r.items()} for r in rows]
    df = pd.DataFrame(flat)
    first = [c for c in ("case_id", "priority", "attempt", "capture_status") if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]]


def write_reports(run_dir: Path, outcome: SuiteOutcome) -> dict[str, Path]:
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "summary": run_dir / "summary.json",
        "brief": run_dir / "summary_brief.json",
        "csv": run_dir / "metrics.csv",
        "md": run_dir / "report.md",
    }
    paths["summary"].write_text(json.dumps(outcome.summary, indent=1, default=str))
    paths["brief"].write_text(json.dumps(brief_summary(outcome.summary), indent=1, default=str))
    metrics_frame(outcome.rows).to_csv(paths["csv"], index=False)
    paths["md"].write_text(render_report(outcome.summary, outcome.rows))
    try:
        from autortc.report import extras
    except ImportError:
        return paths
    paths.update(extras.write_extras(run_dir, outcome))
    return paths
