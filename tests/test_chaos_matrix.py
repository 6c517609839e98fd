"""The chaos rows are judged on what the run really did (known outcomes in, verdicts out)."""

from __future__ import annotations

import pytest

from autortc.chaos_matrix import MATRIX, SHORT, Observed, judge, rows_named, table
from autortc.errors import InputError


def _fault(name: str):
    return next(f for f in MATRIX if f.name == name)


def test_a_room_deleted_row_needs_the_retry_to_pass_and_a_quick_end() -> None:
    f = _fault("room_deleted")
    good = Observed(0, 21.0, True, ["ROOM_GONE", "OK"], fault_to_end_s=0.6)
    assert judge(f, good) == []
    not_retried = Observed(2, 14.0, True, ["ROOM_GONE"], fault_to_end_s=0.6)
    assert judge(f, not_retried) == [
        "exit 2, expected 0",
        "final status ['ROOM_GONE'], expected OK",
    ]
    slow = Observed(0, 70.0, True, ["TIMEOUT", "OK"], fault_to_end_s=58.0)
    assert "the attempt ended 58.0 s after the fault (max 5)" in judge(f, slow)
    assert "first status ['TIMEOUT'], expected ROOM_GONE" in judge(f, slow)


def test_an_interrupted_run_needs_its_partial_report_and_no_process_left() -> None:
    f = _fault("sigterm")
    ok = Observed(
        2,
        9.0,
        True,
        [],
        incomplete="interrupted (SIGINT or SIGTERM) during x a1",
        fault_to_end_s=2.1,
    )
    assert judge(f, ok) == []
    bare = Observed(2, 9.0, False, [], fault_to_end_s=2.1, leftover=["python -m agent local"])
    assert judge(f, bare) == [
        "report.md missing",
        "INCOMPLETE reason None, expected 'interrupted'",
        "processes left: python -m agent local",
    ]


def test_the_stray_row_needs_the_drops_counted_and_the_clean_outcome() -> None:
    f = _fault("stray_participant")
    assert judge(f, Observed(0, 12.0, True, ["OK"], dropped_wrong_sender=61)) == []
    assert judge(f, Observed(0, 12.0, True, ["OK"])) == [
        "no wrong-sender drop counted: did the stray send anything?"
    ]


def test_rows_by_name_and_the_table() -> None:
    assert [f.name for f in rows_named(list(SHORT))] == list(SHORT)
    with pytest.raises(InputError, match="unknown fault 'meteor'"):
        rows_named(["meteor"])
    f = _fault("unwritable_output")
    seen = Observed(2, 1.2, False, last_stderr="autortc: error: --output /proc/x: cannot write")
    assert judge(f, seen) == []
    text = table([(f, seen, [])])
    assert "| unwritable_output |" in text
    assert text.endswith("| 0 | ✓ |")


def test_the_livekit_rows_judge_the_one_line_refusals_on_their_words() -> None:
    from autortc.chaos_matrix import LIVEKIT_MATRIX

    rows = {f.name: f for f in rows_named(None, LIVEKIT_MATRIX)}
    assert set(rows) == {
        "room_deleted",
        "agent_worker_killed",
        "sigterm",
        "server_unreachable",
        "bad_credentials",
    }
    bad = rows["bad_credentials"]
    said = "autortc: error: LiveKit check failed: LIVEKIT_API_KEY/SECRET rejected by ws://x: ..."
    assert judge(bad, Observed(2, 1.2, False, last_stderr=said)) == []
    other = "autortc: error: something else"
    assert judge(bad, Observed(2, 1.2, False, last_stderr=other)) == [
        f"the error line does not say 'rejected': {other!r}"
    ]
    assert dict(rows["server_unreachable"].env) == {"LIVEKIT_URL": "ws://127.0.0.1:9"}
    with pytest.raises(InputError, match="probe_crash"):
        rows_named(["probe_crash"], LIVEKIT_MATRIX)  # an embedded-only fault
