"""Listening-quality figures of a voice agent's reply, as a caller hears it.

Full-reference figures compare `pre` (the agent's audio before the network) with `post`
(what arrived), already time-aligned, the same length, mono float in [-1, 1]. No-reference
figures judge `post` alone. Every figure is computed at 16 kHz: inputs are resampled once
by `_to_16k` (scipy's polyphase filter) and clipped to [-1, 1].

- ``visqol_moslqo``: ViSQOL v3 speech mode (the pure-Python port `visqol-python` of
  Google's C++ ViSQOL v3.3.3): 21 gammatone bands from 50 Hz, VAD-selected patches of 20
  frames, mean NSIM mapped to MOS-LQO by the exponential fit to TCD-VOIP, scaled so a
  perfect match scores 5. Range [1, 5], higher is better. The lattice mapper the C++ tool
  uses by default needs `ai-edge-litert`; it is never used here, so the figure does not
  change with what else is installed (the exponential map reads high: a signal against
  itself clips to 5.0).
- ``stoi``: Short-Time Objective Intelligibility (Taal et al. 2011, classic, not extended)
  by `pystoi`: one-third-octave envelopes of 384 ms segments at 10 kHz, frames 40 dB
  below the loudest removed. About [0, 1], higher is better. None when fewer than 30
  frames (~0.4 s) of speech remain.
- ``dnsmos_sig``, ``dnsmos_bak``, ``dnsmos_ovrl``: DNSMOS P.835 (Reddy et al. 2022), the
  non-personalised `sig_bak_ovr.onnx` of `speechmos` with its polynomial calibration:
  speech signal, background noise and overall quality, MOS about [1, 5]. The model scores
  9.01 s windows hopped by 1 s and averages them; the reference code tiles a shorter clip
  by repetition up to 9.01 s. No level normalisation: the score depends on the level.
- ``plcmos``: PLCMOS v2 (Diener et al., Interspeech 2023) of `speechmos`: mean over 15
  rater embeddings drawn from N(0, I_64). MOS about [1, 5]. The reference code draws them
  from numpy's global generator; here they come from a generator seeded with
  `PLCMOS_SEED`, so the figure is a pure function of the audio.

A figure's key is absent when its package is missing (`available()` says why), and None
when it failed on this input: too short (below `MIN_DURATION_S`), non-finite, the wrong
shape, or the model raised. Nothing here raises, and nothing touches the network.
Models load once per process. First-call costs: ViSQOL and librosa compile numba code
(cached on disk by numba; ~1 s a process once cached), DNSMOS's mel spectrogram ~1.2 s.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import warnings
from math import gcd
from types import ModuleType
from typing import Any

import numpy as np
from scipy.signal import resample_poly

from autortc.metrics import registry as M

logger = logging.getLogger(__name__)

MODEL_SAMPLE_RATE_HZ = 16_000
PLCMOS_SEED = 0
PLCMOS_EMBED_ROUNDS = 15
# Shortest input scored, per family. ViSQOL cannot build its patches below ~1 s; DNSMOS
# would tile a sub-second clip 9+ times; PLCMOS's network rejects fewer than ~5 frames.
MIN_DURATION_S: dict[str, float] = {"visqol": 1.0, "pystoi": 0.5, "dnsmos": 1.0, "plcmos_v2": 0.5}
_INSTALL_HINT = "pip install 'autortc[quality]'"
# family -> (distribution to install, modules it needs)
_FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "visqol": ("visqol-python", ("visqol",)),
    "pystoi": ("pystoi", ("pystoi",)),
    "dnsmos": ("speechmos", ("speechmos.dnsmos", "onnxruntime", "librosa")),
    "plcmos_v2": ("speechmos", ("speechmos.plcmos", "onnxruntime")),
}

Audio = np.ndarray[Any, np.dtype[np.float64]]


def _import(name: str) -> ModuleType:
    """The one lazy-import hook for the optional packages (tests replace it)."""
    return importlib.import_module(name)


def available() -> dict[str, str | None]:
    """For each figure family: None when usable, else why it is skipped."""
    out: dict[str, str | None] = {}
    for family, (dist, modules) in _FAMILIES.items():
        out[family] = None
        for module in modules:
            try:
                _import(module)
            except ImportError as exc:
                top = module.split(".")[0]
                missing = exc.name or top
                if missing == top and module == modules[0]:
                    out[family] = f"{dist} not installed ({_INSTALL_HINT})"
                else:
                    out[family] = f"{dist} unusable: {missing} not importable ({exc})"
                break
    return out


def _to_16k(x: np.ndarray, sample_rate_hz: int) -> Audio:
    """Resample mono audio to 16 kHz (polyphase, gcd-reduced ratio), clipped to [-1, 1]."""
    y = np.asarray(x, dtype=np.float64)
    if sample_rate_hz != MODEL_SAMPLE_RATE_HZ:
        g = gcd(int(sample_rate_hz), MODEL_SAMPLE_RATE_HZ)
        up, down = MODEL_SAMPLE_RATE_HZ // g, int(sample_rate_hz) // g
        y = np.asarray(resample_poly(y, up, down), dtype=np.float64)
    return np.clip(y, -1.0, 1.0)


def _usable(x: np.ndarray, sample_rate_hz: int, family: str) -> bool:
    return (
        x.ndim == 1
        and sample_rate_hz > 0
        and len(x) >= MIN_DURATION_S[family] * sample_rate_hz
        and bool(np.all(np.isfinite(x)))
    )


def _finite(value: Any) -> float | None:
    v = float(value)
    return v if np.isfinite(v) else None


@functools.lru_cache(maxsize=1)
def _visqol_api() -> Any:
    api = _import("visqol").VisqolApi()
    api.create(mode="speech", use_lattice_model=False)
    return api


@functools.lru_cache(maxsize=1)
def _dnsmos_model() -> Any:
    mod = _import("speechmos.dnsmos")
    models = os.path.join(os.path.dirname(os.path.abspath(str(mod.__file__))), "dnsmos_models")
    return mod.DNSMOS(
        os.path.join(models, "sig_bak_ovr.onnx"), os.path.join(models, "model_v8.onnx")
    )


@functools.lru_cache(maxsize=1)
def _plcmos_model() -> Any:
    return _import("speechmos.plcmos").PLCMOS()


def _visqol(pre16: Audio, post16: Audio) -> float | None:
    return _finite(_visqol_api().measure_from_arrays(pre16, post16, MODEL_SAMPLE_RATE_HZ).moslqo)


def _stoi(pre16: Audio, post16: Audio) -> float | None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = _import("pystoi").stoi(pre16, post16, MODEL_SAMPLE_RATE_HZ, extended=False)
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        return None  # pystoi returns a placeholder 1e-5
    return _finite(value)


def _plcmos(post16: Audio) -> float | None:
    model = _plcmos_model()
    features = np.asarray(model.stft_transform(post16), dtype=np.float32)[np.newaxis, np.newaxis]
    rng = np.random.default_rng(PLCMOS_SEED)
    total = 0.0
    for _ in range(PLCMOS_EMBED_ROUNDS):
        embed = rng.standard_normal((1, 64)).astype(np.float32)
        out = model.session.run(None, {"degraded_audio": features, "rater_embed": embed})
        total += float(np.asarray(out[0]).reshape(-1)[0])
    return _finite(total / PLCMOS_EMBED_ROUNDS)


def _guarded(name: str, fn: Any, *args: Any) -> float | None:
    try:
        value: float | None = fn(*args)
        return value
    except Exception as exc:  # a figure never breaks the run
        logger.warning("%s failed: %s: %s", name, type(exc).__name__, exc)
        return None


def full_reference(
    pre: np.ndarray, post: np.ndarray, *, sample_rate_hz: int
) -> dict[str, float | None]:
    """ViSQOL MOS-LQO and STOI of `post` against `pre` (see the module docstring)."""
    reasons = available()
    pre, post = np.asarray(pre), np.asarray(post)
    same = pre.shape == post.shape
    out: dict[str, float | None] = {}
    cache: dict[str, tuple[Audio, Audio]] = {}
    for family, key, fn in (("visqol", M.VISQOL.name, _visqol), ("pystoi", M.STOI.name, _stoi)):
        if reasons[family] is not None:
            continue
        out[key] = None
        if not (
            same and _usable(pre, sample_rate_hz, family) and _usable(post, sample_rate_hz, family)
        ):
            continue
        if not cache:
            cache["x"] = (_to_16k(pre, sample_rate_hz), _to_16k(post, sample_rate_hz))
        out[key] = _guarded(key, fn, *cache["x"])
    return out


def no_reference(post: np.ndarray, *, sample_rate_hz: int) -> dict[str, float | None]:
    """DNSMOS SIG/BAK/OVRL and PLCMOS v2 of `post` alone (see the module docstring)."""
    reasons = available()
    post = np.asarray(post)
    out: dict[str, float | None] = {}
    post16: Audio | None = None
    if reasons["dnsmos"] is None:
        out.update({m.name: None for m in (M.DNSMOS_SIG, M.DNSMOS_BAK, M.DNSMOS_OVRL)})
        if _usable(post, sample_rate_hz, "dnsmos"):
            post16 = _to_16k(post, sample_rate_hz)
            try:
                scores = _dnsmos_model()(post16.astype(np.float32), MODEL_SAMPLE_RATE_HZ, False)
                out[M.DNSMOS_SIG.name] = _finite(scores["sig_mos"])
                out[M.DNSMOS_BAK.name] = _finite(scores["bak_mos"])
                out[M.DNSMOS_OVRL.name] = _finite(scores["ovrl_mos"])
            except Exception as exc:
                logger.warning("dnsmos failed: %s: %s", type(exc).__name__, exc)
    if reasons["plcmos_v2"] is None:
        out[M.PLCMOS.name] = None
        if _usable(post, sample_rate_hz, "plcmos_v2"):
            if post16 is None:
                post16 = _to_16k(post, sample_rate_hz)
            out[M.PLCMOS.name] = _guarded("plcmos_v2", _plcmos, post16)
    return out
