"""`autortc stability`: run a suite N times (or read N run directories) and propose thresholds.

The statistics are pure (autortc.stability_stats); this module reads runs, renders
baseline_stability.md and writes it with baseline_stability.json
(docs/spec/measurement.md, "Stability").
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from autortc.errors import InputError
from autortc.gates import GatesConfig, evaluate_gates, load_gates, overall_verdict
from autortc.orchestrator import RunOptions, new_run_id
from autortc.report.markdown import fmt
from autortc.run_reader import read_rows, read_summary
from autortc.stability_stats import RunSample, StabilitySummary, stability_summary

log = logging.getLogger(__name__)


def read_run(run_dir: Path) -> RunSample:
    """One run directory -> RunSample (verdict from summary.json; rows from the attempts'
    metrics.json, else metrics.csv)."""
    summary = read_summary(run_dir, needs="verdict")
    rows = read_rows(run_dir)
    return RunSample(
        run_id=str(summary.get("run_id") or run_dir.name),
        verdict=str(summary["verdict"]),
        rows=rows,
    )


def read_samples(run_dir: Path, gates: GatesConfig) -> list[RunSample]:
    """A run directory -> one RunSample, or one per repeat for a `--repeat N` run (each
    repeat judged by the gates on its own rows, with no baseline)."""
    sample = read_run(run_dir)
    repeats = sorted({r.repeat for r in sample.rows if r.repeat is not None})
    if not repeats:
        return [sample]
    out = []
    for k in repeats:
        rows = [r for r in sample.rows if r.repeat == k]
        verdict, _ = overall_verdict(evaluate_gates(rows, config=gates))
        out.append(RunSample(run_id=f"{sample.run_id}/r{k}", verdict=str(verdict), rows=rows))
    return out


def _num(v: float | None) -> str:
    if isinstance(v, float) and v == 0:
        return "0"
    return fmt(v, 1 if isinstance(v, float) and abs(v) >= 1 else 4)


def render_stability_md(result: StabilitySummary, *, gates: GatesConfig) -> str:
    """baseline_stability.md. Pure."""
    rate = None if result.retry_rate is None else result.retry_rate * 100
    out = [
        f"# Baseline stability over {result.n_runs} runs",
        "",
        f"- runs: {', '.join(f'`{r}`' for r in result.run_ids)}",
        f"- verdicts: {', '.join(result.verdicts)}; verdict flips between consecutive runs: "
        f"**{result.verdict_flips}**",
        f"- retry rate: {fmt(rate, 1)} % of cases (all runs)",
        "",
        "## Metrics (P0 final attempts, all runs pooled)",
        "",
        "| metric | n | median | P95 | σ |",  # noqa: RUF001
        "|---|---|---|---|---|",
    ]
    for name, st in result.metrics.items():
        out.append(f"| {name} | {st.n} | {_num(st.median)} | {_num(st.p95)} | {_num(st.sigma)} |")
    out += [
        "",
        "## Proposed thresholds",
        "",
        "| gate | current | proposed | method |",
        "|---|---|---|---|",
    ]
    for key, prop in result.proposed_thresholds.items():
        current = float(getattr(gates, key))
        out.append(f"| {key} | {_num(current)} | {_num(prop.value)} | {prop.method} |")
    out.append("")
    return "\n".join(out)


def write_stability(out: Path, result: StabilitySummary, *, gates: GatesConfig) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "baseline_stability.json", "md": out / "baseline_stability.md"}
    body = {**result.model_dump(), "current_gates": gates.model_dump()}
    paths["json"].write_text(json.dumps(body, indent=1))
    paths["md"].write_text(render_stability_md(result, gates=gates))
    return paths


async def _run_n(opts: RunOptions, runs: int) -> list[Path]:
    """The suite `runs` times, as one `--repeat runs` run (each repeat in fresh rooms)."""
    from autortc.suite import run_and_report

    run_id = new_run_id()
    opts.echo(f"stability: the suite {runs} times (--repeat {runs}, run {run_id}) ...")
    code = await run_and_report(dataclasses.replace(opts, run_id=run_id, repeat=runs))
    opts.echo(f"stability run done: exit {code}")
    return [opts.output_root / run_id]


async def stability_main(
    opts: RunOptions, *, runs: int, run_dirs: list[Path] | None, out: Path | None
) -> int:
    """Read `run_dirs` (or run the suite `runs` times), write baseline_stability.{json,md}."""
    gates = load_gates(opts.gates_path)
    if run_dirs:
        dirs = [Path(d) for d in run_dirs]
    else:
        if runs < 1:
            raise InputError(f"--runs {runs}: must be at least 1")
        dirs = await _run_n(opts, runs)
    samples = [s for d in dirs for s in read_samples(d, gates)]
    seen = [s.run_id for s in samples]
    dupes = sorted({r for r in seen if seen.count(r) > 1})
    if dupes:
        raise InputError(
            f"run {', '.join(dupes)} given more than once: each run must be counted once"
        )
    result = stability_summary(samples).model_copy(update={"run_dirs": [str(d) for d in dirs]})
    dest = out or opts.output_root / ("stability-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
    paths = write_stability(dest, result, gates=gates)
    opts.echo(f"baseline stability over {len(samples)} runs: {paths['md']}")
    for key, prop in result.proposed_thresholds.items():
        opts.echo(
            f"  {key}: current {getattr(gates, key)} -> proposed {prop.value} ({prop.method})"
        )
    return 0
