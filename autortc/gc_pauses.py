"""Keep Python's garbage collector out of the timed path of real-time processes.

A full (generation 2) collection walks every tracked object. In the reference agent's
worker, after the imports and engines (livekit, onnxruntime, numpy, espeak: ~190 000
objects) it took 165-180 ms on 2 cores, and it fell, run after run, on the fourth
job of the mini and fast suites between the TTS's first audio and the first frame
handed to the transport: `noise_background` answered 150-240 ms late and the mini
verdict flipped on the 650 ms P95. In a bot it would stamp the frames that arrive
during the pause late.

`freeze_startup_heap()` moves everything alive after start-up into the permanent
generation (`gc.freeze()`, as long-running Python services do): collections then walk
only what was made since, and a gen-2 pass costs a few ms. `GcPauseLog` logs any
collection longer than a threshold, so a pause that still lands on a reply is seen in
the log rather than guessed from a latency.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

LONG_PAUSE_MS = 50.0


def freeze_startup_heap() -> int:
    """Collect once, then freeze what is left; returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@dataclass(eq=False)
class GcPauseLog:
    """A `gc.callbacks` entry that logs collections longer than `threshold_ms`."""

    threshold_ms: float = LONG_PAUSE_MS
    now_ns: Callable[[], int] = time.perf_counter_ns
    pauses_ms: list[float] = field(default_factory=list)
    _start_ns: int | None = None

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start_ns = self.now_ns()
            return
        if self._start_ns is None:
            return
        took_ms = (self.now_ns() - self._start_ns) / 1e6
        self._start_ns = None
        if took_ms > self.threshold_ms:
            self.pauses_ms.append(took_ms)
            logger.warning(
                "garbage collection paused this process %.0f ms (generation %d)",
                took_ms,
                info.get("generation", -1),
            )

    def install(self) -> GcPauseLog:
        if self not in gc.callbacks:
            gc.callbacks.append(self)
        return self


def guard_real_time_process() -> int:
    """Freeze the start-up heap and log long pauses from now on (idempotent)."""
    frozen = freeze_startup_heap()  # its own collection is start-up, not a pause
    if not any(isinstance(cb, GcPauseLog) for cb in gc.callbacks):
        GcPauseLog().install()
    return frozen
