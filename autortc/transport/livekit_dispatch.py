"""A refused agent dispatch, retried at once (issue 11, "no dispatch race").

livekit-server hands a dispatch's job only to a worker whose last status update said
WS_AVAILABLE (`AgentHandler.JobRequestAffinity`, pkg/service/agentservice.go). When
none has, `agentClient.LaunchJob` (pkg/agent/client.go) logs "failed to send job
request" and drops the job: the dispatch stays, with no job in its state, and nothing
retries it. A worker reports its status every 2.5 s (livekit-agents
`UPDATE_STATUS_INTERVAL`), so a worker that was full while the previous room's job
was ending can refuse a dispatch sent right after it: before this guard, the attempt
then waited out the whole barrier timeout as AGENT_NOT_JOINED.

The guard polls the room once per `poll_s`: when, `redispatch_after_s` after a
dispatch, no agent participant is in the room and the dispatch lists no job, the
dispatch is deleted and created again. It stops once an agent has joined, the room or
the dispatch is gone, or after `max_redispatches`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal, Protocol

logger = logging.getLogger(__name__)

Step = Literal["done", "wait", "redispatch"]
REDISPATCH_AFTER_S = 2.0  # a dispatch that goes through is assigned within ~150 ms
POLL_S = 0.5
MAX_REDISPATCHES = 30


def dispatch_step(
    *,
    agent_present: bool,
    dispatch_exists: bool,
    jobs: int,
    waited_s: float,
    redispatch_after_s: float = REDISPATCH_AFTER_S,
) -> Step:
    """What to do now (pure). `jobs`: the jobs the server assigned for the dispatch;
    `waited_s`: time since the dispatch was (re)created."""
    if agent_present or not dispatch_exists:
        return "done"
    if jobs > 0 or waited_s < redispatch_after_s:
        return "wait"
    return "redispatch"


class DispatchApi(Protocol):
    """The few server calls the guard needs (LiveKitTransport implements them)."""

    async def agent_in_room(self, room: str) -> bool | None:
        """Whether a participant of kind AGENT is in the room; None: the room is gone."""
        ...

    async def dispatch_jobs(self, room: str, dispatch_id: str) -> int | None:
        """How many jobs the server has assigned for the dispatch (in any state: one
        that was assigned was not refused); None: no such dispatch."""
        ...

    async def create_dispatch(self, room: str, *, agent_name: str, metadata: str) -> str: ...

    async def delete_dispatch(self, room: str, dispatch_id: str) -> None: ...


@dataclass
class DispatchGuard:
    api: DispatchApi
    room: str
    agent_name: str
    metadata: str
    dispatch_id: str
    poll_s: float = POLL_S
    redispatch_after_s: float = REDISPATCH_AFTER_S
    max_redispatches: int = MAX_REDISPATCHES
    redispatches: int = 0

    async def run(self) -> None:
        """Poll until done. Errors of the server API end the guard quietly: the
        attempt's own deadlines (agent join, barrier) still hold."""
        loop = asyncio.get_running_loop()
        since = loop.time()
        try:
            while self.redispatches <= self.max_redispatches:
                await asyncio.sleep(self.poll_s)
                present = await self.api.agent_in_room(self.room)
                jobs = await self.api.dispatch_jobs(self.room, self.dispatch_id)
                step = dispatch_step(
                    agent_present=present is None or present,
                    dispatch_exists=jobs is not None,
                    jobs=jobs or 0,
                    waited_s=loop.time() - since,
                    redispatch_after_s=self.redispatch_after_s,
                )
                if step == "done":
                    return
                if step == "redispatch":
                    await self._redispatch()
                    since = loop.time()
        except Exception as exc:  # the guard is best effort; never the attempt's outcome
            logger.warning("dispatch guard stopped", extra={"room": self.room, "error": str(exc)})

    async def _redispatch(self) -> None:
        await self.api.delete_dispatch(self.room, self.dispatch_id)
        self.dispatch_id = await self.api.create_dispatch(
            self.room, agent_name=self.agent_name, metadata=self.metadata
        )
        self.redispatches += 1
        logger.warning(
            "agent dispatch found no available worker; dispatched again",
            extra={"room": self.room, "agent_name": self.agent_name, "n": self.redispatches},
        )
