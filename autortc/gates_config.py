"""Gate thresholds: `GatesConfig` and the YAML file that sets it.

The defaults are the spec's table (docs/spec/measurement.md, "Suite: gates") and
`gates_default.yaml` repeats them for users to copy; a test keeps the two equal.
Each threshold is read by exactly one gate of `autortc.gates`.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autortc.errors import CaseError

DEFAULT_GATES_PATH = Path(__file__).with_name("gates_default.yaml")


class GatesConfig(BaseModel):
    """Thresholds; defaults are the spec's table (see gates_default.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    eot_to_first_audio_p95_ms: float = Field(default=780.0, gt=0)
    tts_first_to_publish_p95_ms: float = Field(default=120.0, gt=0)
    audible_dropout_max: int = Field(default=0, ge=0)
    max_gap_limit_ms: float = Field(default=350.0, gt=0)
    clipping_ratio_max: float = Field(default=0.001, gt=0, le=1)
    fast_lane_ttft_p95_ms: float = Field(default=80.0, gt=0)
    audio_valid_rate_min: float = Field(default=1.0, gt=0, le=1)
    inter_arrival_p95_limit_ms: float = Field(default=30.0, gt=0)
    kpi_regression_ms: float = Field(default=30.0, ge=0)
    false_endpoint_max: int = Field(default=0, ge=0)
    unanswered_max: int = Field(default=0, ge=0)
    false_interruption_max: int = Field(default=0, ge=0)
    overlap_limit_ms: float = Field(default=300.0, gt=0)
    barge_in_stop_limit_ms: float = Field(default=600.0, gt=0)
    reply_incomplete_max: int = Field(default=0, ge=0)
    conceal_rate_max_per_s: float = Field(default=1.0, ge=0)
    warn_drift_fraction: float = Field(default=0.02, gt=0, lt=1)
    warn_hf_ratio_drop: float = Field(default=0.5, gt=0, le=1)
    warn_input_spike_count: int = Field(default=0, ge=0)
    warn_heard_wer_increase: float = Field(default=0.3, ge=0, le=1)
    warn_visqol_floor: float = Field(default=4.0, ge=1, le=5)


def load_gates(path: str | Path | None = None) -> GatesConfig:
    """Load a gates YAML file (default: the packaged defaults). Errors name file and field."""
    p = Path(path) if path is not None else DEFAULT_GATES_PATH
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise CaseError(str(p), "<file>", f"cannot read: {e.strerror or e}") from e
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise CaseError(str(p), "<file>", f"invalid YAML: {e}") from e
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise CaseError(str(p), "<root>", "expected a mapping of gate name -> threshold")
    try:
        return GatesConfig.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "<root>"
        raise CaseError(str(p), field, err["msg"]) from e
