"""Kernel launches per step, counted with torch's profiler: figures, not timings.

What CUDA graphs are for: a frame's code predictor and a packet's decode are hundreds
of small kernels each, and launching them costs more than running them. Per step:

- `code_predictor_per_frame`: one frame's 15 code-predictor steps (one call of the
  engine's `code_predictor`, graphed or eager);
- `codegen_per_frame`: one frame of the whole step loop (talker step + code predictor),
  the difference between two generations of different lengths over their difference
  in frames, so the prompt and prefill cancel out;
- `decoder_per_packet`: one steady-state packet decode (`left_context + packet` frames,
  the window the decoder's graph is captured for).

Each is a `LaunchCount`:

- on CUDA, `launch_calls`: host calls that launch device work (`cudaLaunchKernel` and
  its kin; a graph replay is one `cudaGraphLaunch`, counted in `graph_launches` too),
  and `gpu_kernels`: the kernels that ran on the device;
- everywhere, `aten_ops`: the operators dispatched from Python (an operator called
  inside another one is not counted again). On a CPU there are no kernels; this is the
  per-step dispatch work a graph would replace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

LAUNCH_CALLS = frozenset(
    {
        "cudaLaunchKernel",
        "cudaLaunchKernelExC",
        "cudaLaunchCooperativeKernel",
        "cuLaunchKernel",
        "cuLaunchKernelEx",
        "cudaGraphLaunch",
    }
)


@dataclass(frozen=True)
class LaunchCount:
    launch_calls: float
    graph_launches: float
    gpu_kernels: float
    aten_ops: float

    def per(self, n: float) -> LaunchCount:
        return LaunchCount(*(v / n for v in asdict(self).values()))

    def minus(self, other: LaunchCount) -> LaunchCount:
        mine, theirs = asdict(self), asdict(other)
        return LaunchCount(*(mine[k] - theirs[k] for k in mine))


def _outermost_aten(event: Any) -> bool:
    if not event.name.startswith("aten::"):
        return False
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith("aten::"):
            return False
        parent = parent.cpu_parent
    return True


def count_launches(fn: Callable[[], object], *, cuda: bool) -> LaunchCount:
    """Run `fn` once under the profiler and count what it launched and dispatched."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        fn()
        if cuda:
            torch.cuda.synchronize()
    events = list(prof.events())
    on_gpu = torch.autograd.DeviceType.CUDA
    return LaunchCount(
        launch_calls=sum(e.name in LAUNCH_CALLS for e in events),
        graph_launches=sum(e.name == "cudaGraphLaunch" for e in events),
        gpu_kernels=sum(e.device_type == on_gpu for e in events),
        aten_ops=sum(_outermost_aten(e) for e in events),
    )


def per_step(engine: Any, *, short_frames: int = 12, long_frames: int = 24) -> dict[str, Any]:
    """The three per-step counts of `engine` (a `QwenEngine` with random weights, whose
    texts get one frame per `bytes_per_frame` bytes) as dicts."""
    import torch

    opts = engine.options
    cuda = opts.device.startswith("cuda")
    talker = engine.model.talker
    dev, dtype = talker.codec_head.weight.device, talker.codec_head.weight.dtype
    hidden = torch.zeros((1, 1, talker.config.hidden_size), dtype=dtype, device=dev)
    code = torch.zeros((1, 1), dtype=torch.long, device=dev)
    predictor = count_launches(lambda: engine.code_predictor(hidden, code), cuda=cuda)

    texts = ["a" * (n * opts.bytes_per_frame) for n in (short_frames, long_frames)]
    made: dict[str, list[Any]] = {}

    def generate(text: str) -> Callable[[], object]:
        return lambda: made.__setitem__(text, engine.frames(text, language="en"))

    short, long = (count_launches(generate(t), cuda=cuda) for t in texts)
    frames = [len(made[t]) for t in texts]
    # real weights stop at their end token: two lengths may give the same frame count
    codegen = long.minus(short).per(frames[1] - frames[0]) if frames[1] > frames[0] else None

    window = opts.left_context_tokens + opts.packet_tokens
    tiled = (made[texts[1]] * (window // frames[1] + 1))[:window]
    decoder = count_launches(lambda: engine.decode_frames(tiled), cuda=cuda)
    return {
        "code_predictor_per_frame": asdict(predictor),
        "codegen_per_frame": None if codegen is None else asdict(codegen),
        "codegen_frames_compared": frames,
        "decoder_per_packet": asdict(decoder),
        "decoder_window_frames": window,
        "what": "launch_calls/gpu_kernels on CUDA; aten_ops: operators dispatched from Python",
    }
