"""The messages the probe dropped are in the report, not only in metrics.csv."""

from __future__ import annotations

from autortc.metrics.rows import AttemptRow
from autortc.report.markdown import NO_DROPS, dropped_lines


def _row(case_id: str, **drops: int) -> AttemptRow:
    return AttemptRow.from_dict(
        {"case_id": case_id, "priority": "P0", "attempt": 1, "capture_status": "OK", **drops}
    )


def test_an_attempt_that_dropped_messages_is_listed_with_its_counts():
    rows = [
        _row("clean", dropped_stale=0, dropped_duplicate=0, dropped_bad=0),
        _row("spammed", dropped_stale=0, dropped_duplicate=2, dropped_bad=37),
    ]
    assert dropped_lines(rows) == ["spammed a1: stale 0, duplicate 2, bad 37"]
    stray = _row("steered", dropped_stale=0, dropped_bad=0, dropped_wrong_sender=4)
    assert dropped_lines([stray]) == ["steered a1: stale 0, bad 0, wrong_sender 4"]


def test_a_clean_run_says_none_in_both_reports(mixed_run):
    run_dir, _ = mixed_run
    md = (run_dir / "report.md").read_text()
    assert "## Messages dropped" in md
    assert f"- {NO_DROPS}" in md
    assert NO_DROPS in (run_dir / "report.html").read_text()
