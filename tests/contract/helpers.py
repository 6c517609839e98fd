"""Signals with known answers and async helpers for the contract suite."""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import numpy as np
import pytest

from autortc.audio import SAMPLE_RATE_HZ, SAMPLES_PER_FRAME
from autortc.transport.base import Transport

T = TypeVar("T")


class TransportFactory:
    """Makes transports and rooms for one test; closes and deletes them afterwards."""

    def __init__(self, name: str, make: Callable[[], Transport], *, lossless: bool) -> None:
        self.name = name
        self.lossless = lossless  # True: PCM arrives bit-exact (no codec)
        self._make = make
        self._transports: list[Transport] = []
        self._rooms: list[str] = []
        self.transport = self()

    def __call__(self) -> Transport:
        transport = self._make()
        self._transports.append(transport)
        return transport

    async def new_room(self, tag: str, *, metadata: str = "{}") -> str:
        room = f"autortc-contract-{tag}-{uuid.uuid4().hex[:8]}"
        await self.transport.create_room(room, metadata=metadata)
        self._rooms.append(room)
        return room

    async def cleanup(self) -> None:
        admin = self._make()
        try:
            for room in self._rooms:
                with contextlib.suppress(Exception):
                    await admin.delete_room(room)
        finally:
            await admin.aclose()
            for transport in self._transports:
                await transport.aclose()


# -- signals -------------------------------------------------------------------


def tone_frames(freq_hz: float, n_frames: int, *, amplitude: float = 0.3) -> list[np.ndarray]:
    """A continuous sine split into 10 ms int16 frames."""
    n = n_frames * SAMPLES_PER_FRAME
    t = np.arange(n) / SAMPLE_RATE_HZ
    pcm = np.round(amplitude * 32767 * np.sin(2 * math.pi * freq_hz * t)).astype(np.int16)
    return [pcm[i * SAMPLES_PER_FRAME : (i + 1) * SAMPLES_PER_FRAME] for i in range(n_frames)]


def rms_dbfs(pcm: np.ndarray) -> float:
    x = np.asarray(pcm, dtype=np.float64) / 32768.0
    return 20 * math.log10(max(float(np.sqrt(np.mean(x * x))), 1e-12))


def dominant_freq_hz(pcm: np.ndarray) -> float:
    x = np.asarray(pcm, dtype=np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum)) * SAMPLE_RATE_HZ / len(x)


def is_silent(pcm: np.ndarray, *, threshold: int = 200) -> bool:
    return int(np.max(np.abs(np.asarray(pcm, dtype=np.int32)))) < threshold


# -- async helpers -----------------------------------------------------------


async def until(predicate: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    """Poll `predicate` every 10 ms; fail the test with `what` after timeout_s."""
    try:
        async with asyncio.timeout(timeout_s):
            while not predicate():  # noqa: ASYNC110 - polls state owned by other tasks
                await asyncio.sleep(0.01)
    except TimeoutError:
        pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


def collect(items: AsyncIterator[T], into: list[T], name: str) -> asyncio.Task[None]:
    """Consume `items` into the list `into` in a background task."""

    async def run() -> None:
        async for item in items:
            into.append(item)

    return asyncio.create_task(run(), name=name)


async def stop(*tasks: asyncio.Task[Any]) -> None:
    """Cancel the tasks and wait for them to finish."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
