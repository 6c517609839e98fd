"""autortc load's figures and capacity estimate from known levels (load_stats.py)."""

from __future__ import annotations

import pytest

from autortc.load_stats import LevelResult, capacity, flat_level, p95_svg


def _lv(
    rooms: int, lat: tuple[float, ...], *, errors: int = 0, cpu: float | None = 2.0
) -> LevelResult:
    return LevelResult(rooms, lat, 0, errors, cpu, 1.0, call_s=8.0 * rooms, wall_s=10.0)


def test_the_flat_level_is_the_largest_within_50_ms_of_one_room_and_error_free() -> None:
    levels = [
        _lv(1, (500.0,)),
        _lv(2, (510.0, 540.0)),  # P95 538.5: +38.5 -> flat
        _lv(4, (500.0, 520.0, 560.0, 600.0)),  # P95 594: +94 -> not flat
        _lv(8, (500.0,) * 8, errors=1),  # flat latency but an error -> not flat
    ]
    assert flat_level(levels) == 2
    assert flat_level([]) is None


def test_capacity_follows_the_sizing_formula_at_the_flat_level() -> None:
    levels = [_lv(1, (500.0,), cpu=2.0), _lv(2, (505.0, 510.0), cpu=4.8)]
    cap = capacity(levels, target_concurrency=100, utilisation=0.6)
    assert cap.flat_level == 2
    assert cap.rtf == pytest.approx(4.8 / 16.0)  # agent CPU s per s of call
    assert cap.required_workers == 50  # ceil(100 * 0.3 / 0.6)
    assert "100 rooms x RTF 0.300" in cap.how


def test_no_estimate_without_the_agents_cpu() -> None:
    cap = capacity([_lv(1, (500.0,), cpu=None)], target_concurrency=10, utilisation=0.7)
    assert cap.required_workers is None
    assert cap.how.startswith("no estimate")


def test_the_plot_has_both_lines_and_one_tick_per_level() -> None:
    svg = p95_svg([_lv(1, (500.0,)), _lv(2, (505.0, 510.0)), _lv(4, (520.0,) * 4)])
    assert svg.count("<polyline") == 2
    assert [t in svg for t in (">1<", ">2<", ">4<")] == [True, True, True]
    assert "no level answered" in p95_svg([_lv(1, ())])
