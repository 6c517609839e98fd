"""LiveKitRoomConnection's participant attributes, driven without a server.

As in test_livekit_room_offline.py, emitting the SDK's documented events on an
unconnected `rtc.Room` drives our handlers as its listen task would. The room's
`participant_attributes_changed` carries `(changed_attributes, participant)`, and the
SDK reports the local participant's own changes too (room.py, `_on_room_event`).
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt
import pytest
from livekit import rtc

from autortc.errors import TransportError, UsageError
from autortc.transport.livekit import LiveKitTransport
from autortc.transport.livekit_room import LiveKitRoomConnection

KEY = "APIofflinekey"
SECRET = "offline-secret-0123456789abcdefghijklmnop"


@dataclass
class FakeParticipant:
    identity: str
    kind: int = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT


class FakeLocalParticipant(rtc.LocalParticipant):
    """The SDK's local participant type with no FFI handle behind it."""

    def __init__(self, identity: str) -> None:  # no super().__init__: no FFI handle
        self._fake_identity = identity

    @property
    def identity(self) -> str:
        return self._fake_identity

    @property
    def kind(self) -> int:
        return rtc.ParticipantKind.PARTICIPANT_KIND_AGENT


async def test_remote_attribute_changes_become_events_and_own_or_empty_ones_do_not() -> None:
    room = rtc.Room()
    conn = LiveKitRoomConnection(room, role="probe", owns_room=True)
    own = FakeLocalParticipant("autortc-probe")
    room.emit("participant_attributes_changed", {"lk.agent.state": "listening"}, own)
    room.emit("participant_attributes_changed", {}, FakeParticipant("my-agent"))  # no change
    room.emit(
        "participant_attributes_changed",
        {"lk.agent.state": "thinking", "gone": ""},
        FakeParticipant("my-agent"),
    )
    await conn.aclose()
    events = [e async for e in conn.participant_events()]
    assert [(e.kind, e.identity, e.is_agent, dict(e.changed_attributes)) for e in events] == [
        ("attributes_changed", "my-agent", True, {"lk.agent.state": "thinking", "gone": ""})
    ]


async def test_set_attributes_refuses_bad_input_and_roles_without_the_grant() -> None:
    agent = LiveKitRoomConnection(rtc.Room(), role="agent", owns_room=True)
    probe = LiveKitRoomConnection(rtc.Room(), role="probe", owns_room=True)
    with pytest.raises(UsageError, match="not a str"):
        await agent.set_attributes({"lk.agent.state": None})  # type: ignore[dict-item]
    with pytest.raises(UsageError, match="over LiveKit's limit"):
        await agent.set_attributes({"k": "x" * 64_000})
    with pytest.raises(TransportError, match="canUpdateOwnMetadata"):
        await probe.set_attributes({"lk.agent.state": "listening"})
    with pytest.raises(TransportError, match="closed"):  # never connected
        await agent.set_attributes({"lk.agent.state": "listening"})
    assert agent.attributes("my-agent") == {}  # a room never connected knows no one
    await agent.aclose()
    await probe.aclose()


def test_only_the_agent_token_may_update_its_own_metadata() -> None:
    transport = LiveKitTransport(url="ws://127.0.0.1:7880", api_key=KEY, api_secret=SECRET)
    room = "autortc-case1-abc123-a1"
    grants = {
        role: jwt.decode(
            transport.token_for(room, f"id-{role}", role=role),
            SECRET,
            algorithms=["HS256"],
            issuer=KEY,
        )["video"]
        for role in ("agent", "user", "probe", "admin")
    }
    assert grants["agent"]["canUpdateOwnMetadata"] is True
    assert all("canUpdateOwnMetadata" not in grants[r] for r in ("user", "probe", "admin"))
