"""autortc stability from existing run directories: figures computed from the data."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from autortc.cli import main
from autortc.errors import InputError
from autortc.orchestrator import RunOptions
from autortc.stability import read_run, stability_main

from .conftest import CaseSpec, make_run


def _runs(root: Path, latencies: list[list[float]], *, ttft_ms: float = 50.0) -> list[Path]:
    dirs = []
    for k, lats in enumerate(latencies):
        cases = [
            CaseSpec(f"c{i}", latency_ms=v, ttft_ms=ttft_ms + 5 * i + k) for i, v in enumerate(lats)
        ]
        if k == 1:
            cases.append(CaseSpec("retry", latency_ms=300.0, attempts=2))
        dirs.append(make_run(root, cases, run_id=f"run{k}")[0])
    return dirs


def _stability(dirs: list[Path], out: Path) -> dict:
    opts = RunOptions(echo=lambda *_: None)
    assert asyncio.run(stability_main(opts, runs=len(dirs), run_dirs=dirs, out=out)) == 0
    return json.loads((out / "baseline_stability.json").read_text())


LATS = [[400.0, 450.0, 500.0], [420.0, 470.0, 1010.0], [410.0, 440.0, 480.0]]


def test_stability_proposals_are_computed_from_the_runs(tmp_path):
    res = _stability(_runs(tmp_path / "o", LATS), tmp_path / "st")
    pooled = [v for run in LATS for v in run] + [300.0]
    p95 = float(np.percentile(pooled, 95))
    prop = res["proposed_thresholds"]["eot_to_first_audio_p95_ms"]
    assert prop["value"] == pytest.approx(round(p95 * 1.2 + 10, 1))
    assert prop["method"].startswith("P95 x 1.2")
    st = res["metrics"]["eot_to_first_audio_ms"]
    assert st["n"] == 10
    assert st["median"] == pytest.approx(float(np.median(pooled)))
    assert st["sigma"] == pytest.approx(float(np.std(pooled, ddof=1)))
    ttft = res["proposed_thresholds"]["fast_lane_ttft_p95_ms"]
    assert ttft["method"].startswith("median + 2 sigma")
    assert res["proposed_thresholds"]["audible_dropout_max"]["value"] == 0
    assert res["run_ids"] == ["run0", "run1", "run2"]
    assert res["verdicts"] == ["PASS", "FAIL", "PASS"]
    assert res["verdict_flips"] == 2
    assert res["retry_rate"] == pytest.approx(1 / 10)


def test_stability_proposal_changes_when_the_data_changes(tmp_path):
    a = _stability(_runs(tmp_path / "a", LATS), tmp_path / "sa")
    slower = [[v + 100 for v in run] for run in LATS]
    b = _stability(_runs(tmp_path / "b", slower, ttft_ms=90.0), tmp_path / "sb")
    for attr in ("eot_to_first_audio_p95_ms", "fast_lane_ttft_p95_ms"):
        assert b["proposed_thresholds"][attr]["value"] > a["proposed_thresholds"][attr]["value"]


def test_stability_md_lists_metrics_proposals_and_current_gates(tmp_path):
    _stability(_runs(tmp_path / "o", LATS), tmp_path / "st")
    md = (tmp_path / "st" / "baseline_stability.md").read_text()
    assert "| eot_to_first_audio_ms | 10 |" in md
    assert (
        "| eot_to_first_audio_p95_ms | 780.0 |" in md
    )  # current gate default next to the proposal
    assert "verdict flips between consecutive runs: **2**" in md
    assert "`run0`, `run1`, `run2`" in md
    assert "retry rate: 10.0 %" in md


def test_stability_reads_metrics_csv_when_attempt_files_are_gone(tmp_path):
    d = _runs(tmp_path / "o", LATS[:1])[0]
    before = read_run(d)
    for sub in d.iterdir():
        if sub.is_dir():
            shutil.rmtree(sub)
    after = read_run(d)
    assert sorted(after.rows, key=lambda r: (r.case_id, r.attempt)) == sorted(
        before.rows, key=lambda r: (r.case_id, r.attempt)
    )  # metrics.csv round-trips every row exactly


def test_stability_missing_or_invalid_run_dir_is_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"summary\.json"):
        read_run(tmp_path / "empty")


def test_stability_cli_and_script_with_run_dirs(tmp_path, capsys):
    dirs = _runs(tmp_path / "o", LATS[:2])
    out = tmp_path / "cli"
    assert main(["stability", "--run-dirs", *map(str, dirs), "--out", str(out)]) == 0
    assert (out / "baseline_stability.json").exists()
    assert (out / "baseline_stability.md").exists()
    assert main(["stability", "--run-dirs", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "run directory not found" in capsys.readouterr().err


def test_stability_refuses_the_same_run_twice(tmp_path):
    d = _runs(tmp_path / "o", LATS[:1])[0]
    opts = RunOptions(echo=lambda *_: None)
    with pytest.raises(InputError, match="more than once"):
        asyncio.run(stability_main(opts, runs=2, run_dirs=[d, d], out=tmp_path / "s"))


def test_stability_runs_the_suite_n_times_with_progress(tmp_path, monkeypatch):
    import autortc.suite

    seen: list[RunOptions] = []

    async def fake_run_and_report(opts: RunOptions) -> int:
        # stands in for the suite run: one --repeat run, latencies 410 / 420 / 430 ms
        seen.append(opts)
        make_run(
            opts.output_root,
            [CaseSpec("c0", latency_ms=400.0)],
            run_id=opts.run_id,
            repeats=opts.repeat,
        )
        return 0

    monkeypatch.setattr(autortc.suite, "run_and_report", fake_run_and_report)
    lines: list[str] = []
    opts = RunOptions(output_root=tmp_path / "o", echo=lines.append)
    assert asyncio.run(stability_main(opts, runs=3, run_dirs=None, out=None)) == 0
    (one,) = seen  # one run with --repeat 3, not three runs of its own
    assert one.repeat == 3
    assert any("--repeat 3" in ln for ln in lines)
    out = next((tmp_path / "o").glob("stability-*"))
    res = json.loads((out / "baseline_stability.json").read_text())
    assert res["run_ids"] == [f"{one.run_id}/r{k}" for k in (1, 2, 3)]
    assert res["verdicts"] == ["PASS"] * 3
    assert res["metrics"]["eot_to_first_audio_ms"]["median"] == pytest.approx(420.0)
