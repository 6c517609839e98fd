"""Where an attempt's time goes: known stamps give known phases."""

from __future__ import annotations

import pytest

from autortc.phases import PHASES, attempt_phases_ms, phase_table

MS = 1_000_000


def test_consecutive_stamps_become_phases_that_add_up_to_the_wall_time() -> None:
    start = 10**12
    ends = {name: start + (k + 1) * 100 * MS for k, name in enumerate(PHASES)}
    phases = attempt_phases_ms(start, ends)
    assert list(phases) == list(PHASES)
    assert all(v == 100.0 for v in phases.values())
    assert sum(v for v in phases.values() if v is not None) == 100.0 * len(PHASES)


def test_a_missing_stamp_leaves_its_phase_null_and_the_next_runs_from_the_last_known() -> None:
    start = 0
    ends: dict[str, int | None] = {
        "prepare": 5 * MS,
        "room_create": 20 * MS,
        "bots_start": 300 * MS,
        "connect": 400 * MS,
        "agent_join": None,  # the agent never came
        "barrier": None,
        "conversation": 15_400 * MS,
    }
    phases = attempt_phases_ms(start, ends)
    assert phases["agent_join"] is None
    assert phases["barrier"] is None
    assert phases["conversation"] == 15_000.0
    assert phases["analyze"] is None  # not stamped at all


def test_a_stamp_before_the_last_known_one_is_no_negative_phase() -> None:
    phases = attempt_phases_ms(0, {"prepare": 10 * MS, "room_create": 9 * MS})
    assert phases["room_create"] == 0.0


def test_an_unknown_phase_name_is_refused() -> None:
    with pytest.raises(KeyError, match="warmup"):
        attempt_phases_ms(0, {"warmup": 1})


def test_the_table_gives_median_max_and_share_over_attempts() -> None:
    a = {"barrier": 100.0, "conversation": 300.0, "agent_join": None}
    b = {"barrier": 300.0, "conversation": 300.0, "agent_join": 1000.0}
    rows = {name: (med, mx, share) for name, med, mx, share in phase_table([a, b])}
    assert rows["barrier"] == (200.0, 300.0, pytest.approx(400 / 2000))
    assert rows["agent_join"] == (1000.0, 1000.0, pytest.approx(0.5))
    assert "prepare" not in rows
