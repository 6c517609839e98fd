"""CUDA graphs for the two launch-bound parts: a frame's code predictor, a packet's decode.

A frame's 15 code-predictor steps are ~15 x (layers x ~10) small kernels; a packet's
decode is the whole codec decoder on 74 frames. On a GPU both are bound by kernel
launches, which a CUDA graph replays as one. Each is captured once, at engine
start-up, under `torch.no_grad()` after a warm-up of `WARMUP_RUNS` on a side stream;
its inputs are static buffers filled by `copy_()`, its output a static buffer cloned
after `replay()`. A lock makes one replay at a time (the buffers are shared by every
call of the engine). An input whose shape or dtype is not the captured one runs
eagerly, and `FallbackCounter` counts it by reason (the engine reports the counts
per call as `graph_fallbacks`).

- `GraphedCodePredictor`: the code predictor with a `StaticCache` of 16 positions (2
  prefill + 14 steps, all rewritten every frame), its attention masks and positions
  precomputed per step, greedy argmax on the device: no host sync inside. Built with
  `capture=False` it runs the same static-cache body eagerly, which is how the CPU
  tests check it against `codegen.eager_code_predictor`.
- `GraphedDecoder`: the decoder on windows of `left_context + packet` frames (the
  steady state of a stream). Shorter windows (the first 36 packets, the offline pass,
  a short last packet) are eager and counted as `decoder_shape`.

Never run on a GPU yet (none was available when this was written): the capture and
replay are untested; the static-cache body is tested on CPU. `scripts/bench_qwen_gpu.py`
captures both, compares graphs-on with graphs-off and records any failure.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from agent.tts_qwen.codegen import CodePredictor, eager_code_predictor

WARMUP_RUNS = 3
CP_SHAPE = "code_predictor_shape"
DECODER_SHAPE = "decoder_shape"


class FallbackCounter:
    """Eager runs while graphs are on, by reason (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, reason: str) -> None:
        with self._lock:
            self._counts[reason] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


def since(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The counts added between two snapshots."""
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def _capture(body: Callable[[], Any]) -> tuple[Any, Any]:
    """Warm `body` up on a side stream, then capture it: (graph, its static output)."""
    import torch

    stream_class: Any = torch.cuda.Stream  # untyped in torch's stubs
    side = stream_class()
    side.wait_stream(torch.cuda.current_stream())
    with torch.no_grad(), torch.cuda.stream(side):
        for _ in range(WARMUP_RUNS):
            body()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.no_grad(), torch.cuda.graph(graph):
        out = body()
    torch.cuda.synchronize()
    return graph, out


class GraphedCodePredictor:
    """A frame's 15 code-predictor steps on a static KV cache, as one CUDA graph."""

    def __init__(self, talker: Any, *, capture: bool, counter: FallbackCounter) -> None:
        import torch
        from transformers import StaticCache
        from transformers.masking_utils import create_causal_mask

        self._talker = talker
        self._cp = talker.code_predictor
        self._n = talker.config.num_code_groups - 1
        self._counter = counter
        self._eager = eager_code_predictor(talker)
        self._lock = threading.Lock()
        weight = talker.codec_head.weight
        dev, dtype = weight.device, weight.dtype
        self._hidden = torch.zeros((1, 1, talker.config.hidden_size), dtype=dtype, device=dev)
        self._code = torch.zeros((1, 1), dtype=torch.long, device=dev)
        cp_cfg = self._cp.config
        self._cache = StaticCache(config=cp_cfg, max_cache_len=self._n + 1)
        self._pos = [torch.arange(0, 2, device=dev)]
        self._pos += [torch.tensor([step + 1], device=dev) for step in range(1, self._n)]
        self._masks = []
        for pos in self._pos:
            shape = (1, pos.shape[0], cp_cfg.hidden_size)
            mask = create_causal_mask(
                config=cp_cfg,
                input_embeds=torch.empty(shape, dtype=dtype, device=dev),
                attention_mask=None,
                cache_position=pos,
                past_key_values=self._cache,
            )
            self._masks.append({"full_attention": mask, "sliding_attention": mask})
        self._graph: Any = None
        self._out: Any = None
        if capture:
            self._graph, self._out = _capture(self._body)

    def _body(self) -> Any:
        import torch

        cp = self._cp
        first = self._talker.get_input_embeddings()(self._code)
        x = cp.small_to_mtp_projection(torch.cat((self._hidden, first), dim=1))
        codes = []
        for step in range(self._n):
            pos = self._pos[step]
            h = cp.model(
                inputs_embeds=x,
                attention_mask=self._masks[step],
                position_ids=pos.unsqueeze(0),
                past_key_values=self._cache,
                use_cache=True,
                cache_position=pos,
            ).last_hidden_state
            code = cp.lm_head[step](h)[:, -1, :].float().argmax(dim=-1, keepdim=True)
            codes.append(code)
            if step + 1 < self._n:
                x = cp.small_to_mtp_projection(cp.model.codec_embedding[step](code))
        return torch.cat(codes, dim=1)

    def __call__(self, past_hidden: Any, first_code: Any) -> Any:
        import torch

        fits = (
            past_hidden.shape == self._hidden.shape
            and past_hidden.dtype == self._hidden.dtype
            and first_code.shape == self._code.shape
        )
        if not fits:
            self._counter.add(CP_SHAPE)
            return self._eager(past_hidden, first_code)
        with self._lock, torch.no_grad():
            self._hidden.copy_(past_hidden)
            self._code.copy_(first_code)
            if self._graph is None:
                return self._body()
            self._graph.replay()
            return self._out.clone()


def eager_decoder(decoder: Any) -> Callable[[Sequence[Any]], np.ndarray]:
    """The codec decoder on a list of frames: 24 kHz samples (numpy float64)."""
    import torch

    def decode(frames: Sequence[Any]) -> np.ndarray:
        with torch.no_grad():
            wav = decoder(torch.stack(list(frames), dim=1).unsqueeze(0))[0, 0]
            return np.asarray(wav.double().cpu().numpy())

    return decode


class GraphedDecoder:
    """The codec decoder on `window_frames` frames as one CUDA graph; other sizes eager."""

    def __init__(
        self, decoder: Any, *, window_frames: int, num_groups: int, counter: FallbackCounter
    ) -> None:
        import torch

        self._eager = eager_decoder(decoder)
        self._counter = counter
        self._lock = threading.Lock()
        dev = next(decoder.parameters()).device
        self._codes = torch.zeros((1, num_groups, window_frames), dtype=torch.long, device=dev)
        self._graph, self._out = _capture(lambda: decoder(self._codes))

    def __call__(self, frames: Sequence[Any]) -> np.ndarray:
        import torch

        if len(frames) != self._codes.shape[-1]:
            self._counter.add(DECODER_SHAPE)
            return self._eager(frames)
        with self._lock, torch.no_grad():
            self._codes.copy_(torch.stack(list(frames), dim=1).unsqueeze(0))
            self._graph.replay()
            return np.asarray(self._out[0, 0].double().cpu().numpy())


def code_predictor(talker: Any, *, cuda_graphs: bool, counter: FallbackCounter) -> CodePredictor:
    """The code predictor the engine uses: graphed, or eager with a dynamic cache."""
    if cuda_graphs:
        return GraphedCodePredictor(talker, capture=True, counter=counter)
    return eager_code_predictor(talker)
