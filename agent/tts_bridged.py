"""A livekit-agents streaming TTS on any `TtsEngine`, fed through the text bridge.

    tts = BridgedTTS(engine, language="en", lanes=lanes, starter_cache=cache)

The LLM's text deltas go into a `TextBridge` (agent/text_bridge.py) as they arrive
(producer); its segments are synthesised in order as soon as each is ready (consumer),
so the first audio waits for the starter (1-3 words), not for a sentence. Producer
and consumer run in parallel.

- The starter: when it is a cached opener (agent/starter_cache.py), its audio goes out
  at once, with no synthesis; the hit is traced (`starter_cache_hit`).
- Every synthesis runs the engine's own incremental output (`TtsEngine.stream`) in a
  thread, inside the GPU fast lane (agent/gpu_lanes.py), and its chunks go out as
  10 ms frames as they come, so `tts_first_audio` is the engine's first chunk.
- Trace: `tts_request` when the first segment reaches the engine (or the cache),
  `tts_first_audio` when its first PCM is ready.
- Cancelling the stream (a barge-in) stops the synthesis thread at its next chunk.
- An engine that leaves its own figures of each call (`last_metrics.as_dict()`, as qwen
  does: TTFA, RTF, per-frame codegen, decode, glue, graph fallbacks) has them logged
  per segment ("tts engine call") and kept in `engine_calls`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import numpy as np
from livekit import rtc
from livekit.agents import tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

from agent.gpu_lanes import GpuLanes
from agent.starter_cache import StarterCache
from agent.text_bridge import BridgeOptions, TextBridge
from agent.tts_engines import TtsEngine
from agent.tts_espeak import louder
from autortc.audio import SAMPLE_RATE_HZ, SAMPLES_PER_FRAME

TraceMark = Callable[[str, int], None]
_END = object()
logger = logging.getLogger(__name__)


class BridgedTTS(tts.TTS[None]):
    """A streaming TTS: text bridge + starter cache + an engine in the fast lane."""

    def __init__(
        self,
        engine: TtsEngine,
        *,
        language: str,
        lanes: GpuLanes,
        starter_cache: StarterCache | None = None,
        bridge: BridgeOptions | None = None,
        trace_mark: TraceMark | None = None,
        gain_db: float = 0.0,
    ) -> None:
        if engine.sample_rate_hz != SAMPLE_RATE_HZ:
            raise ValueError(f"engine {engine.name} gives {engine.sample_rate_hz} Hz, not 48 kHz")
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True),
            sample_rate=SAMPLE_RATE_HZ,
            num_channels=1,
        )
        self.engine = engine
        self.language = language
        self.lanes = lanes
        self.starter_cache = starter_cache
        self.bridge_options = bridge or BridgeOptions()
        self._trace_mark = trace_mark
        self._gain = 10.0 ** (gain_db / 20.0)  # the clip_db defect: a hot, clipping output
        self.segments: list[str] = []  # every segment handed to synthesis, in order
        self.engine_calls: list[dict[str, object]] = []  # the engine's figures, per segment

    @property
    def model(self) -> str:
        return f"{self.engine.name}/{self.language}"

    @property
    def provider(self) -> str:
        return self.engine.name

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        raise NotImplementedError("BridgedTTS streams: use stream()")

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> BridgedStream:
        return BridgedStream(tts=self, conn_options=conn_options)

    def mark(self, point: str) -> None:
        if self._trace_mark is not None:
            self._trace_mark(point, time.monotonic_ns())

    def engine_call_done(self, text: str) -> None:
        """Log the engine's own figures of the segment it just spoke, where it keeps them."""
        as_dict = getattr(getattr(self.engine, "last_metrics", None), "as_dict", None)
        if as_dict is None:
            return
        figures = dict(as_dict())
        self.engine_calls.append(figures)
        extra = {"engine": self.engine.name, "segment": text[:40], "figures": figures}
        logger.info("tts engine call", extra=extra)

    def louder(self, pcm: np.ndarray) -> np.ndarray:
        return louder(pcm, self._gain)


async def chunks_in_thread(make: Callable[[], Iterator[np.ndarray]]) -> AsyncIterator[np.ndarray]:
    """A blocking chunk iterator, run in a thread; closing this stops it at its next chunk."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    stop = threading.Event()

    def work() -> None:
        it = make()
        try:
            for chunk in it:
                if stop.is_set():
                    break
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
        except BaseException as e:  # handed to the consumer
            loop.call_soon_threadsafe(queue.put_nowait, e)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
            loop.call_soon_threadsafe(queue.put_nowait, _END)

    worker = asyncio.create_task(asyncio.to_thread(work))
    try:
        while (item := await queue.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, np.ndarray)
            yield item
    finally:
        stop.set()
        await asyncio.shield(worker)


class _Framer:
    """Int16 chunks of any length -> exact 10 ms frames (the tail padded at the end)."""

    def __init__(self, emit: Callable[[rtc.AudioFrame], None]) -> None:
        self._emit = emit
        self._carry = np.zeros(0, dtype=np.int16)

    def push(self, pcm: np.ndarray) -> None:
        buf = np.concatenate([self._carry, np.asarray(pcm, dtype=np.int16)])
        n = len(buf) // SAMPLES_PER_FRAME * SAMPLES_PER_FRAME
        for i in range(0, n, SAMPLES_PER_FRAME):
            self._emit(_frame(buf[i : i + SAMPLES_PER_FRAME]))
        self._carry = buf[n:]

    def finish(self) -> None:
        if len(self._carry):
            pad = np.zeros(SAMPLES_PER_FRAME, dtype=np.int16)
            pad[: len(self._carry)] = self._carry
            self._emit(_frame(pad))
            self._carry = np.zeros(0, dtype=np.int16)


def _frame(pcm: np.ndarray) -> rtc.AudioFrame:
    return rtc.AudioFrame(
        data=pcm.tobytes(),
        sample_rate=SAMPLE_RATE_HZ,
        num_channels=1,
        samples_per_channel=len(pcm),
    )


class BridgedStream(tts.SynthesizeStream):
    """One reply: LLM text in (`push_text`), audio out (see the module doc)."""

    def __init__(self, *, tts: BridgedTTS, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, conn_options=conn_options)
        self._bridged = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=uuid.uuid4().hex[:12],
            sample_rate=SAMPLE_RATE_HZ,
            num_channels=1,
            mime_type="audio/pcm",
            frame_size_ms=10,
            stream=True,
        )
        output_emitter.start_segment(segment_id=uuid.uuid4().hex[:12])
        segments: asyncio.Queue[str | None] = asyncio.Queue()

        async def produce() -> None:
            bridge = TextBridge(self._bridged.bridge_options)
            async for data in self._input_ch:
                if isinstance(data, self._FlushSentinel):
                    for seg in bridge.flush():
                        segments.put_nowait(seg)
                    bridge = TextBridge(self._bridged.bridge_options)
                    continue
                for seg in bridge.push(data):
                    segments.put_nowait(seg)
            for seg in bridge.flush():
                segments.put_nowait(seg)
            segments.put_nowait(None)

        async def consume() -> None:
            framer = _Framer(output_emitter.push_frame)
            first = True
            while (seg := await segments.get()) is not None:
                if not seg.strip():
                    continue
                self._mark_started()
                await self._speak(seg, framer, starter=first)
                first = False
            framer.finish()
            output_emitter.flush()

        tasks = [asyncio.create_task(produce()), asyncio.create_task(consume())]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _speak(self, text: str, framer: _Framer, *, starter: bool) -> None:
        owner = self._bridged
        owner.segments.append(text)
        owner.mark("tts_request")
        cache = owner.starter_cache
        if starter and cache is not None and (pcm := cache.lookup(text)) is not None:
            owner.mark("starter_cache_hit")
            owner.mark("tts_first_audio")
            framer.push(owner.louder(pcm))
            return
        engine, language = owner.engine, owner.language
        async with owner.lanes.fast(f"tts:{text[:16]}"):
            async for chunk in chunks_in_thread(lambda: engine.stream(text, language=language)):
                if len(chunk) == 0:
                    continue
                owner.mark("tts_first_audio")
                framer.push(owner.louder(chunk))
        owner.engine_call_done(text)
