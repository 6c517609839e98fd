"""autortc baseline freeze: golden/<name>/ from a run; never overwritten without --force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autortc.baseline import freeze
from autortc.cli import main
from autortc.errors import InputError
from autortc.suite import load_baseline


def _size(d: Path) -> int:
    return sum(p.stat().st_size for p in d.rglob("*") if p.is_file())


def test_freeze_copies_summary_reports_and_final_attempt_artifacts(mixed_run, tmp_path):
    run_dir, outcome = mixed_run
    dest = freeze(run_dir, name="v1", golden_dir=tmp_path / "golden")
    assert dest == tmp_path / "golden" / "v1"
    summary = json.loads((dest / "summary.json").read_text())
    assert summary["BASELINE_NAME"] == "v1"
    assert summary["FROZEN_FROM"] == outcome.summary.run_id
    assert summary["frozen_at"]
    assert summary["PRIMARY_KPI_VALUE"] == outcome.summary.PRIMARY_KPI_VALUE
    for f in ("metrics.csv", "report.md"):
        assert (dest / f).read_bytes() == (run_dir / f).read_bytes()
    att = dest / "endpoint_short_hello" / "a1"
    for f in (
        "metrics.json",
        "probe_result.json",
        "user_result.json",
        "events.jsonl",
        "pre_rtc.wav",
        "pre_rtc.json",
        "post_rtc_reply.wav",
    ):
        assert (att / f).is_file(), f
    assert not (att / "turn0.wav").exists()
    assert not (att / "input.wav").exists()
    assert not (att / "post_rtc_full.wav").exists()
    assert not (att / "post_rtc_user.wav").exists()
    # final attempts only
    assert (dest / "retried_ok" / "a2").is_dir()
    assert not (dest / "retried_ok" / "a1").exists()
    assert _size(dest) < _size(run_dir) * 0.7
    assert load_baseline(dest / "summary.json")[1] == "v1"


def test_freeze_refuses_existing_baseline_without_force(mixed_run, tmp_path):
    run_dir, _ = mixed_run
    golden = tmp_path / "golden"
    freeze(run_dir, name="v1", golden_dir=golden)
    (golden / "v1" / "marker.txt").write_text("old")
    with pytest.raises(InputError, match="--force") as ei:
        freeze(run_dir, name="v1", golden_dir=golden)
    assert ei.value.exit_code == 2
    assert (golden / "v1" / "marker.txt").exists()  # untouched
    freeze(run_dir, name="v1", golden_dir=golden, force=True)
    assert not (golden / "v1" / "marker.txt").exists()
    assert (golden / "v1" / "summary.json").exists()


def test_freeze_cli_exit_codes(mixed_run, tmp_path, capsys):
    run_dir, _ = mixed_run
    args = [
        "baseline",
        "freeze",
        str(run_dir),
        "--name",
        "cli",
        "--golden-dir",
        str(tmp_path / "g"),
    ]
    assert main(args) == 0
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0


def test_freeze_names_missing_summary(tmp_path):
    with pytest.raises(InputError, match=r"summary\.json"):
        freeze(tmp_path / "nope", name="v1", golden_dir=tmp_path / "g")


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "with space"])
def test_freeze_rejects_bad_names(mixed_run, tmp_path, bad):
    run_dir, _ = mixed_run
    with pytest.raises(InputError, match="invalid"):
        freeze(run_dir, name=bad, golden_dir=tmp_path / "g")


def test_freeze_can_keep_the_full_recording(mixed_run, tmp_path):
    run_dir, _ = mixed_run
    dest = freeze(run_dir, name="full", golden_dir=tmp_path / "g", include_full_audio=True)
    assert (dest / "endpoint_short_hello" / "a1" / "post_rtc_full.wav").is_file()
