"""An attempt file in the wrong format makes that attempt INFRA with a one-line reason;
the rest of the run is measured and reported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from autortc.artifacts import load_attempt
from autortc.attempt import AttemptContext, analyze, build_job
from autortc.audio import write_wav
from autortc.case_schema import Case
from autortc.errors import ArtifactError
from autortc.gates import GatesConfig
from autortc.metrics.status import BAD_ARTIFACT, OK
from autortc.report.outcome import RunInfo, summarize
from autortc.report.write import write_reports

from .conftest import CaseSpec, _attempt

REPO = Path(__file__).resolve().parents[2]


def _ctx(run_dir: Path) -> AttemptContext:
    return AttemptContext(
        transport=None,  # type: ignore[arg-type]  # analysis never touches the transport
        transport_url="local://127.0.0.1:1",
        run_id="20260101T000000Z-badart",
        run_dir=run_dir,
        audio_dir=REPO / "cases" / "audio",
        pre_rtc_root=run_dir / "pre_rtc",
        agent_name=None,
    )


def _case(case_id: str) -> Case:
    return Case.model_validate(
        {
            "id": case_id,
            "priority": "P0",
            "turns": [{"say": "Hello, can you hear me?"}],
            "agent": {"reply_text": "Yes."},
            "source_case": "endpoint_short_hello",
        }
    )


def test_a_16_khz_pre_rtc_is_one_line_artifact_error(tmp_path: Path) -> None:
    att = tmp_path / "c" / "a1"
    _attempt(att, CaseSpec("c"), 1, "OK")
    write_wav(att / "pre_rtc.wav", np.zeros(16_000, np.int16), sample_rate_hz=16_000)
    with pytest.raises(ArtifactError) as e:
        load_attempt(att, case_id="c", priority="P0", attempt=1, trace_id="t1")
    assert str(e.value) == f"{att / 'pre_rtc.wav'}: sample rate 16000 Hz, expected 48000 Hz"


def test_the_bad_attempt_is_infra_and_the_run_still_reports(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    ctx = _ctx(run_dir)
    rows, views = [], []
    for case_id, bad in (("good", False), ("bad", True)):
        job = build_job(ctx, _case(case_id), 1)
        _attempt(job.dir, CaseSpec(case_id), 1, "OK")
        if bad:
            write_wav(job.dir / "pre_rtc.wav", np.zeros(16_000, np.int16), sample_rate_hz=16_000)
        row, view, _ = analyze(ctx, job, None)
        rows.append(row)
        views.append(view)
    good, bad_row = rows
    assert good.capture_status == OK
    assert bad_row.capture_status == BAD_ARTIFACT
    assert bad_row.status_reason is not None
    assert "sample rate 16000 Hz" in bad_row.status_reason
    assert "\n" not in bad_row.status_reason
    outcome = summarize(
        rows,
        config=GatesConfig(),
        baseline=None,
        baseline_version=None,
        run_info=RunInfo(run_id=ctx.run_id, suite="t", transport="local"),
    )
    assert (outcome.verdict, outcome.exit_code) == ("INFRA", 2)
    paths = write_reports(run_dir, outcome, views)
    assert {"summary", "md", "junit", "html", "csv"} <= set(paths)
    summary = json.loads(paths["summary"].read_text())
    assert summary["capture_status_counts"] == {"OK": 1, BAD_ARTIFACT: 1}
    assert "sample rate 16000 Hz" in paths["md"].read_text()
