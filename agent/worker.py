"""The long-running reference-agent worker on the local transport.

    python -m agent local --url local://127.0.0.1:PORT --agent-name autortc-ref

It registers `agent_name` with the local room server, prints
`AUTORTC_AGENT_READY agent_name=...` once registered, and serves every job
(`JobRequest`) as its own named task: join as `agent-<job>` and `run_agent_job`.
Jobs run concurrently; a failing job is logged and never takes the worker down.
`AgentEngines` (VAD model, espeak) are created once and shared by all jobs.

A LiveKit worker reuses `run_agent_job` unchanged, over
`autortc.transport.livekit_room.LiveKitRoomConnection.from_room(ctx.room)`.
"""

from __future__ import annotations

import asyncio
import logging

from agent.session import AgentEngines, AgentOptions, run_agent_job
from autortc.gc_pauses import guard_real_time_process
from autortc.transport.local import LocalTransport
from autortc.transport.local_worker import JobRequest

logger = logging.getLogger(__name__)

READY_LINE = "AUTORTC_AGENT_READY agent_name={agent_name}"


def agent_identity(job_id: str) -> str:
    return f"agent-{job_id[:8]}"


async def serve_job(
    transport: LocalTransport, job: JobRequest, *, engines: AgentEngines, options: AgentOptions
) -> None:
    """One job: join the room and run the agent. Errors are logged, never raised."""
    extra = {"job_id": job.job_id, "room": job.room}
    try:
        conn = await transport.connect(job.room, agent_identity(job.job_id), role="agent")
        await run_agent_job(conn, engines=engines, options=options, metadata=job.metadata or None)
    except Exception:
        logger.exception("agent job failed", extra=extra)


async def run_local_worker(
    url: str, *, agent_name: str, options: AgentOptions, own_process: bool = True
) -> None:
    """Serve jobs until the server goes away or the task is cancelled.

    `own_process`: the worker owns its process, so it freezes the start-up heap (no
    170 ms gen-2 GC pause mid-reply); a test that runs it inside pytest says False."""
    engines = AgentEngines.create(options)
    if own_process:
        frozen = guard_real_time_process()
        logger.info("start-up heap frozen", extra={"objects": frozen})
    transport = LocalTransport(url)
    try:
        async with transport.register_worker(agent_name) as jobs:
            print(READY_LINE.format(agent_name=agent_name), flush=True)
            logger.info("agent worker registered", extra={"agent_name": agent_name, "url": url})
            async with asyncio.TaskGroup() as tg:
                async for job in jobs:
                    logger.info("job received", extra={"job_id": job.job_id, "room": job.room})
                    tg.create_task(
                        serve_job(transport, job, engines=engines, options=options),
                        name=f"agent-job-{job.job_id}",
                    )
            logger.info("worker registration ended")
    finally:
        await transport.aclose()
