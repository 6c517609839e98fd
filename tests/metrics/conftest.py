"""Synthetic signals with known answers for the measurement core.

The `synth` fixture is a namespace of pure builders. Time grid: sample n of
`post_full` arrives at exactly T0 + n / SR (frame i's recv time is the arrival of its
last sample), so a latency in samples converts to ms exactly.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from autortc.metrics.inputs import AttemptInputs, ReplyEvents, TracePoint, TurnTiming

SR = 48_000
SPF = 480
T0 = 10**12


def t_of(n: float) -> int:
    """Host time (ns) at which sample n arrives on the ideal grid."""
    return T0 + round(n * 1e9 / SR)


def recv_grid(n_samples: int) -> np.ndarray:
    n_frames = -(-n_samples // SPF)
    return np.array([t_of(i * SPF + SPF - 1) for i in range(n_frames)], dtype=np.int64)


def tone(n: int, *, freq_hz: float = 1000.0, amp: float = 0.3) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq_hz * np.arange(n) / SR)


def speechlike(duration_s: float, *, seed: int = 0, amp: float = 0.3) -> np.ndarray:
    """Broadband bursts (syllables) with raised-cosine envelopes and short pauses."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    total = int(duration_s * SR)
    n = 0
    while n < total:
        syl = int(rng.uniform(0.12, 0.25) * SR)
        env = np.sin(np.pi * np.arange(syl) / syl) ** 0.5
        f0 = rng.uniform(110, 220)
        t = np.arange(syl) / SR
        voiced = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 30))
        noise = rng.standard_normal(syl) * 0.3
        out.append(amp * env * (voiced / 3 + noise) / 1.5)
        pause = int(rng.uniform(0.03, 0.08) * SR)
        out.append(np.zeros(pause))
        n += syl + pause
    x = np.concatenate(out)[:total]
    x[-SPF:] = 0.0  # end in silence
    return x


def make_inputs(
    post_full: np.ndarray,
    *,
    eot_sample: int,
    replies: list[ReplyEvents] | None = None,
    pre_rtc: np.ndarray | None = None,
    pre_rtc_replies: dict[int, tuple[int, int]] | None = None,
    turns: list[TurnTiming] | None = None,
    trace: list[TracePoint] | None = None,
    input_audio: np.ndarray | None = None,
    **kw: Any,
) -> AttemptInputs:
    return AttemptInputs(
        case_id=kw.pop("case_id", "case"),
        priority=kw.pop("priority", "P0"),
        attempt=kw.pop("attempt", 1),
        trace_id="trace",
        sample_rate_hz=SR,
        post_full=np.asarray(post_full, dtype=np.float32),
        post_frame_recv_t_ns=kw.pop("recv", None) if "recv" in kw else recv_grid(len(post_full)),
        input_audio=np.zeros(SR, dtype=np.float32) if input_audio is None else input_audio,
        pre_rtc=pre_rtc,
        pre_rtc_replies=pre_rtc_replies,
        replies=replies or [],
        turns=turns
        if turns is not None
        else [TurnTiming(0, t_of(eot_sample - SR), t_of(eot_sample))],
        agent_trace=trace or [],
        **kw,
    )


@pytest.fixture
def synth() -> SimpleNamespace:
    return SimpleNamespace(
        SR=SR,
        SPF=SPF,
        T0=T0,
        t_of=t_of,
        recv_grid=recv_grid,
        tone=tone,
        speechlike=speechlike,
        make_inputs=make_inputs,
    )
