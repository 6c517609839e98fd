"""`autortc run`: preflight, run the cases, summarise, write reports, print the verdict."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from autortc.errors import InputError
from autortc.gates import load_gates
from autortc.orchestrator import RunOptions, SuiteRun, preflight, run_cases
from autortc.report.outcome import SuiteOutcome, summarize
from autortc.report.write import write_reports


def load_baseline(path: Path) -> tuple[dict[str, Any], str]:
    """A golden baseline's summary.json and its version name (golden/<name>)."""
    if not path.exists():
        raise InputError(
            f"{path}: baseline file not found (make one with `autortc baseline freeze RUN_DIR --name NAME`)"
        )
    try:
        body = json.loads(path.read_text())
    except ValueError as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(body, dict) or "PRIMARY_KPI_VALUE" not in body:
        raise InputError(f"{path}: field 'PRIMARY_KPI_VALUE' missing: not an AutoRTC summary.json")
    version = body.get("BASELINE_NAME") or f"{path.parent.parent.name}/{path.parent.name}"
    return body, str(version)


def outcome_for(run: SuiteRun, opts: RunOptions, started_wall: float) -> SuiteOutcome:
    config = load_gates(opts.gates_path)
    baseline, version = load_baseline(opts.baseline_path) if opts.baseline_path else (None, None)
    run_info = {
        "run_id": run.run_id,
        "suite": opts.suite,
        "transport": run.transport_name,
        "agent_name": opts.agent_name,
        "blackbox": opts.blackbox,
        "started_unix_s": round(started_wall, 3),
        "wall_s": round(run.wall_s, 2),
    }
    rows = [r.metrics for r in run.records]
    return summarize(
        rows, config=config, baseline=baseline, baseline_version=version, run_info=run_info
    )


async def run_and_report(opts: RunOptions) -> int:
    t0 = time.monotonic()
    started_wall = time.time()
    cases = preflight(opts)  # bad input fails here, before any process starts
    load_gates(opts.gates_path)
    if opts.baseline_path:
        load_baseline(opts.baseline_path)
    where = f"LiveKit {opts.livekit_url}" if opts.livekit_url else "the embedded local transport"
    opts.echo(f"autortc: suite '{opts.suite}': {len(cases)} cases on {where}")
    run = await run_cases(opts, cases)
    outcome = outcome_for(run, opts, started_wall)
    paths = write_reports(run.run_dir, outcome)
    print_verdict(outcome, paths, wall_s=time.monotonic() - t0, echo=opts.echo)
    return outcome.exit_code


def print_verdict(
    outcome: SuiteOutcome, paths: dict[str, Path], *, wall_s: float, echo: Any = print
) -> None:
    s = outcome.summary
    kpi = s.get("PRIMARY_KPI_VALUE")
    line = f"PRIMARY_KPI {s['PRIMARY_KPI_NAME']} = {kpi if kpi is None else f'{kpi:.1f}'} ms"
    if s.get("BASELINE_VERSION"):
        d = s.get("PRIMARY_KPI_DELTA_MS")
        ci = s.get("PRIMARY_KPI_DELTA_CI95")
        ci_s = f", 95% CI [{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci else ""
        line += (
            f"; baseline {s['BASELINE_VERSION']} = {s.get('BASELINE_PRIMARY_KPI')} ms; "
            f"delta {d if d is None else f'{d:+.1f}'} ms{ci_s}"
        )
    echo(line)
    for g in s.get("gates", []):
        if g["verdict"] in ("FAIL", "INFRA", "WARN"):
            echo(
                f"  {g['verdict']:5s} {g['name']} ({g['scope']}): observed {g['observed']} vs {g['threshold']}"
            )
    echo(f"VERDICT {outcome.verdict} (exit {outcome.exit_code}); report: {paths['md']}")
    echo(f"wall time {wall_s:.1f} s")
