"""Known answers for the arrival of a sent sample at a listener."""

from __future__ import annotations

import numpy as np
import pytest

from autortc.espeak import EspeakSynth, resample_to_48k
from autortc.metrics.arrival import arrival_t_ns, locate
from autortc.opus_roundtrip import opus_roundtrip

SR = 48_000
SPF = 480
T0 = 10**12


def _speech(seconds: float, seed: int = 1) -> np.ndarray:
    """Speech-like: noise through a slow amplitude envelope, with pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    env = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None)
    return 0.3 * env * rng.standard_normal(n)


def _grid(n_samples: int) -> np.ndarray:
    """Frame i's samples arrive together at T0 + the time of its last sample."""
    return np.array(
        [T0 + round((i * SPF + SPF - 1) * 1e9 / SR) for i in range(-(-n_samples // SPF))]
    )


def test_a_delayed_quieter_copy_is_found_to_the_sample() -> None:
    sent = np.concatenate([_speech(2.0), np.zeros(SR // 2)])
    eot = 2 * SR - 1000
    delay = 33_333  # 694.4 ms
    received = np.concatenate([np.zeros(delay), 0.5 * sent])
    assert locate(sent, eot, received, sample_rate_hz=SR) == eot + delay
    recv = _grid(len(received))
    t = arrival_t_ns(sent, eot, received, recv, sample_rate_hz=SR)
    assert t == pytest.approx(T0 + (eot + delay) * 1e9 / SR, abs=1)


def test_a_quiet_caller_is_found_as_well_as_a_loud_one() -> None:
    sent = np.concatenate([0.005 * _speech(2.0) / 0.3, np.zeros(SR // 2)])  # about -50 dBFS
    eot = 2 * SR - 1000
    received = np.concatenate([np.zeros(777), sent])
    assert locate(sent, eot, received, sample_rate_hz=SR) == eot + 777


def test_it_survives_the_codec() -> None:
    synth = EspeakSynth()
    voice = resample_to_48k(synth.synthesize("Book me a table for two."), synth.sample_rate_hz)
    sent = np.concatenate([voice / 32768, np.zeros(SR // 2)])
    eot = len(voice) - 2000
    coded = opus_roundtrip(np.round(sent * 32767).astype(np.int16), bitrate_bps=32_000) / 32768
    received = np.concatenate([np.zeros(12_000), coded])
    got = locate(sent, eot, received, sample_rate_hz=SR)
    assert got is not None
    # libopus delays by its 6.5 ms lookahead (312 samples), as it does on a real track
    assert abs(got - (eot + 12_000 + 312)) <= 48  # 1 ms


def test_lost_audio_or_silence_gives_none() -> None:
    sent = np.concatenate([_speech(2.0), np.zeros(SR // 2)])
    eot = 2 * SR - 1000
    other = _speech(3.0, seed=9)  # someone else's audio: no match
    assert locate(sent, eot, other, sample_rate_hz=SR) is None
    assert locate(np.zeros(3 * SR), 2 * SR, other, sample_rate_hz=SR) is None
    # found, but its frame was never stamped (the recording's times end early)
    received = np.concatenate([np.zeros(1000), sent])
    assert arrival_t_ns(sent, eot, received, _grid(SR), sample_rate_hz=SR) is None
