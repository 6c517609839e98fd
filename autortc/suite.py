"""`autortc run`: preflight, run the cases, summarise, write reports, print the verdict."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from autortc.calibrate import kpi_error_note
from autortc.errors import AutortcError, CaseError, InputError
from autortc.gates import load_gates
from autortc.kpi import Baseline
from autortc.metrics.pooled import pooled_heard_wer
from autortc.orchestrator import RunOptions, RunProgress, SuiteRun, preflight, run_cases
from autortc.quality.run import describe
from autortc.report.outcome import RunInfo, SuiteOutcome, summarize
from autortc.report.write import write_reports


def check_writable_dir(path: Path, *, option: str) -> None:
    """Make `path` (with parents) and prove a file can be written there; else one
    InputError naming the option, before anything starts."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".autortc-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise InputError(f"{option} {path}: cannot write there ({why})") from None


def load_baseline(path: Path) -> tuple[Baseline, str]:
    """A golden baseline's summary.json and its version name (golden/<name>)."""
    if not path.is_file():
        raise InputError(
            f"{path}: baseline file not found (make one with "
            "`autortc baseline freeze RUN_DIR --name NAME`)"
        )
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(body, dict) or "PRIMARY_KPI_VALUE" not in body:
        raise CaseError(str(path), "PRIMARY_KPI_VALUE", "missing: not an AutoRTC summary.json")
    try:
        baseline = Baseline.model_validate(body)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "<root>"
        raise CaseError(str(path), field, err["msg"]) from None
    version = baseline.BASELINE_NAME or f"{path.parent.parent.name}/{path.parent.name}"
    return baseline, version


def outcome_for(
    run: SuiteRun, opts: RunOptions, started_wall: float, *, incomplete: str | None = None
) -> SuiteOutcome:
    config = load_gates(opts.gates_path)
    baseline, version = load_baseline(opts.baseline_path) if opts.baseline_path else (None, None)
    run_info = RunInfo(
        run_id=run.run_id,
        suite=opts.suite,
        transport=run.transport_name,
        agent_name=opts.agent_name,
        blackbox=opts.blackbox,
        started_unix_s=round(started_wall, 3),
        wall_s=round(run.wall_s, 2),
        incomplete=incomplete,
        shard=f"{opts.shard[0]}/{opts.shard[1]}" if opts.shard else None,
        jobs=opts.jobs,
        startup_s=round(run.startup_s, 2) if run.startup_s is not None else None,
        kpi_error=kpi_error_note(transport=run.transport_name),
        model_figures=describe(opts.listening, opts.heard_wer),
        network=None
        if opts.network is None
        else f"{opts.network.name}, {opts.network.codec}, seed {opts.network.seed}",
    )
    rows = [r.row for r in run.records]
    if (pooled := pooled_heard_wer(rows)) is not None:
        run_info = run_info.model_copy(
            update={"model_figures": f"{run_info.model_figures}; {pooled.line()}"}
        )
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
    check_writable_dir(opts.output_root, option="--output")
    where = f"LiveKit {opts.livekit_url}" if opts.livekit_url else "the embedded local transport"
    shard = f" (shard {opts.shard[0]}/{opts.shard[1]})" if opts.shard else ""
    opts.echo(f"autortc: suite '{opts.suite}'{shard}: {len(cases)} cases on {where}")
    progress = RunProgress()
    try:
        run = await run_cases(opts, cases, progress)
    except BaseException as e:  # a signal, an infrastructure error, a crash: report it
        if not progress.started:
            raise  # nothing ran: the one-line error is the whole story
        reason = incomplete_reason(e, progress.current, progress.current_dir)
        outcome = outcome_for(progress.partial(cases), opts, started_wall, incomplete=reason)
        views = [r.view for r in progress.records if r.view is not None]
        paths = write_reports(progress.run_dir, outcome, views)
        print_verdict(outcome, paths, wall_s=time.monotonic() - t0, echo=opts.echo)
        raise  # the CLI ends it: "interrupted", or the error's one line; exit 2
    outcome = outcome_for(run, opts, started_wall)
    views = [r.view for r in run.records if r.view is not None]
    paths = write_reports(run.run_dir, outcome, views)
    print_verdict(outcome, paths, wall_s=time.monotonic() - t0, echo=opts.echo)
    return outcome.exit_code


def incomplete_reason(
    e: BaseException, current: str | None, current_dir: str | Path | None = None
) -> str:
    """Why a run stopped before its last case, in one sentence."""
    during = f"during {current}" if current else "between attempts"
    kept = f"; what its bots recorded is in {current_dir}" if current_dir else ""
    if isinstance(e, asyncio.CancelledError | KeyboardInterrupt):
        return f"interrupted (SIGINT or SIGTERM) {during}{kept}"
    what = "an infrastructure error" if isinstance(e, AutortcError) else "an internal error"
    detail = f"{e}".splitlines()[0] if f"{e}" else type(e).__name__
    if " during " not in detail:  # the supervisor already says where
        detail = f"{detail} {during}"
    return f"stopped by {what}: {detail}{kept}"


def _ms(v: float | None, spec: str = ".1f") -> str:
    return "n/a" if v is None else f"{v:{spec}} ms"


def print_verdict(
    outcome: SuiteOutcome,
    paths: dict[str, Path],
    *,
    wall_s: float,
    echo: Callable[[str], object] = print,
) -> None:
    s = outcome.summary
    line = f"PRIMARY_KPI {s.PRIMARY_KPI_NAME} = {_ms(s.PRIMARY_KPI_VALUE)}"
    if s.BASELINE_VERSION:
        ci = s.PRIMARY_KPI_DELTA_CI95
        ci_s = f", 95% CI [{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci else ""
        line += (
            f"; baseline {s.BASELINE_VERSION} = {_ms(s.BASELINE_PRIMARY_KPI)}; "
            f"delta {_ms(s.PRIMARY_KPI_DELTA_MS, '+.1f')}{ci_s}"
        )
    echo(line)
    for g in s.gates:
        if g.verdict in ("FAIL", "INFRA", "WARN"):
            obs = "n/a" if g.observed is None else f"{g.observed:g}"
            echo(f"  {g.verdict:5s} {g.name} ({g.scope}): observed {obs} vs {g.threshold}")
    if s.incomplete:
        echo(f"INCOMPLETE: {s.incomplete}")
    echo(f"VERDICT {outcome.verdict} (exit {outcome.exit_code}); report: {paths['md']}")
    echo(f"wall time {wall_s:.1f} s")
