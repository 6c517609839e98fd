"""PRIMARY_KPI and the comparison with a golden baseline (pure).

- PRIMARY_KPI = P95 of `eot_to_first_audio_ms` over the P0 first replies (one value
  per P0 case, its final attempt; None values are dropped). Percentile method: numpy
  "linear" (type 7, the default of numpy/pandas/R).
- Delta = PRIMARY_KPI - baseline PRIMARY_KPI (positive = slower).
- Its 95 % CI is a percentile bootstrap: both samples are resampled with replacement
  (independently, same sizes), the P95 difference is taken per iteration, and the
  2.5 / 97.5 percentiles of those differences are the bounds. 2000 iterations, seeded
  RNG (numpy PCG64, seed 0): the same inputs always give the same CI.
- Regression when delta > +kpi_regression_ms (default 30 ms, from the gates config).

The baseline is the golden run's loaded summary.json; it must carry
`PRIMARY_KPI_SAMPLES_MS` for the CI (without it the CI is None, the delta still is not).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np

PRIMARY_KPI_NAME = "eot_to_first_audio_p95_ms"
PERCENTILE_METHOD: Final = "linear"
N_BOOT = 2000
BOOT_SEED = 0


def _clean(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and np.isfinite(v)]


def p95(values: Sequence[float | None]) -> float | None:
    v = _clean(values)
    return float(np.percentile(v, 95, method=PERCENTILE_METHOD)) if v else None


def primary_kpi_samples(case_rows: Sequence[Mapping[str, Any]]) -> list[float]:
    """First-reply eot_to_first_audio_ms of the P0 cases (final attempt per case)."""
    last: dict[str, Mapping[str, Any]] = {}
    for r in case_rows:
        cid = str(r.get("case_id"))
        if cid not in last or int(r.get("attempt", 1)) >= int(last[cid].get("attempt", 1)):
            last[cid] = r
    return _clean(
        [r.get("eot_to_first_audio_ms") for r in last.values() if r.get("priority", "P0") == "P0"]
    )


def bootstrap_delta_ci(
    current: Sequence[float],
    baseline: Sequence[float],
    *,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile-bootstrap CI of P95(current) - P95(baseline); None if a sample is empty."""
    a = np.asarray(_clean(current))
    b = np.asarray(_clean(baseline))
    if a.size == 0 or b.size == 0:
        return None
    rng = np.random.default_rng(seed)
    ra = a[rng.integers(0, a.size, size=(n_boot, a.size))]
    rb = b[rng.integers(0, b.size, size=(n_boot, b.size))]
    d = np.percentile(ra, 95, axis=1, method=PERCENTILE_METHOD) - np.percentile(
        rb, 95, axis=1, method=PERCENTILE_METHOD
    )
    alpha = (1.0 - level) / 2.0
    lo, hi = np.percentile(d, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


def _baseline_version(baseline: Mapping[str, Any]) -> str | None:
    for k in ("BASELINE_NAME", "RUN_ID", "run_id", "VERSION"):
        if baseline.get(k):
            return str(baseline[k])
    return None


def build_kpi_summary(
    current_values: Sequence[float | None],
    baseline: Mapping[str, Any] | None,
    *,
    baseline_version: str | None = None,
    regression_ms: float = 30.0,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
) -> dict[str, Any]:
    """The KPI block of summary.json (report.md opens with it).

    `baseline_version` names the golden baseline (e.g. `golden/<name>`); without it the
    baseline's BASELINE_NAME / RUN_ID is used.
    """
    cur = _clean(current_values)
    value = p95(cur)
    out: dict[str, Any] = {
        "PRIMARY_KPI_NAME": PRIMARY_KPI_NAME,
        "PRIMARY_KPI_VALUE": None if value is None else round(value, 3),
        "PRIMARY_KPI_SAMPLES_MS": [round(v, 3) for v in cur],
        "PRIMARY_KPI_N": len(cur),
        "PRIMARY_KPI_PERCENTILE_METHOD": f"numpy {PERCENTILE_METHOD}",
        "BASELINE_VERSION": None,
        "BASELINE_PRIMARY_KPI": None,
        "BASELINE_PRIMARY_KPI_SAMPLES_MS": None,
        "PRIMARY_KPI_DELTA_MS": None,
        "PRIMARY_KPI_DELTA_CI95": None,
        "PRIMARY_KPI_REGRESSION_MS": regression_ms,
        "PRIMARY_KPI_REGRESSION": None,
        "PRIMARY_KPI_BOOTSTRAP": {
            "iterations": n_boot,
            "seed": seed,
            "method": "percentile, both resampled",
        },
    }
    if baseline is None:
        return out
    base_samples = _clean(baseline.get("PRIMARY_KPI_SAMPLES_MS") or [])
    base_value = baseline.get("PRIMARY_KPI_VALUE")
    if base_value is None:
        base_value = p95(base_samples)
    out["BASELINE_VERSION"] = baseline_version or _baseline_version(baseline)
    out["BASELINE_PRIMARY_KPI"] = None if base_value is None else round(float(base_value), 3)
    out["BASELINE_PRIMARY_KPI_SAMPLES_MS"] = base_samples or None
    if value is None or base_value is None:
        return out
    delta = value - float(base_value)
    out["PRIMARY_KPI_DELTA_MS"] = round(delta, 3)
    out["PRIMARY_KPI_REGRESSION"] = delta > regression_ms
    ci = bootstrap_delta_ci(cur, base_samples, n_boot=n_boot, seed=seed)
    out["PRIMARY_KPI_DELTA_CI95"] = None if ci is None else [round(ci[0], 3), round(ci[1], 3)]
    return out
