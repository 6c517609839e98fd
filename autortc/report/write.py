"""Write a run's reports: summary.json, summary_brief.json, metrics.csv, report.md,
junit.xml and report.html."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from autortc.metrics.rows import AttemptRow
from autortc.repeats import repeat_stats, repeats_csv_rows
from autortc.report.extras import write_extras
from autortc.report.html import CaseView
from autortc.report.markdown import render_report
from autortc.report.outcome import SuiteOutcome, brief_summary

# row fields that are lists / mappings; metrics.csv holds them as JSON text
NESTED_FIELDS = ("replies", "turns", "null_reasons", "phases_ms")
ID_COLUMNS = ("case_id", "priority", "attempt", "capture_status")


def metrics_frame(rows: Sequence[AttemptRow]) -> pd.DataFrame:
    flat = [
        {k: (json.dumps(v) if k in NESTED_FIELDS else v) for k, v in r.to_dict().items()}
        for r in rows
    ]
    df = pd.DataFrame(flat)
    first = [c for c in ID_COLUMNS if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]]


def write_reports(
    run_dir: Path, outcome: SuiteOutcome, views: Sequence[CaseView] = ()
) -> dict[str, Path]:
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "summary": run_dir / "summary.json",
        "brief": run_dir / "summary_brief.json",
        "csv": run_dir / "metrics.csv",
        "md": run_dir / "report.md",
    }
    paths["summary"].write_text(outcome.summary.model_dump_json(indent=1))
    paths["brief"].write_text(brief_summary(outcome.summary).model_dump_json(indent=1))
    metrics_frame(outcome.rows).to_csv(paths["csv"], index=False)
    paths["md"].write_text(render_report(outcome.summary, outcome.rows))
    repeated = repeat_stats(outcome.rows, outcome.summary.gates_config)
    if repeated:
        paths["repeats"] = run_dir / "repeats.csv"
        pd.DataFrame(repeats_csv_rows(repeated)).to_csv(paths["repeats"], index=False)
    paths.update(write_extras(run_dir, outcome, views))
    return paths
