"""Network impairment profiles: what one link does to the packets that cross it.

A `LinkProfile` is seeded and per link (the user's uplink, the agent's downlink):
- `one_way_delay_ms`: fixed delay every packet gets;
- jitter: an extra delay >= 0 drawn per packet, `jitter_dist` with mean `jitter_ms`
  (`exponential`, queueing-like; `uniform` on [0, 2 x mean]; `pareto`, heavy-tailed
  with shape 3). A packet delayed past the next one's arrival is reordered by it;
- loss: `random` (each packet lost with `loss_pct`) or `gilbert` (Gilbert-Elliott: a
  good and a bad state, `p_good_to_bad` and `p_bad_to_good` per packet, and the loss
  probability in each, `loss_in_bad` and `loss_in_good`: bursty loss);
- `reorder_pct`: a packet held back by `reorder_hold_ms` more, so that the next
  packets overtake it.

Named profiles ship in `profiles.yaml` beside this file (`clean`, `wifi`, `lossy_5`,
`lossy_20`, `jitter_80`, `mobile_4g`); `load_profiles(path)` reads a custom file of
the same shape. A bad file or field is an InputError naming both (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from autortc.errors import CaseError, InputError

PROFILES_PATH = Path(__file__).with_name("profiles.yaml")
NETWORK_OFF = "off"  # no network at all: raw PCM frames over loopback (`--network off`)


class LinkProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    one_way_delay_ms: float = Field(default=0.0, ge=0, le=5000)
    jitter_ms: float = Field(default=0.0, ge=0, le=2000)
    jitter_dist: Literal["exponential", "uniform", "pareto"] = "exponential"
    loss_model: Literal["none", "random", "gilbert"] = "none"
    loss_pct: float = Field(default=0.0, ge=0, le=100)
    p_good_to_bad: float = Field(default=0.0, ge=0, le=1)
    p_bad_to_good: float = Field(default=1.0, gt=0, le=1)
    loss_in_bad: float = Field(default=1.0, ge=0, le=1)
    loss_in_good: float = Field(default=0.0, ge=0, le=1)
    reorder_pct: float = Field(default=0.0, ge=0, le=100)
    reorder_hold_ms: float = Field(default=30.0, ge=0, le=1000)

    @model_validator(mode="after")
    def _loss_fields_fit_the_model(self) -> LinkProfile:
        if self.loss_model != "random" and self.loss_pct > 0:
            raise ValueError("loss_pct is only used with loss_model: random")
        return self

    @property
    def mean_loss(self) -> float:
        """The long-run share of packets lost (Gilbert-Elliott: its stationary mix)."""
        if self.loss_model == "random":
            return self.loss_pct / 100.0
        if self.loss_model == "gilbert":
            pi_bad = self.p_good_to_bad / (self.p_good_to_bad + self.p_bad_to_good)
            return pi_bad * self.loss_in_bad + (1 - pi_bad) * self.loss_in_good
        return 0.0

    @property
    def is_clean(self) -> bool:
        return self == LinkProfile()


class NetworkProfile(BaseModel):
    """Both links of a room: the caller's (user bot -> agent) and the agent's (-> probe)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uplink: LinkProfile = LinkProfile()
    downlink: LinkProfile = LinkProfile()
    playout_delay_ms: float = Field(default=60.0, ge=0, le=2000)  # the receiver's jitter buffer


def _first_error(path: Path, exc: ValidationError, prefix: str) -> CaseError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in (prefix, *first["loc"]) if p != "")
    return CaseError(str(path), where or prefix, first["msg"])


def load_profiles(path: Path = PROFILES_PATH) -> dict[str, NetworkProfile]:
    """name -> profile, from a YAML mapping of names to profiles."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: malformed YAML: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise CaseError(str(path), "(file)", "expected a mapping of profile names to profiles")
    out: dict[str, NetworkProfile] = {}
    for name, body in data.items():
        try:
            out[str(name)] = NetworkProfile.model_validate(body or {})
        except ValidationError as exc:
            raise _first_error(path, exc, str(name)) from None
    return out


def profile_named(name: str, path: Path | None = None) -> NetworkProfile:
    """A shipped profile by name, or one from a custom file (`path`); InputError names
    the choices when there is no such profile."""
    profiles = load_profiles(path or PROFILES_PATH)
    if name not in profiles:
        raise InputError(
            f"{path or PROFILES_PATH}: no network profile '{name}' "
            f"(choose from {', '.join(sorted(profiles))})"
        )
    return profiles[name]
