"""Calibration: the harness's error on `eot_to_first_audio_ms` (pure; issue 13).

The calibration agent (agent/calibration.py) answers a turn with a tone whose first
sample leaves D ms after the turn's EoT sample reached it, and reports the D it
achieved on its own clock (`agent_eot_to_first_audio_ms`: its trace points `user_eot`
and `first_frame_published`). On the embedded transport every other delay on the path
is configured or measured by the transport itself, so the true EoT -> first audio is

    true = achieved D + one_way_path_ms(uplink) + one_way_path_ms(downlink)

and one direction of the path is

    packetization 10 ms  (a 20 ms packet leaves when its second 10 ms frame is in; the
                          EoT sample, in either half, and the tone, which starts a talk
                          spurt and so the first half, both wait 10 ms net of the
                          per-sample time convention)
  + the link's transit  (its floor as the receiving jitter buffer measured it: the
                          configured one-way delay and the loopback hops and timers of
                          the embedded room server, a fraction of a millisecond; the
                          configured delay alone when no floor was recorded)
  + the receiver's jitter-buffer playout delay (counted from that floor)
  + the codec's algorithmic delay (Opus: its 6.5 ms lookahead; PCM: 0).

The harness's error is measured - true; over a set of turns its bias is the mean error
and its spread the P95 of |error| (numpy linear). The acceptance bound is
|bias| <= 1 ms and P95 |error| <= 2 ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PACKETIZATION_MS = 10.0
CODEC_DELAY_MS = {"pcm": 0.0, "opus": 6.5}  # libopus's lookahead at 48 kHz: 312 samples
BIAS_BOUND_MS = 1.0
P95_ABS_BOUND_MS = 2.0


def one_way_path_ms(*, transit_ms: float, playout_delay_ms: float, codec: str) -> float:
    return PACKETIZATION_MS + transit_ms + playout_delay_ms + CODEC_DELAY_MS[codec]


@dataclass(frozen=True)
class CalibrationTurn:
    config: str  # e.g. "opus, 40 ms one way"
    case_id: str
    delay_ms: int  # D the agent aimed at
    achieved_delay_ms: float | None  # D it achieved, on its clock
    path_ms: float  # both directions' configured delays
    measured_ms: float | None  # the harness's eot_to_first_audio_ms

    @property
    def true_ms(self) -> float | None:
        if self.achieved_delay_ms is None:
            return None
        return self.achieved_delay_ms + self.path_ms

    @property
    def error_ms(self) -> float | None:
        true = self.true_ms
        return None if true is None or self.measured_ms is None else self.measured_ms - true


@dataclass(frozen=True)
class ErrorSummary:
    n: int
    missing: int  # turns without a measured or a true value
    bias_ms: float | None
    p95_abs_ms: float | None
    max_abs_ms: float | None
    sd_ms: float | None
    aim_p95_abs_ms: float | None  # how far the agent's achieved D was from the D it aimed at

    @property
    def passed(self) -> bool:
        return (
            self.n > 0
            and self.missing == 0
            and self.bias_ms is not None
            and abs(self.bias_ms) <= BIAS_BOUND_MS
            and self.p95_abs_ms is not None
            and self.p95_abs_ms <= P95_ABS_BOUND_MS
        )


def summarise(turns: Sequence[CalibrationTurn]) -> ErrorSummary:
    errors = np.array([e for t in turns if (e := t.error_ms) is not None], dtype=np.float64)
    aims = np.array(
        [t.achieved_delay_ms - t.delay_ms for t in turns if t.achieved_delay_ms is not None],
        dtype=np.float64,
    )
    n = len(errors)
    if n == 0:
        return ErrorSummary(0, len(turns), None, None, None, None, None)
    return ErrorSummary(
        n=n,
        missing=len(turns) - n,
        bias_ms=float(np.mean(errors)),
        p95_abs_ms=float(np.percentile(np.abs(errors), 95, method="linear")),
        max_abs_ms=float(np.max(np.abs(errors))),
        sd_ms=float(np.std(errors, ddof=1)) if n > 1 else 0.0,
        aim_p95_abs_ms=float(np.percentile(np.abs(aims), 95, method="linear"))
        if len(aims)
        else None,
    )
