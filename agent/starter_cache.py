"""The starter cache: common reply openers synthesised ahead, so a hit speaks at once.

The text bridge (agent/text_bridge.py) sends a reply's first 1-3 words (or up to its
first punctuation) to TTS first: the starter. When that starter is one of the cached
openers ("Sure.", "Of course." ...), its audio is already there and the first frame
goes out without waiting for synthesis; the rest of the reply is synthesised behind it.

- `StarterCache.fill(synthesize)` synthesises every opener once (at start-up: nothing
  else runs yet); `fill_in_background(lanes, synthesize)` does it through the GPU
  slow lane (agent/gpu_lanes.py): it takes the engine only when it is idle
  (`try_slow`) and yields between openers when a fast request preempts it.
- `lookup(text)` matches the starter exactly, after stripping and lower-casing (a
  different punctuation mark is a different opener: it sounds different). Hits and
  misses are counted; the agent traces each hit (`starter_cache_hit`).

Keyed by voice: one cache per voice. Pure except `fill*`, which call the synthesiser.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import numpy as np

from agent.gpu_lanes import GpuLanes

logger = logging.getLogger(__name__)

DEFAULT_OPENERS: tuple[str, ...] = ("Sure.", "Sure,", "Of course.", "Yes,", "Okay,")
SLOW_RETRY_S = 0.05  # the slow lane was refused: look again this much later

Synthesize = Callable[[str], np.ndarray]  # text -> int16 PCM (blocking)


def cache_key(text: str) -> str:
    return " ".join(text.split()).lower()


class StarterCache:
    """Opener audio for one voice (see module doc)."""

    def __init__(self, openers: Sequence[str] = DEFAULT_OPENERS) -> None:
        self.openers = tuple(openers)
        self._pcm: dict[str, np.ndarray] = {}
        self.hits = 0
        self.misses = 0

    @property
    def ready(self) -> int:
        """How many openers have their audio."""
        return len(self._pcm)

    def put(self, text: str, pcm: np.ndarray) -> None:
        self._pcm[cache_key(text)] = np.asarray(pcm, dtype=np.int16)

    def fill(self, synthesize: Synthesize) -> None:
        """Synthesise every opener now (blocking)."""
        for text in self.openers:
            if cache_key(text) not in self._pcm:
                self.put(text, synthesize(text))

    async def fill_in_background(self, lanes: GpuLanes, synthesize: Synthesize) -> None:
        """Synthesise the missing openers in the slow lane, one at a time, yielding to
        any fast request between them."""
        for text in self.openers:
            if cache_key(text) in self._pcm:
                continue
            while (lease := lanes.try_slow(f"starter:{text}")) is None:  # noqa: ASYNC110 - polling is the slow lane's contract
                await asyncio.sleep(SLOW_RETRY_S)
            try:
                self.put(text, await asyncio.to_thread(synthesize, text))
            finally:
                lease.release()

    def lookup(self, text: str) -> np.ndarray | None:
        """The opener's audio when `text` is a cached opener (counted), else None."""
        pcm = self._pcm.get(cache_key(text))
        if pcm is None:
            self.misses += 1
            return None
        self.hits += 1
        return pcm
