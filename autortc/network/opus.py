"""Opus, frame by frame, through the libopus that PyAV bundles (ctypes; nothing to install).

PyAV's codec API cannot ask libopus for packet-loss concealment (decode with no data)
or for in-band FEC (decode the previous frame from the next packet), and a jitter
buffer needs both, so this calls libopus itself:
- `OpusEncoder(bitrate_bps, fec=..., expected_loss_pct=...)`: `encode(pcm_i16)` of one
  20 ms frame (960 samples at 48 kHz mono) -> the packet bytes. VOIP application, as
  libwebrtc sends a voice track. `lookahead_samples`: the algorithmic delay (312
  samples, 6.5 ms, at 48 kHz);
- `OpusDecoder`: `decode(packet)` -> 960 int16 samples; `conceal()` -> 960 samples of
  Opus PLC; `recover(next_packet)` -> the lost frame rebuilt from the FEC data the next
  packet carries (PLC when the sender sent none).

Both keep state from frame to frame (the encoder's analysis and prediction, the
decoder's history and PLC), so the same audio encodes, and the same packets decode, to
other bytes after a different amount of silence before them. `reset()` forgets it (the
encoder returns to the state it had after a fixed primer, the decoder to a new one's):
the embedded transport resets both at a talk spurt's start, so that a reply's packets
and what the receiver makes of them depend on the reply alone, not on how long the
call was quiet before it (one seed then gives one result; measured: 263-280 of a 7 s
reply's 286 packets changed with the silence before it, none after a reset).
"""

from __future__ import annotations

import ctypes
from functools import cache
from pathlib import Path

import numpy as np

SAMPLE_RATE_HZ = 48_000
FRAME_SAMPLES = 960  # 20 ms
MAX_PACKET_BYTES = 1500
APPLICATION_VOIP = 2048
SET_BITRATE = 4002
SET_INBAND_FEC = 4012
SET_PACKET_LOSS_PERC = 4014
GET_LOOKAHEAD = 4027
RESET_STATE = 4028
PRIMER_TONE_HZ = 300.0  # OpusEncoder.reset's primer: this tone, then silence
PRIMER_TONE_FRAMES = 15  # 0.3 s
PRIMER_SILENT_FRAMES = 50  # 1 s: what starts a talk spurt on the embedded transport


class OpusError(RuntimeError):
    pass


@cache
def _lib() -> ctypes.CDLL:
    import av

    libs = Path(av.__file__).resolve().parent.parent / "av.libs"
    found = sorted(libs.glob("libopus*.so*"))
    if not found:
        raise OpusError(f"no libopus in {libs} (PyAV's bundled libraries)")
    lib = ctypes.CDLL(str(found[0]))
    lib.opus_encoder_create.restype = ctypes.c_void_p
    lib.opus_encoder_create.argtypes = [
        ctypes.c_int32,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_int),
    ]
    lib.opus_encode.restype = ctypes.c_int32
    lib.opus_encode.argtypes = [
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_int32,
    ]
    lib.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
    lib.opus_encoder_get_size.restype = ctypes.c_int
    lib.opus_encoder_get_size.argtypes = [ctypes.c_int]
    lib.opus_decoder_create.restype = ctypes.c_void_p
    lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_decode.restype = ctypes.c_int
    lib.opus_decode.argtypes = [
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_int32,
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_int,
    ]
    lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
    lib.opus_strerror.restype = ctypes.c_char_p
    lib.opus_strerror.argtypes = [ctypes.c_int]
    return lib


def preload() -> None:
    """Load libopus now (it imports PyAV: about 0.1 s), not with the first packet."""
    _lib()


@cache
def _primer() -> tuple[np.ndarray, ...]:
    """The 20 ms frames `OpusEncoder.reset` primes a reset encoder with."""
    n = PRIMER_TONE_FRAMES * FRAME_SAMPLES
    t = np.arange(n) / SAMPLE_RATE_HZ
    tone = np.round(0.3 * np.sin(2 * np.pi * PRIMER_TONE_HZ * t) * 32767).astype(np.int16)
    frames = [tone[k : k + FRAME_SAMPLES] for k in range(0, n, FRAME_SAMPLES)]
    return (*frames, *[np.zeros(FRAME_SAMPLES, np.int16)] * PRIMER_SILENT_FRAMES)


def _check(code: int, what: str) -> int:
    if code < 0:
        raise OpusError(f"{what}: {_lib().opus_strerror(code).decode()}")
    return code


class OpusEncoder:
    def __init__(
        self, *, bitrate_bps: int = 32_000, fec: bool = False, expected_loss_pct: int = 0
    ) -> None:
        lib = _lib()
        err = ctypes.c_int(0)
        self._enc = lib.opus_encoder_create(SAMPLE_RATE_HZ, 1, APPLICATION_VOIP, ctypes.byref(err))
        _check(err.value, "opus_encoder_create")
        ctl = lib.opus_encoder_ctl
        _check(ctl(ctypes.c_void_p(self._enc), SET_BITRATE, ctypes.c_int32(bitrate_bps)), "bitrate")
        _check(ctl(ctypes.c_void_p(self._enc), SET_INBAND_FEC, ctypes.c_int32(int(fec))), "fec")
        _check(
            ctl(
                ctypes.c_void_p(self._enc), SET_PACKET_LOSS_PERC, ctypes.c_int32(expected_loss_pct)
            ),
            "packet loss",
        )
        look = ctypes.c_int32(0)
        _check(ctl(ctypes.c_void_p(self._enc), GET_LOOKAHEAD, ctypes.byref(look)), "lookahead")
        self.lookahead_samples = int(look.value)
        self._out = ctypes.create_string_buffer(MAX_PACKET_BYTES)
        self._size = int(lib.opus_encoder_get_size(1))
        self._primed: ctypes.Array[ctypes.c_char] | None = None

    def encode(self, pcm_i16: np.ndarray) -> bytes:
        frame = np.ascontiguousarray(pcm_i16, dtype=np.int16)
        if frame.shape != (FRAME_SAMPLES,):
            raise ValueError(f"an Opus frame is {FRAME_SAMPLES} samples, got {frame.shape}")
        n = _check(
            _lib().opus_encode(
                self._enc, frame.ctypes.data, FRAME_SAMPLES, self._out, MAX_PACKET_BYTES
            ),
            "opus_encode",
        )
        return self._out.raw[:n]

    def reset(self) -> None:
        """Return to one fixed state: the one this encoder had after its primer (its
        settings stay), whatever it encoded since. The primer is what a call has before
        a reply: some speech-like sound (0.3 s of a 300 Hz tone), then a second of
        silence. A freshly reset encoder (OPUS_RESET_STATE) or one primed with silence
        only codes a sound's first frame differently: a 1 kHz tone starting in it came
        out with a pre-echo up to 4.8 ms early at some offsets, which the calibration
        read as a 3 ms P95 error (tests/network/test_local_media.py)."""
        if self._primed is None:
            _check(_lib().opus_encoder_ctl(ctypes.c_void_p(self._enc), RESET_STATE), "reset")
            for frame in _primer():
                self.encode(frame)
            self._primed = ctypes.create_string_buffer(self._size)
            ctypes.memmove(self._primed, self._enc, self._size)
        else:
            # the state is one block with no pointers into itself (libopus keeps its
            # parts at offsets, and CELT's mode pointer is to static tables)
            ctypes.memmove(self._enc, self._primed, self._size)

    def __del__(self) -> None:
        if getattr(self, "_enc", None):
            _lib().opus_encoder_destroy(self._enc)
            self._enc = None


class OpusDecoder:
    def __init__(self) -> None:
        err = ctypes.c_int(0)
        self._dec = _lib().opus_decoder_create(SAMPLE_RATE_HZ, 1, ctypes.byref(err))
        _check(err.value, "opus_decoder_create")
        self._pcm = np.zeros(FRAME_SAMPLES, dtype=np.int16)

    def _decode(self, data: bytes | None, fec: int) -> np.ndarray:
        buf = None if data is None else ctypes.create_string_buffer(data, len(data))
        n = _check(
            _lib().opus_decode(
                self._dec,
                buf,
                0 if data is None else len(data),
                self._pcm.ctypes.data,
                FRAME_SAMPLES,
                fec,
            ),
            "opus_decode",
        )
        return self._pcm[:n].copy()

    def decode(self, packet: bytes) -> np.ndarray:
        return self._decode(packet, 0)

    def conceal(self) -> np.ndarray:
        """One frame of packet-loss concealment (no packet)."""
        return self._decode(None, 0)

    def recover(self, next_packet: bytes) -> np.ndarray:
        """The lost frame before `next_packet`, from its in-band FEC (PLC without)."""
        return self._decode(next_packet, 1)

    def reset(self) -> None:
        """Forget the past frames, as a new decoder would."""
        _check(_lib().opus_decoder_ctl(ctypes.c_void_p(self._dec), RESET_STATE), "reset")

    def __del__(self) -> None:
        if getattr(self, "_dec", None):
            _lib().opus_decoder_destroy(self._dec)
            self._dec = None
