"""Agent dispatch on the local transport, shaped like LiveKit's worker API.

    async with transport.register_worker("my-agent") as jobs:   # registered here
        async for job in jobs:                                  # JobRequest per room
            conn = await transport.connect(job.room, "agent-1", role="agent")

`async for job in transport.register_worker(...)` also works (it registers on the
first iteration). Creating a room with `agent_name="my-agent"` sends one job to
one registered worker (round-robin). The registration ends with `aclose()`, when
the iteration is abandoned, or when the server goes away (the iterator ends).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from types import TracebackType

from autortc.errors import TransportError
from autortc.transport import local_wire as wire

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobRequest:
    room: str
    metadata: str
    agent_name: str
    job_id: str


class WorkerRegistration:
    """An async iterator of JobRequests for one agent name; also an async context manager."""

    def __init__(self, host: str, port: int, agent_name: str, timeout_s: float) -> None:
        self.agent_name = agent_name
        self._host = host
        self._port = port
        self._timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    async def register(self) -> None:
        """Register with the server now (idempotent). Raises TransportError."""
        async with self._lock:
            if self._closed:
                raise TransportError("worker registration is closed")
            if self._writer is not None:
                return
            reader, writer = await wire.open_stream(self._host, self._port, self._timeout_s)
            try:
                writer.write(
                    wire.pack_control({"op": "register_worker", "agent_name": self.agent_name})
                )
                await wire.read_reply(
                    reader, f"register worker '{self.agent_name}'", self._timeout_s
                )
            except BaseException:
                writer.close()
                raise
            self._reader, self._writer = reader, writer

    def __aiter__(self) -> WorkerRegistration:
        return self

    async def __anext__(self) -> JobRequest:
        if self._closed:
            raise StopAsyncIteration
        await self.register()
        assert self._reader is not None
        while True:
            try:
                kind, body = await wire.read_packet(self._reader)
                msg = wire.unpack_control(body) if kind == wire.KIND_CONTROL else {}
            except (asyncio.IncompleteReadError, ConnectionError, wire.WireError):
                logger.info("worker registration ended by the server")
                await self.aclose()
                raise StopAsyncIteration from None
            if msg.get("ev") == "job":
                return JobRequest(
                    room=str(msg.get("room", "")),
                    metadata=str(msg.get("metadata") or ""),
                    agent_name=str(msg.get("agent_name", "")),
                    job_id=str(msg.get("job_id", "")),
                )

    async def __aenter__(self) -> WorkerRegistration:
        await self.register()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Unregister (close the worker connection). Idempotent."""
        self._closed = True
        writer, self._writer = self._writer, None
        if writer is not None:
            await wire.close_writer(writer)
