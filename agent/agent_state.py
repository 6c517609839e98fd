"""The agent's state as participant attributes, as livekit-agents publishes it.

livekit-agents' RoomIO sets `lk.agent.state` (initializing, listening, thinking,
speaking) on the agent's participant; clients (the LiveKit playground, a frontend's
`useVoiceAssistant`) read it. The reference agent drives its own I/O, so it publishes
the attribute itself from the duplex controller's states (agent/duplex_driver.py
`LK_AGENT_STATE`), plus `autortc.duplex_state` with the controller's own state
(INTERRUPTING included). Updates go out in order, one at a time, never blocking the
caller; an unchanged state sends nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Protocol

from agent.duplex import DuplexState
from agent.duplex_driver import AGENT_STATE_ATTRIBUTE, DUPLEX_STATE_ATTRIBUTE, LK_AGENT_STATE

logger = logging.getLogger(__name__)


class AttributeSink(Protocol):
    async def set_attributes(self, attributes: Mapping[str, str]) -> None: ...


class AgentStatePublisher:
    """Publishes state changes as attributes through `sink` (a RoomConnection)."""

    def __init__(self, sink: AttributeSink) -> None:
        self._sink = sink
        self._queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self._current: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self.sent: list[dict[str, str]] = []

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="agent-state-attributes")

    def initializing(self) -> None:
        self._put({AGENT_STATE_ATTRIBUTE: "initializing"})

    def on_state(self, state: DuplexState) -> None:
        self._put({AGENT_STATE_ATTRIBUTE: LK_AGENT_STATE[state], DUPLEX_STATE_ATTRIBUTE: state})

    def _put(self, attrs: dict[str, str]) -> None:
        changed = {k: str(v) for k, v in attrs.items() if self._current.get(k) != str(v)}
        if changed:
            self._current.update(changed)
            self._queue.put_nowait(changed)

    async def _run(self) -> None:
        while True:
            attrs = await self._queue.get()
            try:
                await self._sink.set_attributes(attrs)
                self.sent.append(attrs)
            except Exception as e:  # a closed room: the state no longer matters
                logger.info("agent state not published", extra={"error": str(e)})
            finally:
                self._queue.task_done()

    async def aclose(self) -> None:
        """Send what is queued (briefly), then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
