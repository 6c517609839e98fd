"""Ring 1: quality of the reply against the agent's pre-network audio.

Only computed when capture_status is OK (the caller enforces it; values are then None,
never -1). Both inputs are on the reply slice's sample axis (pre aligned by
`align.find_lag`, search +-1 s).

- mel_distance (dB): mean |L_pre - L_post| over all mel bands and over the STFT frames
  where pre is audible (window RMS >= 0.01). Log-mel: Hann window 25 ms (1200 samples
  at 48 kHz), hop 10 ms, 64 HTK-mel triangular bands from 0 to 12 kHz (covers TTS
  output up to 24 kHz sampling and the 4-8 kHz sibilant band), power spectrum,
  10*log10(power + 1e-10).
- hf_ratio_drop = 1 - (E_4-8k / E_0-8k)_post / (E_4-8k / E_0-8k)_pre, band energies
  from the power spectrum (rfft) of the whole aligned signal. Larger = duller.
- Extra, only when importable (key absent otherwise): `pesq_wb` (pesq, 16 kHz; the
  optional `pesq` extra, for its licence). STOI, ViSQOL, DNSMOS and PLCMOS are computed
  after the run with --listening (autortc/quality/listening.py).
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np
from scipy import signal
from scipy.fft import next_fast_len, rfft

from autortc.metrics import levels
from autortc.metrics import registry as M
from autortc.metrics.registry import Metric

WIN_MS = 25
HOP_MS = 10
N_MELS = 64
FMIN_HZ = 0.0
FMAX_HZ = 12_000.0
POWER_FLOOR = 1e-10


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return np.asarray(2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0))


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    return np.asarray(700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0))


def mel_filterbank(
    *,
    sample_rate_hz: int,
    n_fft: int,
    n_mels: int = N_MELS,
    fmin_hz: float = FMIN_HZ,
    fmax_hz: float = FMAX_HZ,
) -> np.ndarray:
    """HTK-mel triangular filters, shape (n_mels, n_fft // 2 + 1), peak 1."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate_hz)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin_hz), hz_to_mel(fmax_hz), n_mels + 2))
    fb = np.zeros((n_mels, len(freqs)))
    for m in range(n_mels):
        lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
        up = (freqs - lo) / (c - lo)
        down = (hi - freqs) / (hi - c)
        fb[m] = np.maximum(0.0, np.minimum(up, down))
    return fb


def _frames(x: np.ndarray, win: int, hop: int) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if len(a) < win:
        a = np.concatenate([a, np.zeros(win - len(a))])
    n = 1 + (len(a) - win) // hop
    return np.lib.stride_tricks.sliding_window_view(a, win)[::hop][:n]


@functools.lru_cache(maxsize=8)
def _stft_tables(sample_rate_hz: int, win: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(Hann window, the mel filters' transpose over the bins they touch, how many
    bins that is): the filters are zero above FMAX_HZ, so those bins are not needed."""
    fb = mel_filterbank(sample_rate_hz=sample_rate_hz, n_fft=win)
    used = int(np.max(np.nonzero(np.any(fb > 0, axis=0))[0])) + 1
    window = signal.get_window("hann", win)
    fb_t = np.ascontiguousarray(fb[:, :used].T, dtype=np.float32)
    window.setflags(write=False)
    fb_t.setflags(write=False)
    return window, fb_t, used


def log_mel_db(x: np.ndarray, *, sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray]:
    """(log-mel dB spectrogram (n_frames, n_mels), window RMS per frame)."""
    win = sample_rate_hz * WIN_MS // 1000
    hop = sample_rate_hz * HOP_MS // 1000
    fr = _frames(x, win, hop)
    window, fb_t, used = _stft_tables(sample_rate_hz, win)
    # single precision: 7 digits are far finer than the 0.5 dB the figure is held to
    z = rfft((fr * window).astype(np.float32), axis=1)[:, :used]
    mel = (z.real * z.real + z.imag * z.imag) @ fb_t
    db = 10.0 * np.log10(mel.astype(np.float64) + POWER_FLOOR)
    return db, np.sqrt(np.mean(fr * fr, axis=1))


def mel_distance_db(
    pre_on_slice: np.ndarray, post_slice: np.ndarray, *, sample_rate_hz: int
) -> float | None:
    """Mean absolute log-mel difference (dB) over frames where pre is audible."""
    n = min(len(pre_on_slice), len(post_slice))
    if n == 0:
        return None
    pre_db, pre_rms = log_mel_db(pre_on_slice[:n], sample_rate_hz=sample_rate_hz)
    post_db, _ = log_mel_db(post_slice[:n], sample_rate_hz=sample_rate_hz)
    keep = pre_rms >= levels.AUDIBLE_RMS
    if not np.any(keep):
        return None
    return float(np.mean(np.abs(pre_db[keep] - post_db[keep])))


def hf_ratio(x: np.ndarray, *, sample_rate_hz: int) -> float | None:
    """E_4-8k / E_0-8k from the power spectrum of the whole signal; None if E_0-8k == 0."""
    a = np.asarray(x, dtype=np.float64)
    if len(a) == 0:
        return None
    n = next_fast_len(len(a), real=True)  # zero-padded: a prime length is 100x slower
    z = rfft(a, n)
    # bin k is at k * rate / n Hz: the bins below 4 kHz and below 8 kHz, by index
    k4, k8 = (int(np.ceil(hz * n / sample_rate_hz)) for hz in (4000.0, 8000.0))
    z = z[:k8]
    p = z.real * z.real + z.imag * z.imag
    e_all = float(np.sum(p))
    e_hf = float(np.sum(p[k4:]))
    return e_hf / e_all if e_all > 0 else None


def hf_ratio_drop(
    pre_on_slice: np.ndarray, post_slice: np.ndarray, *, sample_rate_hz: int
) -> float | None:
    r_pre = hf_ratio(pre_on_slice, sample_rate_hz=sample_rate_hz)
    r_post = hf_ratio(post_slice, sample_rate_hz=sample_rate_hz)
    if r_pre is None or r_post is None or r_pre <= 0:
        return None
    return 1.0 - r_post / r_pre


_EXTRAS_INSTALLED = importlib.util.find_spec("pesq") is not None


def optional_extras(
    pre_on_slice: np.ndarray, post_slice: np.ndarray, *, sample_rate_hz: int
) -> dict[Metric, float | None]:
    """PESQ-WB when its package imports (absent when it is not installed, None when it
    failed on this pair); never required, never raises. STOI and the other listening
    models run after the run, with --listening (autortc/quality)."""
    out: dict[Metric, float | None] = {}
    n = min(len(pre_on_slice), len(post_slice))
    if n == 0 or not _EXTRAS_INSTALLED:
        return out  # installing the `quality` extra is how they are asked for
    try:
        from math import gcd

        g = gcd(16000, sample_rate_hz)
        ref16 = signal.resample_poly(pre_on_slice[:n], 16000 // g, sample_rate_hz // g)
        deg16 = signal.resample_poly(post_slice[:n], 16000 // g, sample_rate_hz // g)
    except Exception:  # pragma: no cover - scipy is a dependency
        return out
    try:
        from pesq import pesq

        out[M.PESQ_WB] = float(pesq(16000, ref16, deg16, "wb"))
    except ImportError:
        pass
    except Exception:
        out[M.PESQ_WB] = None
    return out


def last_audible_sample(x: np.ndarray, *, sample_rate_hz: int) -> int | None:
    """The last sample of `x`'s last audible frame's sound (`levels.refine_offset`)."""
    frames = levels.audible_mask(levels.frame_rms(x, sample_rate_hz))
    hits = np.flatnonzero(frames)
    if hits.size == 0:
        return None
    return levels.refine_offset(x, int(hits[-1]), sample_rate_hz=sample_rate_hz)


def pre_rtc_end_mismatch_ms(
    pre_on_slice: np.ndarray, post_slice: np.ndarray, *, sample_rate_hz: int
) -> float | None:
    """How far apart, in ms, the reply's sound ends in post and in its aligned pre_rtc:
    about 0 when pre_rtc holds exactly what was sent (an interrupted reply's pre_rtc ends
    where the caller stopped hearing it); large when pre_rtc holds audio that never
    arrived, or the caller heard more than pre_rtc holds."""
    pre_end = last_audible_sample(pre_on_slice, sample_rate_hz=sample_rate_hz)
    post_end = last_audible_sample(post_slice, sample_rate_hz=sample_rate_hz)
    if pre_end is None or post_end is None:
        return None
    return abs(post_end - pre_end) * 1000.0 / sample_rate_hz
