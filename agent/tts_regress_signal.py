"""The signal checks of `tts-regress` (pure numpy: no clock, no files).

- `pcm_sha256`: the hash that says "same output" (SHA-256 of the int16 bytes).
- `audio_problem`: empty, NaN/inf, not int16, or all zero: what makes audio unusable.
- `align`: the lag between two renderings of one text (cross-correlation, within
  `max_lag_samples`) and the SNR of one against the other once aligned.
- `find_repeated_segment`: a stretch of audio immediately followed by a copy of itself.

A *repeated segment* is a stretch at least `min_repeat_ms` long (200 ms), holding at
least half that much sound, whose next `length` of audio is a near-identical copy:
x[t + s] ~ x[t + L + s] for 0 <= s < L, L >= `min_repeat_ms`. It is the signature of
a streaming bug that emits a buffer twice. Found in two steps:

1. coarse, on 40 ms frames every 10 ms: frame i matches frame i + k when their
   magnitude spectra (0-4 kHz) agree (cosine >= `SPECTRAL_MATCH`) and so do their
   levels (within `LEVEL_MATCH_DB`); two silent frames are neutral. A stretch of k
   frames (less the frame length) of which `RUN_MATCH` match at lag k, with sound in
   at least half of `min_repeat_ms` of them, is a candidate;
2. fine, on the waveform: the exact lag L (within one hop of k * 10 ms) that lines
   the stretch's middle up with the audio L later; then the 10 ms blocks around it
   where x[s] - x[s + L] is `COPY_BLOCK_DB` below the signal (or both are silent).
   The candidate is a repeat when those blocks span the whole lag (less two blocks
   at its edges) and the copy's SNR over them is at least `COPY_SNR_DB`.

A stationary sound held for two lags (400 ms of one steady tone) is a repeat by this
definition too; a stuck buffer sounds like that, and speech never holds that still.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import correlate

SNR_CAP_DB = 150.0  # identical signals: reported as this, not infinity
SILENCE_DBFS = -50.0  # a frame quieter than this (RMS) holds no sound
HOP_MS = 10
FRAME_MS = 40
SPECTRUM_TOP_HZ = 4000.0
SPECTRAL_MATCH = 0.9
LEVEL_MATCH_DB = 3.0
COPY_BLOCK_DB = 10.0  # a 10 ms block is a copy when its difference is this far down
COPY_SNR_DB = 15.0  # ... and the whole copy's SNR against the original at least this
RUN_MATCH = 0.8  # of the frames along a candidate's stretch must match (onsets may not)
MAX_CANDIDATES = 32  # waveform checks per signal, the best coarse matches first


def pcm_sha256(pcm: np.ndarray) -> str:
    """SHA-256 (hex) of the int16 little-endian bytes; other dtypes hash their own bytes."""
    x = np.asarray(pcm)
    if x.dtype == np.int16:
        x = x.astype("<i2", copy=False)
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


def audio_problem(pcm: np.ndarray) -> str | None:
    """Why `pcm` is unusable as TTS output, or None when it is fine."""
    x = np.asarray(pcm)
    if x.size == 0:
        return "empty"
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        return "NaN or infinite samples"
    if x.dtype != np.int16:
        return f"dtype {x.dtype}, expected int16"
    if not np.any(x):
        return "all zero (silence)"
    return None


@dataclass(frozen=True)
class Alignment:
    lag_samples: int  # test[i + lag] lines up with ref[i]; > 0: test is late
    snr_db: float  # ref's energy over that of (ref - aligned test), on the overlap
    overlap_samples: int


def align(ref: np.ndarray, test: np.ndarray, *, max_lag_samples: int) -> Alignment | None:
    """Align `test` on `ref` by cross-correlation; None when either is empty or silent."""
    a = np.asarray(ref, dtype=np.float64)
    b = np.asarray(test, dtype=np.float64)
    if not (a.size and b.size and np.any(a) and np.any(b)):
        return None
    xc = correlate(b, a, mode="full", method="fft")
    lags = np.arange(-(a.size - 1), b.size)
    window = np.abs(lags) <= max_lag_samples
    lag = int(lags[window][np.argmax(xc[window])])
    a_part = a[max(0, -lag) :]
    b_part = b[max(0, lag) :]
    n = min(a_part.size, b_part.size)
    if n == 0:
        return None
    signal_e = float(np.sum(a_part[:n] ** 2))
    error_e = float(np.sum((a_part[:n] - b_part[:n]) ** 2))
    if error_e == 0.0:
        snr_db = SNR_CAP_DB
    elif signal_e == 0.0:
        snr_db = -SNR_CAP_DB
    else:
        snr_db = min(SNR_CAP_DB, 10.0 * np.log10(signal_e / error_e))
    return Alignment(lag_samples=lag, snr_db=float(snr_db), overlap_samples=n)


@dataclass(frozen=True)
class RepeatedSegment:
    start_ms: float  # where the first copy starts
    length_ms: float  # the lag: the copy starts this much later
    copy_snr_db: float  # the first copy's energy over that of the two copies' difference


def _frame_features(x: np.ndarray, sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm magnitude spectra (0-4 kHz) and RMS levels (dBFS) of 40 ms frames."""
    hop = sample_rate_hz * HOP_MS // 1000
    win = sample_rate_hz * FRAME_MS // 1000
    frames = sliding_window_view(x, win)[::hop]
    rms = np.sqrt(np.mean(frames**2, axis=1))
    level_db = 20.0 * np.log10(np.maximum(rms, 1e-12))
    top_bin = int(SPECTRUM_TOP_HZ * win / sample_rate_hz) + 1
    spectra = np.abs(np.fft.rfft(frames * np.hanning(win), axis=1))[:, :top_bin]
    norms = np.linalg.norm(spectra, axis=1, keepdims=True)
    return spectra / np.maximum(norms, 1e-12), level_db


def _candidates(x: np.ndarray, sample_rate_hz: int, min_repeat_ms: int) -> list[tuple[int, int]]:
    """(start frame, lag in frames) of the coarse matches, the best first."""
    spectra, level_db = _frame_features(x, sample_rate_hz)
    n_frames = len(level_db)
    sound = level_db >= SILENCE_DBFS
    match = (spectra @ spectra.T >= SPECTRAL_MATCH) & (
        np.abs(level_db[:, None] - level_db[None, :]) <= LEVEL_MATCH_DB
    )
    # 2: a match with sound in it; 1: both silent (neutral); 0: no match
    state = np.where(~sound[:, None] & ~sound[None, :], 1, 2 * match)
    k_min = -(-min_repeat_ms // HOP_MS)
    slack = FRAME_MS // HOP_MS - 1  # frames straddling the copy's start cannot match
    found: list[tuple[float, int, int]] = []
    for k in range(k_min, (n_frames + slack) // 2 + 1):
        diag = np.diagonal(state, offset=k)
        span = k - slack
        if diag.size < span:
            break
        matched = _window_sums(diag > 0, span)
        with_sound = _window_sums(diag == 2, span)
        ok = (matched >= RUN_MATCH * span) & (with_sound >= k_min // 2)
        if np.any(ok):
            a = int(np.argmax(np.where(ok, matched, -1)))
            found.append((matched[a] / span, a, k))
    found.sort(key=lambda f: (-f[0], -f[2], f[1]))
    return [(a, k) for _, a, k in found[:MAX_CANDIDATES]]


def _window_sums(flags: np.ndarray, span: int) -> np.ndarray:
    """How many of `span` consecutive flags are set, for each window start."""
    cs = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))
    return cs[span:] - cs[:-span]


def _exact_lag(x: np.ndarray, start: int, lag: int, hop: int) -> int | None:
    """The lag within one hop of `lag` that best lines up the stretch's middle."""
    c0, c1 = start + 2 * hop, start + lag - 2 * hop
    if c1 - c0 < hop:
        return None
    seg = x[c0:c1]
    after = x[c0 + lag - hop : c1 + lag + hop]
    if after.size < seg.size + 2 * hop:
        return None
    xc = correlate(after, seg, mode="valid", method="fft")
    energy = np.concatenate(([0.0], np.cumsum(after**2)))
    norms = np.sqrt(np.maximum(energy[seg.size :] - energy[: -seg.size], 1e-12))
    return lag - hop + int(np.argmax(xc / norms))  # normalised: the best match, not the loudest


def _copy_run(x: np.ndarray, lag: int, around: int, hop: int) -> tuple[int, int, float] | None:
    """The run of 10 ms blocks around sample `around` where x[s] ~ x[s + lag]: (start,
    length, copy SNR in dB), or None when the block there is no copy."""
    n_blocks = (x.size - lag) // hop
    a = x[: n_blocks * hop].reshape(n_blocks, hop)
    b = x[lag : lag + n_blocks * hop].reshape(n_blocks, hop)
    sig_e = np.maximum(np.sum(a**2, axis=1), np.sum(b**2, axis=1))
    err_e = np.sum((a - b) ** 2, axis=1)
    quiet = sig_e < hop * 10.0 ** (SILENCE_DBFS / 10.0)
    same = quiet | (err_e <= sig_e * 10.0 ** (-COPY_BLOCK_DB / 10.0))
    i = min(around // hop, n_blocks - 1)
    if not same[i]:
        return None
    lo, hi = i, i + 1
    while lo > 0 and same[lo - 1]:
        lo -= 1
    while hi < n_blocks and same[hi]:
        hi += 1
    err = float(np.sum(err_e[lo:hi]))
    snr_db = SNR_CAP_DB if err == 0.0 else 10.0 * np.log10(float(np.sum(sig_e[lo:hi])) / err)
    return lo * hop, (hi - lo) * hop, float(min(SNR_CAP_DB, snr_db))


def find_repeated_segment(
    pcm: np.ndarray, sample_rate_hz: int, *, min_repeat_ms: int = 200
) -> RepeatedSegment | None:
    """The longest repeated segment of `pcm` (see the module docstring), or None."""
    x = np.asarray(pcm, dtype=np.float64) / 32768.0
    hop = sample_rate_hz * HOP_MS // 1000
    if x.size < 2 * sample_rate_hz * min_repeat_ms // 1000 or not np.all(np.isfinite(x)):
        return None
    best: RepeatedSegment | None = None
    for start_frame, k in _candidates(x, sample_rate_hz, min_repeat_ms):
        start = start_frame * hop
        lag = _exact_lag(x, start, k * hop, hop)
        if lag is None or lag * 1000 < min_repeat_ms * sample_rate_hz:
            continue
        run = _copy_run(x, lag, start + lag // 2, hop)
        if run is None or run[1] < lag - 2 * hop or run[2] < COPY_SNR_DB:
            continue  # not back to back (or not near-identical) over the whole lag
        length_ms = 1000.0 * lag / sample_rate_hz
        if best is None or length_ms > best.length_ms:
            best = RepeatedSegment(1000.0 * run[0] / sample_rate_hz, length_ms, run[2])
    return best
