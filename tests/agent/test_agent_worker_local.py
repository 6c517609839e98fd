"""The worker over the real local transport (server in-process): dispatch, barrier, black-box."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import numpy as np
import pytest

from agent.session import AgentOptions
from agent.worker import READY_LINE, run_local_worker
from autortc.protocol import TOPIC_PROBE, RoomMeta, encode, is_agent_identity, make_message
from autortc.transport.local import LocalTransport
from autortc.transport.local_server import serve

pytestmark = pytest.mark.realtime  # the real agent worker over the local server's sockets


async def _run(tmp_path: Path, capsys, *, hooks: bool) -> tuple[list[dict], int, bool]:
    server, port = await serve("127.0.0.1", 0)
    url = f"local://127.0.0.1:{port}"
    options = AgentOptions(autortc_hooks=hooks, pre_rtc_dir=str(tmp_path / "pre_rtc"))
    worker = asyncio.create_task(
        run_local_worker(url, agent_name="ref-test", options=options, own_process=False)
    )
    transport = LocalTransport(url)
    received: list[dict] = []
    audio_frames = 0
    try:
        async with asyncio.timeout(20):
            while READY_LINE.format(agent_name="ref-test") not in capsys.readouterr().out:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            meta = RoomMeta("run424242", "c9", "trace-worker", 1, reply_text="Hi.")
            await transport.create_room(
                "autortc-c9-424242-a1", metadata=meta.to_json(), agent_name="ref-test"
            )
            probe = await transport.connect("autortc-c9-424242-a1", "autortc-probe", role="probe")
            while not [i for i in probe.remote_identities() if is_agent_identity(i)]:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            agent_id = next(i for i in probe.remote_identities() if is_agent_identity(i))

            async def listen() -> None:
                async for m in probe.messages():
                    received.append(json.loads(m.payload))

            lt = asyncio.create_task(listen())
            frames = probe.subscribe_audio(agent_id)
            first = await anext(frames)
            assert not np.any(first.pcm)  # the agent publishes silence before it speaks
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline and not received:
                msg = make_message("probe_ready", trace_id="trace-worker", case_id="c9", t_ns=1)
                await probe.send_message(TOPIC_PROBE, encode(msg))
                await asyncio.sleep(0.25)
            async for _ in frames:
                audio_frames += 1
                if audio_frames >= 20:
                    break
            await frames.aclose()
            await probe.aclose()
            lt.cancel()
            await asyncio.sleep(0.3)  # the job sees the bots leave and closes
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        await transport.aclose()
        await server.aclose()
    return received, audio_frames, (tmp_path / "pre_rtc" / "trace-worker").exists()


async def test_worker_serves_a_dispatched_room_and_answers_the_barrier(tmp_path, capsys):
    received, audio_frames, pre_rtc = await _run(tmp_path, capsys, hooks=True)
    assert audio_frames == 20
    assert any(m["type"] == "agent_ready" for m in received)
    assert pre_rtc  # written in the job's finally, even with no reply


async def test_black_box_mode_sends_no_protocol_messages_and_writes_no_pre_rtc(tmp_path, capsys):
    received, audio_frames, pre_rtc = await _run(tmp_path, capsys, hooks=False)
    assert audio_frames == 20  # the track still flows
    assert received == []
    assert not pre_rtc


@pytest.mark.parametrize("argv", [["local", "--url", "local://127.0.0.1:1", "--no-autortc-hooks"]])
def test_cli_parses_the_worker_options(argv):
    from agent.__main__ import build_parser

    args = build_parser().parse_args(argv)
    assert args.no_autortc_hooks is True
    assert args.agent_name == "autortc-ref"
    assert args.vad_hangover_ms == AgentOptions.vad_hangover_ms
