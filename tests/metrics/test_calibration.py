"""Calibration statistics: known answers, and the bounds firing and staying quiet."""

from __future__ import annotations

import pytest

from autortc.metrics.calibration import CalibrationTurn, one_way_path_ms, summarise


def test_one_way_path_adds_packetization_transit_playout_and_codec() -> None:
    assert one_way_path_ms(transit_ms=0, playout_delay_ms=40, codec="pcm") == 50.0
    assert one_way_path_ms(transit_ms=40.25, playout_delay_ms=40, codec="opus") == 96.75


def _turns(errors: list[float], *, aim: float = 0.0) -> list[CalibrationTurn]:
    return [
        CalibrationTurn("pcm", f"c{k}", 150, 150 + aim, 100.0, 150 + aim + 100.0 + e)
        for k, e in enumerate(errors)
    ]


def test_bias_and_p95_of_the_absolute_error() -> None:
    s = summarise(_turns([0.5, -0.5, 1.0, 0.0, 0.5], aim=0.25))
    assert s.n == 5
    assert s.bias_ms == pytest.approx(0.3)
    assert s.p95_abs_ms == pytest.approx(0.9)  # linear: between 0.5 and 1.0 at 0.8 x 4 ...
    assert s.max_abs_ms == pytest.approx(1.0)
    assert s.aim_p95_abs_ms == pytest.approx(0.25)
    assert s.passed


def test_the_bounds_fire_on_a_bias_on_a_spread_and_on_a_missing_turn() -> None:
    assert not summarise(_turns([1.5] * 10)).passed  # bias 1.5 ms
    assert not summarise(_turns([3.0, -3.0] * 5)).passed  # bias 0, P95 |error| 3 ms
    missing = [*_turns([0.0] * 9), CalibrationTurn("pcm", "x", 150, None, 100.0, 250.0)]
    s = summarise(missing)
    assert (s.n, s.missing) == (9, 1)
    assert not s.passed
    assert not summarise([]).passed
