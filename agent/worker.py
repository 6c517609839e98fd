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
import sys

from agent.job_pool import JOB_DONE, JOB_READY, JobProcessPool, parse_job
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
    url: str,
    *,
    agent_name: str,
    options: AgentOptions,
    own_process: bool = True,
    pool: JobProcessPool | None = None,
) -> None:
    """Serve jobs until the server goes away or the task is cancelled.

    `own_process`: the worker owns its process, so it freezes the start-up heap (no
    170 ms gen-2 GC pause mid-reply); a test that runs it inside pytest says False.
    `pool`: serve each job in a warm job process of its own (job_pool.py) instead of
    as a task here."""
    engines = None if pool is not None else AgentEngines.create(options)
    if own_process:
        frozen = guard_real_time_process()
        logger.info("start-up heap frozen", extra={"objects": frozen})
    transport = LocalTransport(url)
    try:
        if pool is not None:
            await pool.start()
        async with transport.register_worker(agent_name) as jobs:
            print(READY_LINE.format(agent_name=agent_name), flush=True)
            logger.info("agent worker registered", extra={"agent_name": agent_name, "url": url})
            async with asyncio.TaskGroup() as tg:
                async for job in jobs:
                    logger.info("job received", extra={"job_id": job.job_id, "room": job.room})
                    work = (
                        pool.run(job)
                        if pool is not None
                        else serve_job(transport, job, engines=engines, options=options)  # type: ignore[arg-type]
                    )
                    tg.create_task(work, name=f"agent-job-{job.job_id}")
            logger.info("worker registration ended")
    finally:
        if pool is not None:
            await pool.aclose()
        await transport.aclose()


async def run_local_job(url: str, *, options: AgentOptions) -> None:
    """A job process (job_pool.py): warm up, say so, then serve the jobs sent on stdin
    one at a time, saying when each is done; end when stdin closes."""
    engines = AgentEngines.create(options)
    guard_real_time_process()
    transport = LocalTransport(url)
    print(JOB_READY, flush=True)
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            if not line.strip():
                continue
            job = parse_job(line)
            await serve_job(transport, job, engines=engines, options=options)
            print(f"{JOB_DONE} {job.job_id}", flush=True)
    finally:
        await transport.aclose()
