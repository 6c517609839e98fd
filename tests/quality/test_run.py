"""The quality pass's pure pieces: the 16 kHz pair and merging figures into a row."""

from __future__ import annotations

import numpy as np

from autortc.metrics import registry as M
from autortc.metrics.rows import AttemptRow
from autortc.quality.run import reply_pair, with_figures


def test_the_pair_is_16_khz_float32_and_keeps_a_missing_pre_missing() -> None:
    t = np.arange(48_000) / 48_000
    x = 0.5 * np.sin(2 * np.pi * 440 * t)
    pair = reply_pair(x, x, sample_rate_hz=48_000, text="hello")
    assert pair.post.dtype == np.float32
    assert len(pair.post) == 16_000
    assert pair.pre is not None
    assert np.array_equal(pair.pre, pair.post)
    assert reply_pair(x, None, sample_rate_hz=48_000, text="").pre is None


def test_figures_are_rounded_by_the_registry_and_unknown_keys_dropped() -> None:
    row = AttemptRow(
        case_id="c",
        priority="P0",
        attempt=1,
        trace_id="t",
        capture_status="OK",
        audio_valid=True,
        retry=False,
        slice_source="events",
        reply_start_sample=0,
        reply_end_sample=100,
        figures={M.MEL_DISTANCE.name: 1.5},
    )
    got = with_figures(row, {M.VISQOL.name: 4.123456789, "not_a_metric": 1.0})
    assert got.figures[M.VISQOL.name] == M.VISQOL.round(4.123456789)
    assert got.figures[M.MEL_DISTANCE.name] == 1.5
    assert "not_a_metric" not in got.figures


def test_an_interrupted_reply_gets_no_heard_wer_against_its_whole_text() -> None:
    from autortc.quality.run import reply_figures

    x = np.zeros(48_000, dtype=np.float64)
    pair = reply_pair(x, x, sample_rate_hz=48_000, text="hello there", interrupted=True)
    assert pair.interrupted
    assert reply_figures(pair, listening=False, heard=True) == {}
