"""The self-test's judging, on hand-made outcomes: a row matches only when what it must
produce fired, the clean row fires nothing, and anything else that fired is listed."""

from __future__ import annotations

import pytest

from autortc.gates import GateResult
from autortc.metrics.rows import AttemptRow
from autortc.selftest_matrix import MATRIX, SHORT, RowOutcome, judge_row, rows_named, table


def _row(status: str = "OK", **figures: object) -> AttemptRow:
    return AttemptRow.from_dict(
        {"case_id": "c", "priority": "P0", "attempt": 1, "capture_status": status, **figures}
    )


def _gate(name: str, verdict: str, detail: str = "") -> GateResult:
    return GateResult(name, 1.0, 0.0, verdict, "fix", "P0", detail)


def _by(defect: str):  # type: ignore[no-untyped-def]
    return next(r for r in MATRIX if r.defect == defect)


def test_every_gate_is_made_to_fire_by_some_row():
    from autortc.gates import FINGERPRINTS, SUITE_GATES

    fired_by_rows = {g for r in MATRIX for g in r.gates}
    gated = {g.name for g in SUITE_GATES} | {"audio_valid_rate", "reply_complete", "infrastructure"}
    gated |= {"primary_kpi_regression", "fp_distortion", "fp_speed_drift"}
    assert gated - fired_by_rows == set()
    # the boom fingerprint fires on the input (boom_trigger's clicks), not on an agent
    # defect; the model fingerprints fire on figures that only --listening and
    # --heard-wer compute: tests/e2e/test_network.py shows them firing on a heavy-loss
    # network and quiet on a clean one
    models = {"fp_heard_wer", "fp_visqol_floor"}
    assert {fp.name for fp in FINGERPRINTS} - fired_by_rows == models
    assert len({(r.defect, r.label) for r in MATRIX}) == len(MATRIX)  # rows are distinct


def test_the_clean_row_matches_only_when_nothing_fires():
    clean = _by("none")
    quiet = RowOutcome([_row()], [_gate("max_gap", "PASS")], exit_code=0)
    assert judge_row(clean, quiet, None).ok
    noisy = RowOutcome([_row()], [_gate("max_gap", "FAIL", "over threshold: c")], exit_code=1)
    j = judge_row(clean, noisy, None)
    assert not j.ok
    assert "the clean agent fired max_gap" in j.problems


def test_a_row_lists_what_else_fired():
    row = _by("gap_ms=400")
    out = RowOutcome(
        [_row()],
        [
            _gate("max_gap", "FAIL"),
            _gate("audible_dropout", "FAIL"),
            _gate("inter_arrival_p95", "FAIL", "x"),
        ],
        exit_code=1,
    )
    j = judge_row(row, out, None)
    assert j.ok
    assert j.also_fired == ["inter_arrival_p95 FAIL (x)"]
    assert "✓" in table([j])
    missing = judge_row(row, RowOutcome([_row()], [_gate("max_gap", "FAIL")], 1), None)
    assert not missing.ok
    assert missing.problems == ["audible_dropout did not fire"]


def test_the_delay_row_compares_its_stage_with_the_clean_row_within_20_ms():
    row = _by("delay_ms=200")
    kpi = [_gate("primary_kpi_regression", "FAIL")]
    clean = RowOutcome(
        [_row(eot_to_first_audio_ms=480.0, output_wait_ms=6.0, agent_to_probe_ms=24.0)], [], 0
    )
    # output -> ear: 30 ms clean, 222 ms here (the publisher's queue took some of the hold)
    good = RowOutcome(
        [_row(eot_to_first_audio_ms=720.0, output_wait_ms=188.0, agent_to_probe_ms=32.0)], kpi, 1
    )
    j = judge_row(row, good, clean)
    assert j.ok, j.problems
    assert "eot_to_first_audio +240.0 ms vs clean" in j.got
    assert "output_wait +182.0 ms vs clean" in j.got
    assert "output→ear +190.0 ms vs clean" in j.got
    off = RowOutcome(
        [_row(eot_to_first_audio_ms=686.0, output_wait_ms=227.0, agent_to_probe_ms=30.0)], kpi, 1
    )
    assert not judge_row(row, off, clean).ok
    no_hop = RowOutcome([_row(eot_to_first_audio_ms=686.0, agent_to_probe_ms=200.0)], kpi, 1)
    assert not judge_row(row, no_hop, clean).ok


def test_message_rows_need_the_drops_counted_and_clean_figures():
    row = _by("dup_msg_id")
    clean = RowOutcome([_row(max_gap_ms=120.0)], [], 0)
    counted = RowOutcome([_row(max_gap_ms=130.0, dropped_duplicate=6)], [], 0)
    assert judge_row(row, counted, clean).ok
    uncounted = RowOutcome([_row(max_gap_ms=120.0, dropped_duplicate=0)], [], 0)
    assert not judge_row(row, uncounted, clean).ok
    drifted = RowOutcome([_row(max_gap_ms=200.0, dropped_duplicate=6)], [], 0)
    assert not judge_row(row, drifted, clean).ok


def test_the_short_subset_starts_with_the_clean_row():
    rows = rows_named(list(SHORT))
    assert rows[0].defect == "none"
    assert sorted(r.name for r in rows) == sorted(SHORT)


def test_an_unknown_row_name_is_refused_naming_the_choices() -> None:
    from autortc.errors import InputError
    from autortc.selftest_matrix import rows_named

    with pytest.raises(InputError, match=r"no self-test row named pace_jitter .*pace_jitter_ms"):
        rows_named(["pace_jitter"])
    assert [r.name for r in rows_named(["pace_jitter_ms"])] == ["pace_jitter_ms"]
