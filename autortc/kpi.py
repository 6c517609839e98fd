"""PRIMARY_KPI and the comparison with a golden baseline (pure).

- PRIMARY_KPI = P95 of `eot_to_first_audio_ms` over the P0 first replies (one value
  per P0 case, its final attempt; None values are dropped). Percentile method:
  `autortc.metrics.stats` (numpy "linear").
- Delta = PRIMARY_KPI - baseline PRIMARY_KPI (positive = slower).
- Its 95 % CI is a percentile bootstrap: both samples are resampled with replacement
  (independently, same sizes), the P95 difference is taken per iteration, and the
  2.5 / 97.5 percentiles of those differences are the bounds. 2000 iterations, seeded
  RNG (numpy PCG64, seed 0): the same inputs always give the same CI.
- Regression when delta > +kpi_regression_ms (default 30 ms, from the gates config).

The baseline is the golden run's summary.json (`Baseline`); it must carry
`PRIMARY_KPI_SAMPLES_MS` for the CI (without it the CI is None, the delta still is not).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from autortc.metrics import registry as M
from autortc.metrics import stats
from autortc.metrics.rows import AttemptRow, final_attempts

PRIMARY_KPI_METRIC = M.EOT_TO_FIRST_AUDIO
PRIMARY_KPI_NAME = PRIMARY_KPI_METRIC.name.removesuffix("_ms") + "_p95_ms"
N_BOOT = 2000
BOOT_SEED = 0


class Baseline(BaseModel):
    """What the KPI comparison reads from a golden baseline's summary.json."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    PRIMARY_KPI_VALUE: float | None
    PRIMARY_KPI_SAMPLES_MS: list[float] | None = None
    BASELINE_NAME: str | None = None
    RUN_ID: str | None = None
    run_id: str | None = None

    @property
    def version(self) -> str | None:
        return self.BASELINE_NAME or self.RUN_ID or self.run_id


class Bootstrap(BaseModel):
    iterations: int
    seed: int
    method: str = "percentile, both resampled"


class KpiSummary(BaseModel):
    """The KPI block of summary.json (report.md opens with it)."""

    PRIMARY_KPI_NAME: str = PRIMARY_KPI_NAME
    PRIMARY_KPI_VALUE: float | None = None
    PRIMARY_KPI_SAMPLES_MS: list[float] = []
    PRIMARY_KPI_N: int = 0
    PRIMARY_KPI_PERCENTILE_METHOD: str = f"numpy {stats.PERCENTILE_METHOD}"
    BASELINE_VERSION: str | None = None
    BASELINE_PRIMARY_KPI: float | None = None
    BASELINE_PRIMARY_KPI_SAMPLES_MS: list[float] | None = None
    PRIMARY_KPI_DELTA_MS: float | None = None
    PRIMARY_KPI_DELTA_CI95: list[float] | None = None
    PRIMARY_KPI_REGRESSION_MS: float = 30.0
    PRIMARY_KPI_REGRESSION: bool | None = None
    PRIMARY_KPI_BOOTSTRAP: Bootstrap = Bootstrap(iterations=N_BOOT, seed=BOOT_SEED)


def p95(values: Sequence[float | None]) -> float | None:
    return stats.p95(values)


def primary_kpi_samples(rows: Sequence[AttemptRow]) -> list[float]:
    """First-reply eot_to_first_audio_ms of the P0 cases (final attempt per case)."""
    return stats.finite(r.get(PRIMARY_KPI_METRIC) for r in final_attempts(rows) if r.is_p0)


def bootstrap_delta_ci(
    current: Sequence[float],
    baseline: Sequence[float],
    *,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile-bootstrap CI of P95(current) - P95(baseline); None if a sample is empty."""
    a = np.asarray(stats.finite(current), dtype=np.float64)
    b = np.asarray(stats.finite(baseline), dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return None
    rng = np.random.default_rng(seed)
    ra = a[rng.integers(0, a.size, size=(n_boot, a.size))]
    rb = b[rng.integers(0, b.size, size=(n_boot, b.size))]
    method = stats.PERCENTILE_METHOD
    d = np.percentile(ra, 95, axis=1, method=method) - np.percentile(rb, 95, axis=1, method=method)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.percentile(d, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


def build_kpi_summary(
    current_values: Sequence[float | None],
    baseline: Baseline | None,
    *,
    baseline_version: str | None = None,
    regression_ms: float = 30.0,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
) -> KpiSummary:
    """The KPI block. `baseline_version` names the golden baseline (e.g. `golden/<name>`);
    without it the baseline's BASELINE_NAME / RUN_ID is used."""
    cur = stats.finite(current_values)
    value = stats.p95(cur)
    out = KpiSummary(
        PRIMARY_KPI_VALUE=None if value is None else round(value, 3),
        PRIMARY_KPI_SAMPLES_MS=[round(v, 3) for v in cur],
        PRIMARY_KPI_N=len(cur),
        PRIMARY_KPI_REGRESSION_MS=regression_ms,
        PRIMARY_KPI_BOOTSTRAP=Bootstrap(iterations=n_boot, seed=seed),
    )
    if baseline is None:
        return out
    base_samples = stats.finite(baseline.PRIMARY_KPI_SAMPLES_MS or [])
    base_value = baseline.PRIMARY_KPI_VALUE
    if base_value is None:
        base_value = stats.p95(base_samples)
    update: dict[str, object] = {
        "BASELINE_VERSION": baseline_version or baseline.version,
        "BASELINE_PRIMARY_KPI": None if base_value is None else round(float(base_value), 3),
        "BASELINE_PRIMARY_KPI_SAMPLES_MS": base_samples or None,
    }
    if value is not None and base_value is not None:
        delta = value - float(base_value)
        ci = bootstrap_delta_ci(cur, base_samples, n_boot=n_boot, seed=seed)
        update.update(
            PRIMARY_KPI_DELTA_MS=round(delta, 3),
            PRIMARY_KPI_REGRESSION=delta > regression_ms,
            PRIMARY_KPI_DELTA_CI95=None if ci is None else [round(ci[0], 3), round(ci[1], 3)],
        )
    return out.model_copy(update=update)
