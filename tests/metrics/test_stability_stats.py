import numpy as np
import pytest

from autortc.metrics.rows import AttemptRow
from autortc.stability_stats import (
    RunSample,
    metric_stats,
    propose_thresholds,
    retry_rate,
    stability_summary,
    verdict_flips,
)


def _row(case_id: str = "a", *, attempt: int = 1, priority: str = "P0", **fig) -> AttemptRow:
    body = {"case_id": case_id, "priority": priority, "attempt": attempt, **fig}
    return AttemptRow.from_dict(body)


def test_metric_stats_known_values():
    st = metric_stats([1.0, 2.0, 3.0, 4.0, None])
    assert st.n == 4
    assert st.median == 2.5
    assert st.p95 == pytest.approx(3.85)
    assert st.sigma == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert metric_stats([]).median is None


def test_proposals_follow_the_stated_methods():
    eot = [100.0, 200.0, 300.0, 400.0, 1000.0]
    ttft = [50.0, 60.0, 70.0]
    rows = [
        _row(
            f"c{i}",
            eot_to_first_audio_ms=v,
            turns=[{"fast_lane_ttft_ms": ttft[i]}] if i < len(ttft) else [],
        )
        for i, v in enumerate(eot)
    ]
    p = propose_thresholds([RunSample("r", "PASS", rows)], margin_ms=10.0)
    assert p["eot_to_first_audio_p95_ms"].value == pytest.approx(round(880.0 * 1.2 + 10.0, 1))
    assert "P95 x 1.2" in p["eot_to_first_audio_p95_ms"].method
    assert p["fast_lane_ttft_p95_ms"].value == pytest.approx(60.0 + 2 * 10.0)
    assert "median + 2 sigma" in p["fast_lane_ttft_p95_ms"].method
    assert p["audible_dropout_max"].value == 0
    assert p["audio_valid_rate_min"].value == 1.0
    assert p["clipping_ratio_max"].value == 0.001
    assert p["tts_first_to_publish_p95_ms"].value is None


def test_verdict_flips_and_retry_rate():
    assert verdict_flips(["PASS", "PASS", "FAIL", "PASS"]) == 2
    assert verdict_flips([]) == 0
    runs = [
        RunSample("r1", "PASS", [_row("a"), _row("b"), _row("b", attempt=2)]),
        RunSample("r2", "PASS", [_row("a"), _row("b")]),
    ]
    assert retry_rate(runs) == pytest.approx(0.25)
    assert retry_rate([]) is None


def test_stability_summary_pools_p0_only_at_each_metrics_level():
    def rows(e: float) -> list[AttemptRow]:
        return [
            _row(
                "a",
                eot_to_first_audio_ms=e,
                turns=[{"eot_to_first_audio_ms": e, "fast_lane_ttft_ms": 50.0}],
                replies=[{"max_gap_ms": 0.0}],
            ),
            _row("z", priority="P1", eot_to_first_audio_ms=9999.0),
        ]

    s = stability_summary(
        [RunSample("r1", "PASS", rows(400.0)), RunSample("r2", "FAIL", rows(500.0))]
    )
    assert s.metrics["eot_to_first_audio_ms"].n == 2
    assert s.metrics["eot_to_first_audio_ms"].median == 450.0
    assert s.metrics["fast_lane_ttft_ms"].n == 2
    assert s.verdict_flips == 1
    assert s.retry_rate == 0.0
    assert s.proposed_thresholds["max_gap_limit_ms"].value == pytest.approx(10.0)
