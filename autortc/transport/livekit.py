"""The `livekit` transport: real LiveKit rooms through the official SDKs.

Room administration goes through the server API (`livekit.api.LiveKitAPI`, Twirp
over HTTP: RoomService and AgentDispatchService). Participants connect with
`livekit.rtc.Room` and a token scoped to one room with only their role's grants
(livekit_tokens.py). Every API failure becomes a `TransportError` whose message is
one sentence with the secret and any token redacted.

    transport = LiveKitTransport.from_env()      # LIVEKIT_URL / _API_KEY / _API_SECRET
    await transport.create_room(name, metadata=meta, agent_name="my-agent")
    conn = await transport.connect(name, "autortc-probe", role="probe")
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
from livekit import api, rtc

from autortc.errors import TransportError, UsageError
from autortc.network.room import RoomNetwork
from autortc.transport.attributes import ATTRIBUTE_ROLES
from autortc.transport.base import Role
from autortc.transport.livekit_config import (
    ENV_API_KEY,
    ENV_API_SECRET,
    ENV_URL,
    LiveKitCredentials,
    http_url,
    redact,
    ws_url,
)
from autortc.transport.livekit_dispatch import DispatchGuard
from autortc.transport.livekit_room import LiveKitRoomConnection
from autortc.transport.livekit_tokens import participant_token, role_grants

__all__ = ["LiveKitRoomConnection", "LiveKitTransport", "api_error_sentence", "redact"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TOKEN_TTL_S = 600.0
DEFAULT_API_TIMEOUT_S = 10.0
DEFAULT_CONNECT_TIMEOUT_S = 10.0


def api_error_sentence(exc: BaseException, *, url: str, action: str, timeout_s: float) -> str:
    """One clear sentence for a failed server-API call (no secret: callers redact)."""
    if isinstance(exc, api.TwirpError):
        detail = exc.message or exc.code
        if exc.status == 401 or exc.code == api.TwirpErrorCode.UNAUTHENTICATED:
            return f"{ENV_API_KEY}/SECRET rejected by {url}: {detail}."
        if exc.status == 403 or exc.code == api.TwirpErrorCode.PERMISSION_DENIED:
            return f"{action} was refused by {url}: the API token lacks a grant ({detail})."
        if exc.status == 404:
            said = f" ({exc.message})" if exc.message else ""
            return (
                f"{action} failed: {url} answered 404{said}; "
                f"check that {ENV_URL} points at a LiveKit server."
            )
        if exc.code == api.TwirpErrorCode.UNKNOWN and not exc.message:
            return (
                f"{action} failed: {url} answered HTTP {exc.status}, not a LiveKit answer; "
                f"check that {ENV_URL} points at a LiveKit server."
            )
        return f"{action} failed: {url} answered HTTP {exc.status} ({exc.code}: {exc.message})."
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return (
                f"Cannot reach LiveKit at {url}: connection refused; "
                "is livekit-server running there (e.g. `livekit-server --dev --bind 127.0.0.1`)?"
            )
        return f"Cannot reach LiveKit at {url}: {exc.os_error}."
    if isinstance(exc, TimeoutError):
        return f"{action} got no answer from {url} within {timeout_s:g} s."
    if isinstance(exc, aiohttp.ClientError):
        return f"{action} failed talking to {url}: {type(exc).__name__}: {exc}."
    return f"{action} failed against {url}: {type(exc).__name__}: {exc}."


class LiveKitTransport:
    """Transport over a real LiveKit server (rooms API + rtc participants)."""

    name = "livekit"

    def __init__(
        self,
        *,
        url: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        token_ttl_s: float = DEFAULT_TOKEN_TTL_S,
        api_timeout_s: float = DEFAULT_API_TIMEOUT_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    ) -> None:
        """Arguments left as None are read from LIVEKIT_URL / _API_KEY / _API_SECRET.

        `token_ttl_s` caps every participant token; pass the case timeout.
        """
        if url is None or api_key is None or api_secret is None:
            env = LiveKitCredentials.from_env(
                {
                    ENV_URL: url or _env(ENV_URL),
                    ENV_API_KEY: api_key or _env(ENV_API_KEY),
                    ENV_API_SECRET: api_secret or _env(ENV_API_SECRET),
                }
            )
            url, api_key, api_secret = env.url, env.api_key, env.api_secret
        self._creds = LiveKitCredentials(url=url, api_key=api_key, api_secret=api_secret)
        self.token_ttl_s = float(token_ttl_s)
        self.api_timeout_s = float(api_timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self._api: api.LiveKitAPI | None = None
        self._connections: set[LiveKitRoomConnection] = set()
        self._guards: dict[str, tuple[DispatchGuard, asyncio.Task[None]]] = {}
        self._redispatches: dict[str, int] = {}
        self._closed = False

    @classmethod
    def from_env(cls, **options: float) -> LiveKitTransport:
        """Read LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET; a missing one is an
        InputError naming it. `options` are the keyword options of `__init__`."""
        creds = LiveKitCredentials.from_env()
        return cls(url=creds.url, api_key=creds.api_key, api_secret=creds.api_secret, **options)

    @property
    def url(self) -> str:
        return self._creds.url

    @property
    def api_key(self) -> str:
        return self._creds.api_key

    def redact(self, text: str) -> str:
        return self._creds.redact(text)

    def __repr__(self) -> str:
        return (
            f"LiveKitTransport(url={self.url!r}, api_key={self.api_key!r}, api_secret='[REDACTED]')"
        )

    # --- server API -----------------------------------------------------------
    def _lkapi(self) -> api.LiveKitAPI:
        if self._closed:
            raise TransportError("the LiveKit transport is closed.")
        if self._api is None:  # created lazily: aiohttp wants a running loop
            self._api = api.LiveKitAPI(
                url=http_url(self.url),
                api_key=self._creds.api_key,
                api_secret=self._creds.api_secret,
                timeout=aiohttp.ClientTimeout(total=self.api_timeout_s),
                failover=False,  # one server, one attempt: failures surface at once
            )
        return self._api

    async def _call(
        self,
        action: str,
        call: Callable[[api.LiveKitAPI], Awaitable[T]],
        *,
        ok_codes: frozenset[str] = frozenset(),
    ) -> T | None:
        """Run one API call under the API timeout; failures become a TransportError
        with one redacted sentence. A Twirp error whose code is in `ok_codes` returns None."""
        lkapi = self._lkapi()
        try:
            async with asyncio.timeout(self.api_timeout_s):
                return await call(lkapi)
        except api.TwirpError as exc:
            if exc.code in ok_codes:
                return None
            error: BaseException = exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = exc
        sentence = api_error_sentence(
            error, url=self.url, action=action, timeout_s=self.api_timeout_s
        )
        raise TransportError(self.redact(sentence)) from None

    async def create_room(
        self,
        room: str,
        *,
        metadata: str,
        agent_name: str | None = None,
        empty_timeout_s: int = 60,
        max_participants: int = 4,
        network: RoomNetwork | None = None,
    ) -> None:
        """Create the room; with `agent_name`, also an explicit agent dispatch carrying
        the same metadata. If the dispatch fails the room is deleted again."""
        if network is not None:
            raise UsageError("a simulated network is for the embedded transport only")
        request = api.CreateRoomRequest(
            name=room,
            metadata=metadata,
            empty_timeout=int(empty_timeout_s),
            max_participants=int(max_participants),
        )
        await self._call(f"CreateRoom {room!r}", lambda a: a.room.create_room(request))
        logger.info("livekit room created", extra={"room": room})
        if agent_name is None:
            return
        try:
            dispatch_id = await self.create_dispatch(room, agent_name=agent_name, metadata=metadata)
        except TransportError:
            await self._delete_quietly(room)
            raise
        guard = DispatchGuard(self, room, agent_name, metadata, dispatch_id)
        self._guards[room] = (guard, asyncio.create_task(guard.run(), name=f"dispatch.{room}"))

    def redispatches(self, room: str) -> int:
        """How often the room's dispatch was refused (no worker available) and sent
        again (livekit_dispatch.py)."""
        if room in self._guards:
            return self._guards[room][0].redispatches
        return self._redispatches.get(room, 0)

    async def _stop_guard(self, room: str) -> None:
        entry = self._guards.pop(room, None)
        if entry is None:
            return
        guard, task = entry
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._redispatches[room] = guard.redispatches

    async def agent_in_room(self, room: str) -> bool | None:
        """Whether a participant of kind AGENT is in the room; None: no such room."""
        request = api.ListParticipantsRequest(room=room)
        response = await self._call(
            f"ListParticipants {room!r}",
            lambda a: a.room.list_participants(request),
            ok_codes=frozenset({api.TwirpErrorCode.NOT_FOUND}),
        )
        if response is None:
            return None
        return any(p.kind == api.ParticipantInfo.AGENT for p in response.participants)

    async def dispatch_jobs(self, room: str, dispatch_id: str) -> int | None:
        """The jobs the server assigned for the dispatch; None: no such dispatch."""
        dispatches = await self._call(
            f"ListDispatch {room!r}",
            lambda a: a.agent_dispatch.list_dispatch(room),
            ok_codes=frozenset({api.TwirpErrorCode.NOT_FOUND}),
        )
        for d in dispatches or []:
            if d.id == dispatch_id:
                return len(d.state.jobs)
        return None

    async def delete_dispatch(self, room: str, dispatch_id: str) -> None:
        await self._call(
            f"DeleteDispatch {dispatch_id!r} in {room!r}",
            lambda a: a.agent_dispatch.delete_dispatch(dispatch_id, room),
            ok_codes=frozenset({api.TwirpErrorCode.NOT_FOUND}),
        )

    async def create_dispatch(self, room: str, *, agent_name: str, metadata: str) -> str:
        """Explicitly dispatch `agent_name` to `room`; returns the dispatch id."""
        request = api.CreateAgentDispatchRequest(
            agent_name=agent_name, room=room, metadata=metadata
        )
        dispatch = await self._call(
            f"CreateDispatch of agent {agent_name!r} to {room!r}",
            lambda a: a.agent_dispatch.create_dispatch(request),
        )
        logger.info("livekit agent dispatched", extra={"room": room, "agent_name": agent_name})
        return dispatch.id if dispatch is not None else ""

    async def delete_room(self, room: str) -> None:
        """Delete the room. A room that no longer exists (404 not_found) counts as deleted."""
        await self._stop_guard(room)
        request = api.DeleteRoomRequest(room=room)
        await self._call(
            f"DeleteRoom {room!r}",
            lambda a: a.room.delete_room(request),
            ok_codes=frozenset({api.TwirpErrorCode.NOT_FOUND}),
        )
        logger.info("livekit room deleted", extra={"room": room})

    async def _delete_quietly(self, room: str) -> None:
        try:
            await self.delete_room(room)
        except TransportError:
            logger.warning("cleanup delete of livekit room failed", extra={"room": room})

    async def list_rooms(self, prefix: str = "") -> list[str]:
        """Names of the active rooms that start with `prefix`, sorted."""
        response = await self._call(
            "ListRooms", lambda a: a.room.list_rooms(api.ListRoomsRequest())
        )
        rooms = response.rooms if response is not None else []
        return sorted(r.name for r in rooms if r.name.startswith(prefix))

    # --- participants ---------------------------------------------------------
    def token_for(self, room: str, identity: str, *, role: Role) -> str:
        """The participant token `connect` uses (exposed for tests and external bots);
        the roles that may set their own attributes also get canUpdateOwnMetadata."""
        return participant_token(
            api_key=self._creds.api_key,
            api_secret=self._creds.api_secret,
            room=room,
            identity=identity,
            role=role,
            ttl_s=self.token_ttl_s,
            can_update_own_metadata=role in ATTRIBUTE_ROLES,
        )

    async def connect(self, room: str, identity: str, *, role: Role) -> LiveKitRoomConnection:
        if self._closed:
            raise TransportError("the LiveKit transport is closed.")
        token = self.token_for(room, identity, role=role)
        rtc_room = rtc.Room()
        conn = LiveKitRoomConnection(rtc_room, role=role, owns_room=True)  # handlers first
        options = rtc.RoomOptions(
            auto_subscribe=role_grants(role).receives_audio,
            connect_timeout=self.connect_timeout_s,
        )
        try:
            async with asyncio.timeout(self.connect_timeout_s + 2.0):
                await rtc_room.connect(ws_url(self.url), token, options)
        except (rtc.ConnectError, TimeoutError) as exc:
            await conn.aclose()
            reason = exc.message if isinstance(exc, rtc.ConnectError) else "timed out"
            raise TransportError(
                self.redact(
                    f"Cannot join LiveKit room {room!r} at {self.url} as {identity!r}: {reason}."
                )
            ) from None
        except BaseException:
            await conn.aclose()
            raise
        self._connections.add(conn)
        logger.info(
            "livekit participant connected",
            extra={"room": room, "identity": identity, "role": role},
        )
        return conn

    async def aclose(self) -> None:
        """Close every connection made here and the API session. Idempotent."""
        if self._closed:
            return
        for room in list(self._guards):
            await self._stop_guard(room)
        self._closed = True
        connections, self._connections = list(self._connections), set()
        for conn in connections:
            await conn.aclose()
        lkapi, self._api = self._api, None
        if lkapi is not None:
            await lkapi.aclose()


def _env(name: str) -> str:
    return os.environ.get(name, "")
