"""--repeat: pass rates, flips and spreads per case from known rows (autortc/repeats.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autortc.gates import GatesConfig
from autortc.metrics.rows import AttemptRow, final_attempts
from autortc.repeats import repeat_stats, repeats_lines
from autortc.report.outcome import RunInfo, summarize


def _row(case_id: str, repeat: int | None, attempt: int = 1, **fig: object) -> AttemptRow:
    body = {
        "case_id": case_id,
        "priority": "P0",
        "attempt": attempt,
        "repeat": repeat,
        "capture_status": fig.pop("status", "OK"),
        "audio_valid": True,
        **fig,
    }
    return AttemptRow.from_dict(body)


GOOD = {"eot_to_first_audio_ms": 500.0, "turns": [{"eot_to_first_audio_ms": 500.0}]}


def _slow(ms: float) -> dict[str, object]:
    return {"eot_to_first_audio_ms": ms, "turns": [{"eot_to_first_audio_ms": ms}]}


def test_the_final_attempt_is_chosen_per_case_and_repeat() -> None:
    rows = [
        _row("a", 1, 1, status="POST_SILENT"),
        _row("a", 1, 2),
        _row("a", 2, 1),
        _row("b", None, 1),
    ]
    finals = final_attempts(rows)
    assert [(r.case_id, r.repeat, r.attempt) for r in finals] == [
        ("a", 1, 2),
        ("a", 2, 1),
        ("b", None, 1),
    ]
    assert [r.tag for r in finals] == ["r1a2", "r2a1", "a1"]


def test_pass_rate_and_flips_follow_each_repeats_own_gates() -> None:
    cfg = GatesConfig()
    # repeats 1 and 3 pass; repeat 2 is far over the latency gate; repeat 4 is INFRA
    rows = [
        _row("a", 1, **GOOD),
        _row("a", 2, **_slow(5000.0)),
        _row("a", 3, **GOOD),
        _row("a", 4, status="BARRIER_TIMEOUT"),
        _row("b", 1, **GOOD),
        _row("b", 2, **GOOD),
    ]
    (a, b) = repeat_stats(rows, cfg)
    assert a.verdicts == ("PASS", "FAIL", "PASS", "INFRA")
    assert a.pass_rate == pytest.approx(0.5)
    assert a.flips == 3
    assert (b.verdicts, b.pass_rate, b.flips) == (("PASS", "PASS"), 1.0, 0)
    # the spread pools the measured repeats only (INFRA has no figures)
    spread = a.figures["eot_to_first_audio_ms"]
    assert spread.n == 3
    assert spread.p50 == pytest.approx(500.0)
    assert spread.p95 == pytest.approx(4550.0)  # linear P95 of 500, 500, 5000
    lines = repeats_lines([a, b])
    assert lines[2].startswith("| a | 4 | 50% | 3 | PASS FAIL PASS INFRA | 500.0 / 4550.0 |")


def test_a_run_without_repeats_has_no_repeat_section_and_the_kpi_pools_every_repeat() -> None:
    assert repeat_stats([_row("a", None, **GOOD)], GatesConfig()) == []
    rows = [_row("a", r, **_slow(400.0 + 100 * r)) for r in (1, 2, 3)]
    info = RunInfo(run_id="r", suite="s", transport="local", started_unix_s=0.0, wall_s=1.0)
    outcome = summarize(
        rows, config=GatesConfig(), baseline=None, baseline_version=None, run_info=info
    )
    assert outcome.summary.PRIMARY_KPI_N == 3  # every repeat's sample, not one per case
    assert outcome.summary.repeats == [
        {"case_id": "a", "repeats": 3, "pass_rate": 1.0, "flips": 0, "verdicts": ["PASS"] * 3}
    ]


def test_rows_are_read_back_from_repeat_directories(tmp_path: Path) -> None:
    import json

    from autortc.run_reader import read_rows

    for tag, repeat in (("r1a1", 1), ("r2a1", 2)):
        d = tmp_path / "a" / tag
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps(_row("a", repeat, **GOOD).to_dict()))
    (tmp_path / "a" / "notes").mkdir()  # not an attempt directory
    rows = read_rows(tmp_path)
    assert [(r.repeat, r.tag) for r in rows] == [(1, "r1a1"), (2, "r2a1")]


def test_the_real_time_floor_is_the_longest_recording_or_the_total_over_the_jobs() -> None:
    from autortc.report.outcome import realtime_floor_s

    assert realtime_floor_s([10.0, 10.0, 10.0, 10.0], 1) == 40.0
    assert realtime_floor_s([10.0, 10.0, 10.0, 10.0], 4) == 10.0
    assert realtime_floor_s([30.0, 2.0, 2.0, 2.0], 4) == 30.0  # one long case bounds it
    assert realtime_floor_s([], 4) == 0.0
