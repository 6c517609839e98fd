"""A livekit-agents `tts.TTS` on espeak-ng: offline, deterministic, 48 kHz mono.

espeak-ng synthesises a whole sentence in a few milliseconds, so the engine is a
non-streaming TTS (`synthesize(text) -> ChunkedStream`). `stream()` gives the
sentence-level streaming livekit-agents expects: text goes through the blingfire
sentence tokenizer (`tts.StreamAdapter`) and each sentence is synthesised as soon
as it is complete. An `AgentSession` wraps a non-streaming TTS the same way on
its own, so either path gives the same audio.

Audio leaves the engine as exact 10 ms frames (480 samples at 48 kHz), resampled
from espeak's 22050 Hz by `autortc.espeak.resample_to_48k` (scipy polyphase).

Trace marks: `tts_request` when text is handed to the engine and
`tts_first_audio` when its first PCM is ready, through the optional `trace_mark`
callback (see autortc.integrations.livekit_agents.AutortcHooks.mark).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable

import numpy as np
from livekit import rtc
from livekit.agents import tokenize, tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

from autortc.audio import SAMPLE_RATE_HZ, SAMPLES_PER_FRAME
from autortc.espeak import DEFAULT_RATE_WPM, EspeakSynth, resample_to_48k

logger = logging.getLogger(__name__)

TraceMark = Callable[[str, int], None]
"""`mark(point, t_ns)`: report a trace point on the agent's monotonic clock."""


def synthesize_48k(synth: EspeakSynth, text: str, *, voice: str, rate_wpm: int) -> np.ndarray:
    """Text -> int16 mono PCM at 48 kHz (blocking; a sentence takes a few ms)."""
    pcm = synth.synthesize(text, voice=voice, rate_wpm=rate_wpm)
    return resample_to_48k(pcm, synth.sample_rate_hz)


def louder(pcm: np.ndarray, gain: float) -> np.ndarray:
    """int16 PCM times a linear `gain`, clipped (the clip_db defect: a hot output)."""
    if gain == 1.0:
        return pcm
    return np.asarray(np.clip(pcm.astype(np.float64) * gain, -32768, 32767), dtype=np.int16)


def pcm_to_frames(pcm_48k: np.ndarray) -> list[rtc.AudioFrame]:
    """Split 48 kHz int16 PCM into 10 ms frames; the last one is zero-padded."""
    pcm = np.asarray(pcm_48k, dtype=np.int16)
    n_frames = -(-len(pcm) // SAMPLES_PER_FRAME)
    padded = np.zeros(n_frames * SAMPLES_PER_FRAME, dtype=np.int16)
    padded[: len(pcm)] = pcm
    return [
        rtc.AudioFrame(
            data=padded[i * SAMPLES_PER_FRAME : (i + 1) * SAMPLES_PER_FRAME].tobytes(),
            sample_rate=SAMPLE_RATE_HZ,
            num_channels=1,
            samples_per_channel=SAMPLES_PER_FRAME,
        )
        for i in range(n_frames)
    ]


class EspeakTTS(tts.TTS[None]):
    """espeak-ng as a livekit-agents TTS. Cheap to construct: the library loads once.

    One instance per room is the intended use (it carries that room's `trace_mark`);
    the `EspeakSynth` it wraps is shared by the whole worker process.
    """

    def __init__(
        self,
        synth: EspeakSynth,
        *,
        voice: str = "en-us",
        rate_wpm: int = DEFAULT_RATE_WPM,
        trace_mark: TraceMark | None = None,
        gain_db: float = 0.0,
    ) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=SAMPLE_RATE_HZ,
            num_channels=1,
        )
        self._synth = synth
        self._voice = voice
        self._rate_wpm = rate_wpm
        self._trace_mark = trace_mark
        self._gain = 10.0 ** (gain_db / 20.0)  # the clip_db defect: a hot, clipping output
        self._stream_adapter: tts.StreamAdapter | None = None

    @property
    def model(self) -> str:
        return f"espeak-ng/{self._voice}"

    @property
    def provider(self) -> str:
        return "espeak-ng"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> EspeakChunkedStream:
        return EspeakChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.SynthesizeStream:
        """Sentence-level streaming: each complete sentence is synthesised at once."""
        if self._stream_adapter is None:
            self._stream_adapter = tts.StreamAdapter(
                tts=self, sentence_tokenizer=tokenize.blingfire.SentenceTokenizer()
            )
        return self._stream_adapter.stream(conn_options=conn_options)

    async def aclose(self) -> None:
        adapter, self._stream_adapter = self._stream_adapter, None
        if adapter is not None:
            await adapter.aclose()

    def _mark(self, point: str) -> None:
        if self._trace_mark is not None:
            self._trace_mark(point, time.monotonic_ns())

    async def _render(self, text: str) -> np.ndarray:
        pcm = await asyncio.to_thread(
            synthesize_48k, self._synth, text, voice=self._voice, rate_wpm=self._rate_wpm
        )
        return louder(pcm, self._gain)


class EspeakChunkedStream(tts.ChunkedStream):
    """One sentence (or any text) synthesised in one go, emitted as 10 ms frames."""

    def __init__(self, *, tts: EspeakTTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._espeak = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=uuid.uuid4().hex[:12],
            sample_rate=SAMPLE_RATE_HZ,
            num_channels=1,
            mime_type="audio/pcm",
            frame_size_ms=10,
        )
        self._espeak._mark("tts_request")
        pcm = await self._espeak._render(self.input_text)
        if len(pcm) == 0:
            return
        self._espeak._mark("tts_first_audio")
        for frame in pcm_to_frames(pcm):
            output_emitter.push_frame(frame)
