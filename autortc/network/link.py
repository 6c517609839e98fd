"""What one link does to each packet (pure, seeded): lost, or delivered after a delay.

`LinkModel(profile, seed).fate(seq)` is asked in sequence order (the Gilbert-Elliott
state carries from packet to packet; a skipped packet's fate is drawn unseen). Every packet draws the same
four numbers from the seeded generator whatever happens to it, so the same seed gives
the same fates packet by packet, and a profile change (a loss rate, say) moves no
other packet's delay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autortc.network.profiles import LinkProfile

PARETO_SHAPE = 3.0  # tail index of the pareto jitter (finite mean and variance)


@dataclass(frozen=True)
class Fate:
    seq: int
    lost: bool
    delay_ms: float  # one-way delay of a delivered packet (0.0 for a lost one)
    bad_state: bool = False  # Gilbert-Elliott: the link was in its bad state


class LinkModel:
    def __init__(self, profile: LinkProfile, seed: int) -> None:
        self.profile = profile
        self._rng = np.random.default_rng(seed)
        self._bad = False
        self._next_seq = 0

    def _jitter_ms(self, u: float) -> float:
        p = self.profile
        if p.jitter_ms <= 0:
            return 0.0
        if p.jitter_dist == "uniform":
            return 2.0 * p.jitter_ms * u
        if p.jitter_dist == "pareto":  # Lomax with mean jitter_ms: scale (shape - 1) * mean
            scale = (PARETO_SHAPE - 1.0) * p.jitter_ms
            return float(scale * ((1.0 - u) ** (-1.0 / PARETO_SHAPE) - 1.0))
        return float(-p.jitter_ms * np.log(1.0 - u))  # exponential, by inversion

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def fate(self, seq: int) -> Fate:
        """Packet `seq`'s fate; the packets skipped before it draw theirs (unseen), so a
        packet's fate depends on the seed and its number only."""
        if seq < self._next_seq:
            raise ValueError(f"fate asked for packet {seq} again (next is {self._next_seq})")
        while self._next_seq < seq:
            self._draw(self._next_seq)
        return self._draw(seq)

    def _draw(self, seq: int) -> Fate:
        self._next_seq = seq + 1
        u_state, u_loss, u_jitter, u_reorder = self._rng.random(4)
        p = self.profile
        if p.loss_model == "gilbert":
            self._bad = bool(u_state >= p.p_bad_to_good if self._bad else u_state < p.p_good_to_bad)
            loss_p = p.loss_in_bad if self._bad else p.loss_in_good
        elif p.loss_model == "random":
            loss_p = p.loss_pct / 100.0
        else:
            loss_p = 0.0
        if u_loss < loss_p:
            return Fate(seq, True, 0.0, self._bad)
        delay = p.one_way_delay_ms + self._jitter_ms(float(u_jitter))
        if u_reorder < p.reorder_pct / 100.0:
            delay += p.reorder_hold_ms
        return Fate(seq, False, delay, self._bad)


def fates(profile: LinkProfile, seed: int, n: int) -> list[Fate]:
    """The fates of packets 0..n-1."""
    model = LinkModel(profile, seed)
    return [model.fate(k) for k in range(n)]
