"""metrics.agreement: the stray check's noise-or-effect rule, on synthetic draws."""

from __future__ import annotations

import numpy as np

from autortc.metrics import registry as M
from autortc.metrics.agreement import BY_SPREAD, BY_TOLERANCE, agreement

SIGMA = 3e-4  # a run-to-run spread larger than post_rms' tolerance (1e-4)


def _rates(shift: float, trials: int = 2000, n: int = 5) -> float:
    """The share of trials the rule flags, for clean ~ N(0.086, SIGMA) and other shifted."""
    rng = np.random.default_rng(11)
    flagged = spread_judged = 0
    for _ in range(trials):
        clean = rng.normal(0.086, SIGMA, n).tolist()
        other = rng.normal(0.086 + shift, SIGMA, n).tolist()
        a = agreement(M.POST_RMS, clean, other)
        assert a is not None
        spread_judged += a.judged_by == BY_SPREAD
        flagged += not a.ok
    assert spread_judged > 0.95 * trials
    return flagged / trials


def test_a_figure_the_same_in_every_clean_run_is_held_to_its_tolerance() -> None:
    clean = [0.08, 0.08, 0.08, 0.08, 0.08]
    ok = agreement(M.POST_RMS, clean, [0.08005] * 5)
    assert ok is not None
    assert ok.ok
    assert ok.judged_by == BY_TOLERANCE
    assert ok.bound == 1e-4
    moved = agreement(M.POST_RMS, clean, [0.0802, 0.0802, 0.08, 0.0802, 0.0802])
    assert moved is not None
    assert not moved.ok
    assert "post_rms" in moved.describe()
    assert "tolerance" in moved.describe()


def test_a_timing_moved_figure_drawn_from_the_same_distribution_is_not_flagged() -> None:
    assert _rates(0.0) < 0.015  # 0.65 % expected


def test_a_shift_of_six_run_to_run_deviations_is_flagged() -> None:
    assert _rates(6 * SIGMA) > 0.85  # 94 % expected
    assert _rates(4 * SIGMA) > 0.5  # 66 % expected


def test_a_shift_within_the_noise_is_mostly_not_flagged_and_a_large_one_always_is() -> None:
    assert _rates(0.5 * SIGMA) < 0.05
    assert _rates(12 * SIGMA, trials=200) == 1.0


def test_no_values_no_judgement() -> None:
    assert agreement(M.POST_RMS, [], [0.1]) is None
    assert agreement(M.POST_RMS, [0.1, float("nan")], [None]) is None  # type: ignore[list-item]
