"""Do two sets of runs measure the same figure? (pure; used by scripts/stray_check.py)

Compares one figure of one case between N reference runs (clean) and M runs under
some condition (a stray participant, another machine), by their medians.

The allowed difference is the larger of:
- the metric's registry tolerance, the bound of its known-answer test, which is all
  a figure that is the same in every clean run can move;
- 1.5 x the clean runs' own run-to-run spread (max - min), the measured error of a
  figure that moves with timing: the post_rms of a reply whose slice edges, or barge-in cut,
  fall a few ms apart; the P95 of packet inter-arrival times.

Why 1.5 x the spread: for 5 clean and 5 other runs drawn from one normal distribution
(deviation s), the difference of medians exceeds 1.5 x the clean range in 0.65 % of
draws (1 x: 2.7 %, too many false alarms over a few dozen figures; 2 x: 0.2 %); a
shift of 4 s is flagged in 66 % of draws and one of 6 s in 94 % (200,000 simulated
draws). tests/metrics/test_agreement.py holds the rule to these rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from autortc.metrics import stats
from autortc.metrics.registry import Metric

BY_TOLERANCE = "tolerance"
BY_SPREAD = "clean spread"
SPREAD_FACTOR = 1.5


@dataclass(frozen=True)
class Agreement:
    metric: str
    clean_median: float
    other_median: float
    clean_range: tuple[float, float]
    tolerance: float
    bound: float  # the allowed |difference of medians|
    judged_by: str  # BY_TOLERANCE or BY_SPREAD

    @property
    def difference(self) -> float:
        return self.other_median - self.clean_median

    @property
    def ok(self) -> bool:
        return abs(self.difference) <= self.bound

    def describe(self) -> str:
        lo, hi = self.clean_range
        return (
            f"{self.metric}: clean median {self.clean_median:g} (range {lo:g}..{hi:g}) vs "
            f"{self.other_median:g}, difference {self.difference:+g} "
            f"beyond {self.bound:g} ({self.judged_by})"
        )


def agreement(metric: Metric, clean: Sequence[float], other: Sequence[float]) -> Agreement | None:
    """The comparison of one figure; None when either side has no finite value."""
    a, b = stats.finite(clean), stats.finite(other)
    ma, mb = stats.median(a), stats.median(b)
    if ma is None or mb is None:
        return None
    spread = max(a) - min(a)
    by_spread = spread > metric.tolerance
    return Agreement(
        metric=metric.name,
        clean_median=ma,
        other_median=mb,
        clean_range=(min(a), max(a)),
        tolerance=metric.tolerance,
        bound=SPREAD_FACTOR * spread if by_spread else metric.tolerance,
        judged_by=BY_SPREAD if by_spread else BY_TOLERANCE,
    )
