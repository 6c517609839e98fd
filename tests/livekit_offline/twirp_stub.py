"""A local Twirp (protobuf over HTTP) stand-in for livekit-server's server API.

It decodes each request body with the livekit.protocol classes, verifies the
`Authorization: Bearer` token with api.TokenVerifier, records what it saw, and
answers with protobuf. `mode` selects the failure to simulate:
"ok", "unauthenticated" (401 Twirp JSON), "not_a_livekit_server" (plain 404 for
every path) and "hang" (never answers).
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from livekit import api

REQUEST_TYPES: dict[str, tuple[type, type]] = {
    "/twirp/livekit.RoomService/CreateRoom": (api.CreateRoomRequest, api.Room),
    "/twirp/livekit.RoomService/ListRooms": (api.ListRoomsRequest, api.ListRoomsResponse),
    "/twirp/livekit.RoomService/DeleteRoom": (api.DeleteRoomRequest, api.DeleteRoomResponse),
    "/twirp/livekit.AgentDispatchService/CreateDispatch": (
        api.CreateAgentDispatchRequest,
        api.AgentDispatch,
    ),
    "/twirp/livekit.AgentDispatchService/ListDispatch": (
        api.ListAgentDispatchRequest,
        api.ListAgentDispatchResponse,
    ),
    "/twirp/livekit.AgentDispatchService/DeleteDispatch": (
        api.DeleteAgentDispatchRequest,
        api.AgentDispatch,
    ),
    "/twirp/livekit.RoomService/ListParticipants": (
        api.ListParticipantsRequest,
        api.ListParticipantsResponse,
    ),
}


@dataclass
class Seen:
    path: str
    body: Any
    claims: api.access_token.Claims
    content_type: str


@dataclass
class TwirpStub:
    api_key: str
    api_secret: str
    mode: str = "ok"
    rooms: dict[str, api.Room] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    fail_paths: set[str] = field(default_factory=set)
    # dispatches as livekit-server keeps them: a dispatch before the `assign_from`-th is
    # refused (no worker available: no job, nobody joins); from it on, a job is assigned
    # and an agent participant joins the room
    assign_from: int = 1
    dispatches: dict[str, api.AgentDispatch] = field(default_factory=dict)
    made: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> TwirpStub:
        app = web.Application()
        app.router.add_get("/", self._root)
        app.router.add_post("/twirp/{service}/{method}", self._twirp)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self._release.set()  # let "hang" handlers return so shutdown is immediate
        if self._runner is not None:
            await self._runner.cleanup()

    def calls(self, path_suffix: str) -> list[Seen]:
        return [s for s in self.seen if s.path.endswith(path_suffix)]

    async def _root(self, request: web.Request) -> web.Response:
        if self.mode == "hang":
            await self._release.wait()
        if self.mode == "not_a_livekit_server":
            return web.Response(status=404, text="404 page not found")
        return web.Response(text="OK")

    async def _twirp(self, request: web.Request) -> web.Response:
        if self.mode == "hang":
            await self._release.wait()
        if self.mode == "not_a_livekit_server" or request.path not in REQUEST_TYPES:
            return web.Response(status=404, text="404 page not found")
        auth = request.headers.get("Authorization", "")
        assert auth.startswith("Bearer "), "Twirp call without a bearer token"
        claims = api.TokenVerifier(self.api_key, self.api_secret).verify(
            auth.removeprefix("Bearer ")
        )
        req_cls, resp_cls = REQUEST_TYPES[request.path]
        body = req_cls.FromString(await request.read())
        self.seen.append(Seen(request.path, body, claims, request.headers.get("Content-Type", "")))
        if self.mode == "unauthenticated":
            return _twirp_error(401, "unauthenticated", "invalid API key: APIwrong")
        if request.path in self.fail_paths:
            return _twirp_error(400, "invalid_argument", "agent dispatch refused by stub")
        return web.Response(
            body=self._answer(request.path, body, resp_cls).SerializeToString(),
            content_type="application/protobuf",
        )

    def _answer(self, path: str, body: Any, resp_cls: type) -> Any:
        if path.endswith("/CreateRoom"):
            room = api.Room(
                name=body.name,
                metadata=body.metadata,
                empty_timeout=body.empty_timeout,
                max_participants=body.max_participants,
            )
            self.rooms[body.name] = room
            return room
        if path.endswith("/ListRooms"):
            return api.ListRoomsResponse(rooms=list(self.rooms.values()))
        if path.endswith("/DeleteRoom"):
            if body.room not in self.rooms:
                raise web.HTTPNotFound(
                    text=json.dumps({"code": "not_found", "msg": "requested room does not exist"}),
                    content_type="application/json",
                )
            del self.rooms[body.room]
            return api.DeleteRoomResponse()
        if path.endswith("/ListParticipants"):
            joined = any(len(d.state.jobs) for d in self.dispatches.values() if d.room == body.room)
            agent = api.ParticipantInfo(identity="agent-1", kind=api.ParticipantInfo.AGENT)
            return api.ListParticipantsResponse(participants=[agent] if joined else [])
        if path.endswith("/ListDispatch"):
            mine = [d for d in self.dispatches.values() if d.room == body.room]
            return api.ListAgentDispatchResponse(agent_dispatches=mine)
        if path.endswith("/DeleteDispatch"):
            return self.dispatches.pop(body.dispatch_id, api.AgentDispatch())
        self.made += 1
        dispatch = api.AgentDispatch(
            id=f"AD_stub{self.made}",
            agent_name=body.agent_name,
            room=body.room,
            metadata=body.metadata,
        )
        if self.made >= self.assign_from:
            dispatch.state.jobs.append(
                api.Job(id=f"AJ_{self.made}", room=self.rooms.get(body.room))
            )
        self.dispatches[dispatch.id] = dispatch
        return dispatch


def _twirp_error(status: int, code: str, msg: str) -> web.Response:
    return web.Response(
        status=status, text=json.dumps({"code": code, "msg": msg}), content_type="application/json"
    )


def refused_url() -> str:
    """A ws:// URL on a local port that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"ws://127.0.0.1:{port}"
