"""`QwenEngine`: Qwen3-TTS 12 Hz CustomVoice behind `TtsEngine`, streamed with incremental decode.

- `synthesize`: every frame's codes (`codegen.generate_frames`), then one offline
  decode of all of them (`decode.decode_offline`), int16, resampled to 48 kHz.
- `stream`: the same generator; every `packet_tokens` (2) frames, the packet is decoded
  with up to `left_context_tokens` (72) frames of context and handed over at once.
  Synchronous: nothing runs between two `next()` calls, so closing the iterator
  stops the synthesis where it is.

Both resample through one streaming resampler fed at the same packet boundaries
(`decode.resample_like_stream`), so streamed vs offline differ by the decoder only.
Measured on CPU (tiny random weights, 1 thread, 8 to 300 frames; the figures of
tests/agent/test_tts_qwen.py):

- up to `left_context_tokens + packet_tokens` (74) frames every packet's context
  reaches back to frame 0, so a packet is a prefix of the offline computation.
  float32 decoder: the float results differ by rounding only (max |diff| 3.3e-7 of
  full scale: length-dependent kernel blocking), which flips the int16 rounding of
  about 0.1 % of samples by 1 LSB (at 24 and at 48 kHz: `decode.FLOAT32_ROUNDING_LSB`).
  float64 decoder (`decoder_dtype="float64"`): bit-identical, float and int16.
- past 74 frames the 72-frame window is an approximation of the decoder's
  sliding-window transformer (each of its layers sees 72 frames back, so its
  receptive field is layers x 72), in float64 as in float32: max |diff| 4.4e-5 at 75
  frames, 1.1e-4 at 120 to 200, 1.3e-4 at 300; at 48 kHz 2, 4, 5 and 5 LSB
  (`decode.WINDOWED_TOLERANCE_LSB` up to `max_frames`, 200). Not measured with real
  weights (8 layers, trained LayerScale instead of the initial 0.01).

Weights: `QwenOptions.model_dir` (default `$QWEN_TTS_MODEL_DIR`) loads a local
checkpoint; without one the networks are seeded random (`size` tiny or full), and the
engine says so in `version`, in every `QwenCallMetrics.weights` and in its log lines.
Random weights never learn to stop: a text gets `FramePolicy.frames_for` frames.

Per call, `last_metrics` (`metrics.QwenCallMetrics`): TTFA, RTF, per-frame codegen,
decode, glue, fallbacks. `cuda_graphs=True` (CUDA only) captures the code predictor's
frame and the decoder's steady-state packet at start-up (`graphs.py`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np

from agent.tts_engines import check_language
from agent.tts_qwen import graphs
from agent.tts_qwen.codegen import FramePolicy, build_prompt, generate_frames
from agent.tts_qwen.decode import (
    OUTPUT_SAMPLE_RATE_HZ,
    DecodeFn,
    PacketDecoder,
    Resampler,
    decode_offline,
    resample_like_stream,
    stream_tolerance,
)
from agent.tts_qwen.metrics import QwenCallMetrics, call_metrics
from agent.tts_qwen.model import SEED, QwenModel, QwenSize, build_random, load_local
from agent.tts_regress_registry import StreamTolerance
from autortc.errors import InputError

log = logging.getLogger(__name__)

MODEL_DIR_ENV = "QWEN_TTS_MODEL_DIR"
DTYPES = ("float32", "float64", "bfloat16", "float16")
WARMUP_TEXT = "warm up"


@dataclass(frozen=True)
class QwenOptions:
    size: str = QwenSize.TINY.value  # random weights: "tiny" | "full"
    model_dir: str | None = None  # a local checkpoint (None: $QWEN_TTS_MODEL_DIR, if set)
    device: str = "cpu"
    dtype: str = "float32"
    decoder_dtype: str = "float32"  # "float64" on CPU: streamed == offline, bit for bit
    seed: int = SEED
    speaker: str = "vivian"
    packet_tokens: int = 2
    left_context_tokens: int = 72
    bytes_per_frame: int = 3
    min_frames: int = 8
    max_frames: int = 200
    repetition_penalty: float = 1.05
    cuda_graphs: bool = False
    cpu_threads: int | None = 1  # torch.set_num_threads (process-wide) on CPU: same bits
    warmup: bool = True

    def __post_init__(self) -> None:
        problems = []
        if self.size not in {s.value for s in QwenSize}:
            problems.append(f"size '{self.size}' (tiny or full)")
        for name in ("dtype", "decoder_dtype"):
            if getattr(self, name) not in DTYPES:
                problems.append(f"{name} '{getattr(self, name)}' ({', '.join(DTYPES)})")
        if not self.device.startswith(("cpu", "cuda")):
            problems.append(f"device '{self.device}' (cpu or cuda[:N])")
        for name in ("packet_tokens", "bytes_per_frame", "min_frames"):
            if getattr(self, name) < 1:
                problems.append(f"{name} {getattr(self, name)} (>= 1)")
        if self.left_context_tokens < 0:
            problems.append(f"left_context_tokens {self.left_context_tokens} (>= 0)")
        if self.max_frames < self.min_frames:
            problems.append(f"max_frames {self.max_frames} (>= min_frames {self.min_frames})")
        if self.cpu_threads is not None and self.cpu_threads < 1:
            problems.append(f"cpu_threads {self.cpu_threads} (>= 1 or None)")
        if problems:
            raise InputError(f"qwen TTS options: bad {'; '.join(problems)}")

    @classmethod
    def from_kwargs(cls, **kw: Any) -> QwenOptions:
        """Options from keyword arguments (unknown ones: InputError); model_dir from env."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kw) - known)
        if unknown:
            raise InputError(f"qwen TTS options: unknown {', '.join(unknown)}")
        if kw.get("model_dir") is None and os.environ.get(MODEL_DIR_ENV):
            kw["model_dir"] = os.environ[MODEL_DIR_ENV]
        return cls(**kw)


@dataclass
class _Call:
    """One call's accumulators (ns)."""

    start_ns: int
    fallbacks_before: dict[str, int]
    frame_ns: list[int] = field(default_factory=list)
    decode_ns: int = 0
    consumer_ns: int = 0
    first_audio_ns: int | None = None
    samples: int = 0
    packets: int = 0


class QwenEngine:
    """Qwen3-TTS as a `TtsEngine` (see the module docstring). Loads its model at once."""

    name = "qwen"
    languages: tuple[str, ...] = ("en", "zh")
    sample_rate_hz = OUTPUT_SAMPLE_RATE_HZ

    def __init__(
        self,
        options: QwenOptions | None = None,
        *,
        clock_ns: Callable[[], int] = time.perf_counter_ns,
        model: QwenModel | None = None,
    ) -> None:
        """`model`: networks already built (benchmarks share one); else per `options`."""
        opts = options or QwenOptions()
        self.options = opts
        self._clock = clock_ns
        import torch

        cuda = opts.device.startswith("cuda")
        if cuda and not torch.cuda.is_available():
            raise InputError(f"qwen TTS device '{opts.device}': CUDA is not available here")
        if opts.cuda_graphs and not cuda:
            raise InputError("qwen TTS cuda_graphs=True needs a CUDA device; device is cpu")
        if not cuda and opts.cpu_threads is not None:
            torch.set_num_threads(opts.cpu_threads)
        if model is not None:
            self.model: QwenModel = model
        elif opts.model_dir:
            self.model = load_local(
                Path(opts.model_dir),
                device=opts.device,
                dtype=opts.dtype,
                decoder_dtype=opts.decoder_dtype,
            )
        else:
            self.model = build_random(
                QwenSize(opts.size),
                seed=opts.seed,
                device=opts.device,
                dtype=opts.dtype,
                decoder_dtype=opts.decoder_dtype,
            )
        self.model.talker.requires_grad_(False)
        self.model.decoder.requires_grad_(False)
        self._sync: Callable[[], None] = torch.cuda.synchronize if cuda else (lambda: None)
        self._policy = FramePolicy(opts.bytes_per_frame, opts.min_frames, opts.max_frames)
        self.fallbacks = graphs.FallbackCounter()
        self.code_predictor = graphs.code_predictor(
            self.model.talker, cuda_graphs=opts.cuda_graphs, counter=self.fallbacks
        )
        self.decode_frames: DecodeFn = graphs.eager_decoder(self.model.decoder)
        if opts.cuda_graphs:
            self.decode_frames = graphs.GraphedDecoder(
                self.model.decoder,
                window_frames=opts.left_context_tokens + opts.packet_tokens,
                num_groups=self.model.talker.config.num_code_groups,
                counter=self.fallbacks,
            )
        where = f"{opts.dtype} on {opts.device}"
        if opts.decoder_dtype != opts.dtype:
            where += f", decoder {opts.decoder_dtype}"
        if not cuda:
            where += f", threads={torch.get_num_threads()}"
        self.version = (
            f"{self.model.weights}: qwen-tts {package_version('qwen-tts')} 12Hz CustomVoice, "
            f"torch {torch.__version__}, transformers {package_version('transformers')}, "
            f"{where}{', CUDA graphs' if opts.cuda_graphs else ''}"
        )
        self.last_metrics: QwenCallMetrics | None = None
        if opts.warmup:
            for _ in self.stream(WARMUP_TEXT, language="en"):
                pass
            self.last_metrics = None
        if self.random_weights:
            log.info(
                "qwen tts ready: RANDOM WEIGHTS, noise not speech", extra={"version": self.version}
            )
        else:
            log.info("qwen tts ready", extra={"version": self.version})

    @property
    def random_weights(self) -> bool:
        return self.model.random_weights

    # -- what tts-regress holds the engine to (agent.tts_regress_engine) --------------------

    def stream_tolerance(self, text: str, *, language: str) -> StreamTolerance | None:
        """Streamed vs offline (the same codes), for the frames `text` gets at most."""
        o = self.options
        return stream_tolerance(
            self._policy.frames_for(text, random_weights=self.random_weights),
            packet_tokens=o.packet_tokens,
            left_context_tokens=o.left_context_tokens,
            decoder_dtype=o.decoder_dtype,
        )

    def graphs_variant(self) -> tuple[QwenEngine | None, str]:
        """This engine with CUDA graphs switched the other way, on the same weights."""
        if not self.options.device.startswith("cuda"):
            return (
                None,
                f"CUDA graphs need a CUDA device; this engine runs on {self.options.device}",
            )
        flipped = replace(self.options, cuda_graphs=not self.options.cuda_graphs)
        note = f"CUDA graphs {'on' if flipped.cuda_graphs else 'off'}, the same weights"
        return QwenEngine(flipped, clock_ns=self._clock, model=self.model), note

    def counters(self) -> dict[str, int]:
        """Eager runs while CUDA graphs were on, by reason, since the engine was made."""
        return {f"graph_fallback.{k}": v for k, v in self.fallbacks.snapshot().items()}

    def frames(self, text: str, *, language: str) -> list[Any]:
        """Every frame's 16 codes for `text` (device tensors), as `synthesize` makes them."""
        check_language(self, language)
        return list(self._frames(text, language)) if text.strip() else []

    def synthesize(self, text: str, *, language: str) -> np.ndarray:
        check_language(self, language)
        call = _Call(self._clock(), self.fallbacks.snapshot())
        frames = list(self._timed_frames(text, language, call)) if text.strip() else []
        t0 = self._clock()
        pcm24 = decode_offline(self.decode_frames, frames)
        call.decode_ns += self._clock() - t0
        pcm = resample_like_stream(pcm24, packet_tokens=self.options.packet_tokens)
        call.samples = len(pcm)
        call.packets = -(-len(frames) // self.options.packet_tokens)
        call.first_audio_ns = self._clock() if len(pcm) else None
        self._record(call, mode="offline", completed=True)
        return pcm

    def stream(self, text: str, *, language: str) -> Iterator[np.ndarray]:
        check_language(self, language)  # raised here, not at the first chunk
        return self._stream(text, language)

    # -- the pipeline ------------------------------------------------------------------

    def _frames(self, text: str, language: str) -> Generator[Any, None, None]:
        prompt = build_prompt(self.model, text, language=language, speaker=self.options.speaker)
        yield from generate_frames(
            self.model,
            prompt,
            max_frames=self._policy.frames_for(text, random_weights=self.random_weights),
            predict=self.code_predictor,
            repetition_penalty=self.options.repetition_penalty,
            stop_at_eos=not self.random_weights,
        )

    def _timed_frames(self, text: str, language: str, call: _Call) -> Generator[Any, None, None]:
        frames = self._frames(text, language)
        try:
            while True:
                t0 = self._clock()
                frame = next(frames, None)
                self._sync()
                if frame is None:
                    return
                call.frame_ns.append(self._clock() - t0)
                yield frame
        finally:
            frames.close()

    def _packets(self, text: str, language: str, call: _Call) -> Iterator[np.ndarray]:
        """24 kHz int16 packets, as the frames come."""

        def decode(frames: Sequence[Any]) -> np.ndarray:
            t0 = self._clock()
            wav = self.decode_frames(frames)
            call.decode_ns += self._clock() - t0
            return wav

        packets = PacketDecoder(
            decode,
            packet_tokens=self.options.packet_tokens,
            left_context_tokens=self.options.left_context_tokens,
        )
        frames = self._timed_frames(text, language, call)
        try:
            for frame in frames:
                pcm = packets.push(frame)
                if pcm is not None:
                    call.packets += 1
                    yield pcm
            pcm = packets.flush()
            if pcm is not None:
                call.packets += 1
                yield pcm
        finally:
            frames.close()

    def _stream(self, text: str, language: str) -> Iterator[np.ndarray]:
        call = _Call(self._clock(), self.fallbacks.snapshot())
        packets = self._packets(text, language, call) if text.strip() else iter(())
        resampler = Resampler()
        completed = False
        try:
            for pcm24 in packets:
                yield from self._deliver(resampler.chunk(pcm24), call)
            yield from self._deliver(resampler.finish(), call)
            completed = True
        finally:
            close = getattr(packets, "close", None)
            if close is not None:
                close()
            self._record(call, mode="stream", completed=completed)

    def _deliver(self, chunk: np.ndarray, call: _Call) -> Iterator[np.ndarray]:
        """Hand one 48 kHz chunk over (none when empty), timing the consumer."""
        if not len(chunk):
            return
        if call.first_audio_ns is None:
            call.first_audio_ns = self._clock()
        call.samples += len(chunk)
        t0 = self._clock()
        yield chunk
        call.consumer_ns += self._clock() - t0

    def _record(self, call: _Call, *, mode: str, completed: bool) -> None:
        self.last_metrics = call_metrics(
            mode=mode,
            weights=self.model.weights,
            completed=completed,
            start_ns=call.start_ns,
            end_ns=self._clock(),
            first_audio_ns=call.first_audio_ns,
            frame_ns=call.frame_ns,
            decode_ns=call.decode_ns,
            consumer_ns=call.consumer_ns,
            samples=call.samples,
            sample_rate_hz=self.sample_rate_hz,
            packets=call.packets,
            graph_fallbacks=graphs.since(call.fallbacks_before, self.fallbacks.snapshot()),
        )
        message = "qwen tts call (RANDOM WEIGHTS)" if self.random_weights else "qwen tts call"
        log.debug(message, extra={"metrics": self.last_metrics.as_dict()})


def make_qwen_engine(**kw: Any) -> QwenEngine:
    """The registry's factory: `QwenOptions.from_kwargs(**kw)`."""
    return QwenEngine(QwenOptions.from_kwargs(**kw))
