"""agent_cancel_ms (ring2) and pre_rtc_end_mismatch_ms (ring1), on synthetic signals."""

from __future__ import annotations

import numpy as np
import pytest

from autortc.metrics import ring1, ring2

SR = 48_000


def tone(n: int) -> np.ndarray:
    t = np.arange(n) / SR
    return 0.3 * np.sin(2 * np.pi * 440 * t)


def test_agent_cancel_is_cancel_done_minus_barge_in() -> None:
    pts = {"barge_in": 5_000_000_000, "cancel_done": 5_007_250_000}
    assert ring2.agent_cancel_ms(pts) == pytest.approx(7.25)
    assert ring2.agent_cancel_ms({"barge_in": 1}) is None  # decided, never cancelled


def test_pre_rtc_end_is_zero_when_pre_rtc_ends_where_the_sound_stopped() -> None:
    post = np.concatenate([tone(SR), np.zeros(SR // 2)])
    assert ring1.pre_rtc_end_mismatch_ms(post.copy(), post, sample_rate_hz=SR) == pytest.approx(0.0)


def test_pre_rtc_end_mismatch_is_large_when_pre_rtc_holds_audio_never_sent() -> None:
    post = np.concatenate([tone(SR), np.zeros(SR // 2)])
    pre = np.concatenate([tone(SR + SR // 5), np.zeros(SR // 2 - SR // 5)])  # 200 ms more
    assert ring1.pre_rtc_end_mismatch_ms(pre, post, sample_rate_hz=SR) == pytest.approx(
        200.0, abs=1.0
    )


def test_pre_rtc_end_is_none_without_sound() -> None:
    silent = np.zeros(SR)
    assert ring1.pre_rtc_end_mismatch_ms(silent, tone(SR), sample_rate_hz=SR) is None


def test_a_starter_cache_hit_is_read_from_the_turns_trace() -> None:
    assert ring2.starter_cache_hit({"user_eot": 1, "starter_cache_hit": 2}) == 1
    assert ring2.starter_cache_hit({"user_eot": 1}) == 0
    assert ring2.starter_cache_hit({}) is None  # no trace: unknown, not a miss
