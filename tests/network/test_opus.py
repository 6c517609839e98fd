"""network.opus: libopus (PyAV's bundled copy) frame by frame, with PLC and in-band FEC."""

from __future__ import annotations

import numpy as np
import pytest

from autortc.network.opus import FRAME_SAMPLES, OpusDecoder, OpusEncoder

RATE = 48_000


def _voice_like(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    x = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((180, 360, 540, 1100, 2300), 1))
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)  # syllable-rate envelope
    return (0.25 * x * env / np.max(np.abs(x)) * 32767).astype(np.int16)


def _packets(x: np.ndarray, enc: OpusEncoder) -> list[bytes]:
    return [enc.encode(x[k : k + FRAME_SAMPLES]) for k in range(0, len(x), FRAME_SAMPLES)]


def test_the_roundtrip_lags_by_the_encoders_lookahead_and_keeps_the_signal() -> None:
    # broadband (red noise): one sharp correlation peak, where a harmonic signal has
    # several close ones that the codec's phase changes can swap
    rng = np.random.default_rng(0)
    noise = np.cumsum(rng.normal(0, 1, RATE)) * 0.1 + rng.normal(0, 1, RATE)
    noise -= np.convolve(noise, np.ones(200) / 200, mode="same")  # no drift
    x = (0.3 * noise / np.max(np.abs(noise)) * 32767).astype(np.int16)
    enc, dec = OpusEncoder(bitrate_bps=32_000), OpusDecoder()
    assert enc.lookahead_samples == 312  # 6.5 ms at 48 kHz
    y = np.concatenate([dec.decode(p) for p in _packets(x, enc)]).astype(float)
    a = x.astype(float)
    lags = np.arange(0, 600)
    score = [np.dot(a[: len(a) - 600], y[lag : lag + len(a) - 600]) for lag in lags]
    assert abs(int(lags[int(np.argmax(score))]) - 312) <= 2
    voice = _voice_like()
    dec = OpusDecoder()
    v = np.concatenate([dec.decode(p) for p in _packets(voice, OpusEncoder())]).astype(float)
    assert np.sqrt(np.mean(v**2)) == pytest.approx(
        np.sqrt(np.mean(voice.astype(float) ** 2)), rel=0.15
    )


def test_a_lost_frame_is_concealed_with_sound_not_silence() -> None:
    x = _voice_like()
    pk = _packets(x, OpusEncoder())
    dec = OpusDecoder()
    out = [dec.decode(p) if i != 20 else dec.conceal() for i, p in enumerate(pk)]
    assert all(len(f) == FRAME_SAMPLES for f in out)
    assert np.sqrt(np.mean(out[20].astype(float) ** 2)) > 500


def test_fec_rebuilds_a_lost_frame_close_to_the_real_one_and_plc_does_worse() -> None:
    x = _voice_like()
    pk = _packets(x, OpusEncoder(fec=True, expected_loss_pct=20))
    clean = [OpusDecoder() for _ in range(3)]
    ref = [clean[0].decode(p) for p in pk]
    fec = [clean[1].recover(pk[i + 1]) if i == 30 else clean[1].decode(p) for i, p in enumerate(pk)]
    plc = [clean[2].conceal() if i == 30 else clean[2].decode(p) for i, p in enumerate(pk)]

    def err(frames: list[np.ndarray]) -> float:
        return float(np.sum((frames[30].astype(float) - ref[30].astype(float)) ** 2))

    assert err(fec) < 0.2 * err(plc)


def test_a_frame_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="960 samples"):
        OpusEncoder().encode(np.zeros(480, np.int16))


@pytest.mark.parametrize("reset", [True, False])
def test_a_reset_forgets_the_silence_before_so_the_same_audio_gives_the_same_bytes(
    reset: bool,
) -> None:
    """Without a reset, the encoder's and the decoder's state carries from frame to
    frame: the same voice after 10 or after 77 silent frames encodes to other packets,
    and the same packets after another history decode to other samples (what made two
    same-seed runs differ, issue 13)."""
    voice = _voice_like()
    silence = np.zeros(FRAME_SAMPLES, np.int16)

    def packets_after(n_silent: int) -> list[bytes]:
        enc = OpusEncoder(bitrate_bps=64_000, fec=True, expected_loss_pct=10)
        for _ in range(n_silent):
            enc.encode(silence)
        if reset:
            enc.reset()
        return _packets(voice, enc)

    a, b = packets_after(10), packets_after(77)
    assert (a == b) is reset

    def decoded_after(n_silent: int) -> np.ndarray:
        dec = OpusDecoder()
        quiet = _packets(np.zeros(FRAME_SAMPLES * n_silent, np.int16), OpusEncoder())
        for k, p in enumerate(quiet):
            dec.decode(p) if k % 5 else dec.conceal()  # a lossy silence
        if reset:
            dec.reset()
        return np.concatenate(
            [dec.conceal() if k in (9, 10) else dec.decode(p) for k, p in enumerate(a)]
        )

    assert np.array_equal(decoded_after(10), decoded_after(77)) is reset
