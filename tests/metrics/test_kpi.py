import numpy as np
import pytest

from autortc.kpi import (
    PRIMARY_KPI_NAME,
    Baseline,
    bootstrap_delta_ci,
    build_kpi_summary,
    p95,
    primary_kpi_samples,
)
from autortc.metrics.rows import AttemptRow


def test_p95_is_numpy_linear():
    assert p95([100, 200, 300, 400, 1000]) == pytest.approx(880.0)
    assert p95([None, 5.0]) == pytest.approx(5.0)
    assert p95([]) is None


def test_samples_take_p0_first_replies_final_attempts():
    rows = [
        AttemptRow.from_dict(d)
        for d in (
            {"case_id": "a", "priority": "P0", "attempt": 1, "eot_to_first_audio_ms": 999.0},
            {"case_id": "a", "priority": "P0", "attempt": 2, "eot_to_first_audio_ms": 400.0},
            {"case_id": "b", "priority": "P1", "attempt": 1, "eot_to_first_audio_ms": 300.0},
            {"case_id": "c", "priority": "P0", "attempt": 1, "eot_to_first_audio_ms": None},
        )
    ]
    assert primary_kpi_samples(rows) == [400.0]


def test_summary_without_baseline():
    s = build_kpi_summary([400.0, 500.0], None)
    assert s.PRIMARY_KPI_NAME == PRIMARY_KPI_NAME
    value = s.PRIMARY_KPI_VALUE
    assert value == pytest.approx(495.0)
    assert s.BASELINE_PRIMARY_KPI is None
    assert s.PRIMARY_KPI_DELTA_MS is None


def test_delta_and_ci_against_a_shifted_baseline():
    rng = np.random.default_rng(1)
    base = list(rng.normal(500, 20, 40))
    cur = [v + 50.0 for v in base]  # exactly +50 ms on every sample
    baseline = Baseline(PRIMARY_KPI_VALUE=p95(base), PRIMARY_KPI_SAMPLES_MS=base, RUN_ID="r1")
    s = build_kpi_summary(cur, baseline, baseline_version="golden/main")
    delta = s.PRIMARY_KPI_DELTA_MS
    assert delta == pytest.approx(50.0, abs=1e-3)
    lo, hi = s.PRIMARY_KPI_DELTA_CI95
    assert lo < 50.0 < hi
    assert s.PRIMARY_KPI_REGRESSION is True
    assert s.BASELINE_VERSION == "golden/main"
    samples = s.PRIMARY_KPI_SAMPLES_MS
    assert samples == pytest.approx(cur, abs=1e-3)


def test_bootstrap_is_seeded_and_ci_of_identical_samples_contains_zero():
    x = [float(v) for v in np.random.default_rng(3).normal(400, 30, 20)]
    a = bootstrap_delta_ci(x, x)
    assert a == bootstrap_delta_ci(x, x)
    assert a is not None
    assert a[0] <= 0.0 <= a[1]
    assert bootstrap_delta_ci(x, []) is None


def test_no_regression_within_30ms_and_ci_none_without_baseline_samples():
    s = build_kpi_summary([510.0] * 5, Baseline(PRIMARY_KPI_VALUE=500.0))
    delta = s.PRIMARY_KPI_DELTA_MS
    assert delta == pytest.approx(10.0)
    assert s.PRIMARY_KPI_REGRESSION is False
    assert s.PRIMARY_KPI_DELTA_CI95 is None
