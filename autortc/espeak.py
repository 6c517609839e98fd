"""A ctypes binding to the libespeak-ng shipped inside the `espeakng-loader` wheel.

espeak-ng is a process-global C library (``AUDIO_OUTPUT_SYNCHRONOUS`` with a synth
callback that collects samples); every synthesis runs under one lock. Output is int16
mono at 22050 Hz.

Determinism: libespeak-ng keeps hidden static state between utterances (the pitch
"flutter" phase in wavegen.c is a function-static that is never reset), so the same
text synthesised twice in one process differs by a few samples. To make synthesis a
pure function of its arguments, each call loads a fresh instance of the library,
initialises it, synthesises and unloads it again (dlclose). That costs ~3 ms a call.

    synth = EspeakSynth(voice="en-us")
    pcm_i16 = synth.synthesize("Hello there.", rate_wpm=175)
    pcm_48k = resample_to_48k(pcm_i16, synth.sample_rate_hz)

Synthesis is deterministic: the same text, voice, rate and pitch give the same samples.

Streaming: espeak-ng hands its synth callback one buffer (about 60 ms) at a time while
it synthesises. `EspeakSynth.synthesize_chunks(text, on_chunk=...)` passes each buffer
on as soon as it is made (the engine's own incremental output); `synthesize` is the
same call collecting every buffer, so the chunks concatenate to exactly its samples.
"""

from __future__ import annotations

import _ctypes
import ctypes
import logging
import threading
from collections.abc import Callable
from math import gcd

import numpy as np
from scipy.signal import resample_poly

from autortc.errors import InputError

logger = logging.getLogger(__name__)

ESPEAK_SAMPLE_RATE_HZ = 22_050
DEFAULT_RATE_WPM = 175
DEFAULT_PITCH = 50
TARGET_SAMPLE_RATE_HZ = 48_000

# espeak_AUDIO_OUTPUT
_AUDIO_OUTPUT_SYNCHRONOUS = 2
# espeak_PARAMETER
_ESPEAK_RATE = 1
_ESPEAK_VOLUME = 2
_ESPEAK_PITCH = 3
_ESPEAK_RANGE = 4
# espeak_POSITION_TYPE
_POS_CHARACTER = 1
# synth flags
_ESPEAK_CHARS_UTF8 = 1
_EE_OK = 0

# int SynthCallback(short *wav, int numsamples, espeak_EVENT *events)
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

ChunkSink = Callable[[np.ndarray], bool]
"""`on_chunk(pcm_i16) -> keep_going`: takes one buffer of int16 samples as espeak makes
it; returning False stops the synthesis early."""

_LOCK = threading.RLock()
_STATE: dict[str, object] = {}
# the running synthesis's sink and the error it raised (one synthesis at a time, under _LOCK)
_SINK: list[ChunkSink] = []
_SINK_ERRORS: list[BaseException] = []


def _c_callback(wav: ctypes._Pointer, numsamples: int, _events: int) -> int:  # type: ignore[type-arg]
    if not (wav and numsamples > 0 and _SINK):
        return 0  # 0 = continue synthesis
    chunk = np.ctypeslib.as_array(wav, shape=(numsamples,)).astype(np.int16).copy()
    try:
        keep_going = _SINK[0](chunk)
    except BaseException as e:  # raised again by synthesize_chunks, outside the C call
        _SINK_ERRORS.append(e)
        return 1  # 1 = abort synthesis
    return 0 if keep_going else 1


_CALLBACK_REF = _SYNTH_CALLBACK(_c_callback)  # kept alive for the life of the process


def _open() -> ctypes.CDLL:
    """Load and initialise a fresh libespeak-ng instance. Caller holds _LOCK."""
    import espeakng_loader

    clib = ctypes.CDLL(espeakng_loader.get_library_path())
    clib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    clib.espeak_Initialize.restype = ctypes.c_int
    clib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
    clib.espeak_SetSynthCallback.restype = None
    clib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    clib.espeak_SetVoiceByName.restype = ctypes.c_int
    clib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    clib.espeak_SetParameter.restype = ctypes.c_int
    clib.espeak_Synth.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.POINTER(ctypes.c_uint),
        ctypes.c_void_p,
    ]
    clib.espeak_Synth.restype = ctypes.c_int
    clib.espeak_Synchronize.argtypes = []
    clib.espeak_Synchronize.restype = ctypes.c_int
    clib.espeak_Terminate.argtypes = []
    clib.espeak_Terminate.restype = ctypes.c_int
    clib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
    clib.espeak_Info.restype = ctypes.c_char_p

    data_path = espeakng_loader.get_data_path().encode("utf-8")
    sample_rate_hz = clib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)
    if sample_rate_hz <= 0:
        _ctypes.dlclose(clib._handle)
        raise RuntimeError(f"espeak_Initialize failed (returned {sample_rate_hz})")
    clib.espeak_SetSynthCallback(_CALLBACK_REF)
    if "sample_rate_hz" not in _STATE:
        _STATE["sample_rate_hz"] = int(sample_rate_hz)
        _STATE["version"] = (clib.espeak_Info(None) or b"unknown").decode("utf-8", "replace")
        logger.info(
            "espeak-ng loaded",
            extra={"sample_rate_hz": sample_rate_hz, "espeak_version": _STATE["version"]},
        )
    return clib


def _close(clib: ctypes.CDLL) -> None:
    """Terminate and unload the instance so the next _open() starts from clean state."""
    clib.espeak_Terminate()
    _ctypes.dlclose(clib._handle)


def _ensure_info() -> None:
    """Fill _STATE (sample rate, version) once. Caller holds _LOCK."""
    if "sample_rate_hz" not in _STATE:
        _close(_open())


def espeak_version() -> str:
    """The libespeak-ng version string, e.g. '1.52.0'."""
    with _LOCK:
        _ensure_info()
        return str(_STATE["version"])


class EspeakSynth:
    """Thread-safe text -> int16 PCM at 22050 Hz. Cheap to construct; the library loads once."""

    def __init__(self, *, voice: str = "en-us") -> None:
        self.voice = voice
        with _LOCK:
            _ensure_info()
            self.sample_rate_hz = int(_STATE["sample_rate_hz"])  # type: ignore[call-overload]
        self.version = str(_STATE["version"])

    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        rate_wpm: int = DEFAULT_RATE_WPM,
        pitch: int | None = None,
    ) -> np.ndarray:
        """Synthesize `text`; returns int16 mono PCM at `sample_rate_hz`.

        Raises InputError for an unknown voice. Empty text gives an empty array.
        """
        chunks: list[np.ndarray] = []

        def collect(chunk: np.ndarray) -> bool:
            chunks.append(chunk)
            return True

        self.synthesize_chunks(text, on_chunk=collect, voice=voice, rate_wpm=rate_wpm, pitch=pitch)
        if not chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(chunks).astype(np.int16)

    def synthesize_chunks(
        self,
        text: str,
        *,
        on_chunk: ChunkSink,
        voice: str | None = None,
        rate_wpm: int = DEFAULT_RATE_WPM,
        pitch: int | None = None,
    ) -> bool:
        """Synthesize `text`, handing each int16 buffer (22050 Hz) to `on_chunk` as espeak
        makes it; blocks until the text is done. Returns False when `on_chunk` stopped it.

        `on_chunk` runs in the calling thread while the library lock is held: keep it
        quick (a queue put). An error it raises stops the synthesis and is raised here.
        The chunks concatenate to exactly `synthesize`'s samples (a fresh library
        instance per call, as there). Raises InputError for an unknown voice.
        """
        voice_name = voice or self.voice
        if not text.strip():
            return True
        data = text.encode("utf-8") + b"\0"
        stopped = False

        def sink(chunk: np.ndarray) -> bool:
            nonlocal stopped
            stopped = not on_chunk(chunk)
            return not stopped

        with _LOCK:
            clib = _open()
            try:
                if clib.espeak_SetVoiceByName(voice_name.encode("utf-8")) != _EE_OK:
                    raise InputError(f"espeak-ng: unknown voice '{voice_name}'")
                clib.espeak_SetParameter(_ESPEAK_RATE, int(rate_wpm), 0)
                clib.espeak_SetParameter(
                    _ESPEAK_PITCH, DEFAULT_PITCH if pitch is None else int(pitch), 0
                )
                clib.espeak_SetParameter(_ESPEAK_VOLUME, 100, 0)
                clib.espeak_SetParameter(_ESPEAK_RANGE, 50, 0)
                _SINK[:] = [sink]
                _SINK_ERRORS.clear()
                buf = ctypes.create_string_buffer(data)
                err = clib.espeak_Synth(
                    buf, len(data), 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8, None, None
                )
                clib.espeak_Synchronize()
                errors = list(_SINK_ERRORS)
            finally:
                _SINK.clear()
                _SINK_ERRORS.clear()
                _close(clib)
        if errors:
            raise errors[0]
        if err != _EE_OK and not stopped:
            raise RuntimeError(f"espeak_Synth failed with code {err}")
        return not stopped


def resample_to_48k(pcm_i16: np.ndarray, from_rate_hz: int) -> np.ndarray:
    """Resample int16 PCM to 48 kHz with scipy's polyphase filter (deterministic).

    22050 Hz -> 48000 Hz is up 320 / down 147. Output is int16, rounded and clipped.
    """
    return resample_pcm(pcm_i16, from_rate_hz, TARGET_SAMPLE_RATE_HZ)


def resample_pcm(pcm_i16: np.ndarray, from_rate_hz: int, to_rate_hz: int) -> np.ndarray:
    """Resample int16 PCM between integer rates with scipy.signal.resample_poly."""
    x = np.asarray(pcm_i16, dtype=np.int16)
    if from_rate_hz == to_rate_hz or len(x) == 0:
        return x.copy()
    g = gcd(int(from_rate_hz), int(to_rate_hz))
    up, down = to_rate_hz // g, from_rate_hz // g
    y = np.asarray(resample_poly(x.astype(np.float64), up, down))
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)
