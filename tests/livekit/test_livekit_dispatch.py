"""A refused dispatch is retried at once (issue 11, item 5) on a real livekit-server.

    livekit-server --dev --bind 127.0.0.1
    LIVEKIT_URL=ws://127.0.0.1:7880 .venv/bin/python -m pytest -m livekit \
        tests/livekit/test_livekit_dispatch.py

A dispatch to an agent name no worker has registered is dropped by the server
(`agentClient.LaunchJob`: "not dispatching agent job since no worker is available"),
exactly as a dispatch is dropped when every worker reports WS_FULL: the dispatch stays,
with no job. The guard must send it again every ~2 s, and the first dispatch after a
worker with that name registers must be taken, with no wait for a barrier timeout.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest

from autortc.stack import LiveKitAgentWorkerProcess
from autortc.transport.livekit import LiveKitTransport
from autortc.transport.livekit_dispatch import REDISPATCH_AFTER_S

pytestmark = [
    pytest.mark.livekit,
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        not os.environ.get("LIVEKIT_URL"), reason="LIVEKIT_URL not set: needs a real livekit-server"
    ),
]


async def _wait_for(pred, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if await pred():
            return True
        await asyncio.sleep(0.25)
    return False


async def test_a_dispatch_nobody_takes_is_sent_again_and_taken_once_a_worker_registers(
    tmp_path: Path,
) -> None:
    name = f"autortc-lktest-nobody-{uuid.uuid4().hex[:6]}"
    room = f"autortc-lktest-dispatch-{uuid.uuid4().hex[:6]}"
    transport = LiveKitTransport.from_env(token_ttl_s=120)
    worker: LiveKitAgentWorkerProcess | None = None
    try:
        await transport.create_room(room, metadata="{}", agent_name=name, empty_timeout_s=60)

        async def refused_twice() -> bool:
            return transport.redispatches(room) >= 2

        # refused, then sent again about every REDISPATCH_AFTER_S (+ one 0.5 s poll)
        assert await _wait_for(refused_twice, 4 * REDISPATCH_AFTER_S + 3.0)
        assert await transport.agent_in_room(room) is False

        worker = await LiveKitAgentWorkerProcess.start(
            livekit_url=os.environ["LIVEKIT_URL"],
            agent_name=name,
            pre_rtc_dir=tmp_path / "pre_rtc",
            log_path=tmp_path / "agent.log",
        )
        before = transport.redispatches(room)
        guard, _task = transport._guards[room]

        async def taken() -> bool:
            jobs = await transport.dispatch_jobs(room, guard.dispatch_id)
            return bool(jobs)

        # the next re-dispatch after registration goes through: within one period
        assert await _wait_for(taken, REDISPATCH_AFTER_S + 4.0), (
            f"no job after the worker registered; redispatches {transport.redispatches(room)}"
        )
        assert transport.redispatches(room) <= before + 2
    finally:
        try:
            await transport.delete_room(room)
        finally:
            await transport.aclose()
            if worker is not None:
                await worker.aclose()
