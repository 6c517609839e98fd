"""The network on the real embedded room server: the same seed gives the same received
audio, bit for bit, so the same Ring 0 and Ring 1 figures; another seed other audio.

Run over an in-process room server with a fixed sender (the agent's role, so its
packets cross the downlink). Through the reference agent the same holds within each
metric's tolerance (tests/e2e/test_network.py): a talk spurt's first packet starts
with its first sound, so the same speech fills the same packets in every run."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from autortc.metrics import levels, ring0
from autortc.network.profiles import load_profiles
from autortc.network.room import RoomNetwork
from autortc.transport.local import LocalTransport
from autortc.transport.local_server import serve

pytestmark = pytest.mark.realtime
FRAME = 480


def _signal() -> list[np.ndarray]:
    """0.2 s of silence, 1.5 s of a voice-like tone, 0.3 s of silence, in 10 ms frames."""
    t = np.arange(150 * FRAME) / 48_000
    voice = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((180, 360, 900, 2300), 1))
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    x = np.concatenate([np.zeros(20 * FRAME), 0.3 * voice * env / 2.2, np.zeros(30 * FRAME)])
    pcm = (x * 32767).astype(np.int16)
    return [pcm[k * FRAME : (k + 1) * FRAME] for k in range(len(pcm) // FRAME)]


async def _received(network: RoomNetwork) -> tuple[np.ndarray, dict[str, float | int | None]]:
    server, port = await serve("127.0.0.1", 0)
    transport = LocalTransport(f"local://127.0.0.1:{port}")
    try:
        await transport.create_room("r", metadata="{}", network=network)
        probe = await transport.connect("r", "probe", role="probe")
        agent = await transport.connect("r", "agent", role="agent")
        frames: list[np.ndarray] = []
        sub = probe.subscribe_audio("agent")

        async def listen() -> None:
            async for f in sub:
                frames.append(f.pcm)

        listener = asyncio.create_task(listen(), name="listen")
        pub = await agent.publish_audio()
        for frame in _signal():
            await pub.capture_frame(frame)
        await pub.wait_for_playout()
        await asyncio.sleep(0.5)  # the buffer's delay and the last packets
        stats = probe.receive_stats("agent")
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await agent.aclose()
        await probe.aclose()
        assert stats is not None
        return np.concatenate(frames), stats
    finally:
        await transport.aclose()
        await server.aclose()


def _sound_starts(x: np.ndarray) -> int:
    return int(np.flatnonzero(np.abs(x.astype(np.int32)) > 100)[0])


def _dropouts(received: np.ndarray) -> int:
    sent = np.concatenate(_signal()).astype(float) / 32768
    got = received.astype(float) / 32768
    lag = (
        int(np.argmax(np.correlate(got[: len(sent) + 4800], sent[2000:8000], mode="valid"))) - 2000
    )
    got = got[lag : lag + len(sent)]
    return ring0.audible_dropout(levels.frame_rms(got, 48_000), levels.frame_rms(sent, 48_000))


@pytest.mark.parametrize("codec", ["pcm", "opus"])
async def test_the_same_seed_gives_the_same_received_audio_and_another_seed_other(
    codec: str,
) -> None:
    profile = load_profiles()["lossy_20"]
    a, sa = await _received(RoomNetwork(profile, codec=codec, seed=3))  # type: ignore[arg-type]
    b, sb = await _received(RoomNetwork(profile, codec=codec, seed=3))  # type: ignore[arg-type]
    c, _ = await _received(RoomNetwork(profile, codec=codec, seed=4))  # type: ignore[arg-type]
    # the silence played before the talk spurt depends on when it arrived (and Opus
    # decodes silence as +-1 LSB); from the spurt's first sound on, the audio is the
    # same, bit for bit
    a, b = a[_sound_starts(a) :], b[_sound_starts(b) :]
    n = min(len(a), len(b))
    assert n > 100 * FRAME
    assert np.array_equal(a[:n], b[:n])
    assert (sa["conceal_events"], sa["concealed_frames"]) == (
        sb["conceal_events"],
        sb["concealed_frames"],
    )
    assert sa["conceal_events"]  # lossy_20 does lose some of the packets
    assert _dropouts(a) == _dropouts(b)
    m = min(len(a), len(c))
    assert not np.array_equal(a[:m], c[:m])
