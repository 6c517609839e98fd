"""The rooms API over Twirp, checked against a local protobuf stub (no LiveKit server)."""

from __future__ import annotations

import time

import pytest

from autortc.errors import TransportError
from autortc.transport.livekit import LiveKitTransport

from .conftest import KEY, SECRET
from .twirp_stub import TwirpStub, refused_url

META = '{"autortc": {"v": 1, "trace_id": "t1"}}'


def _transport(url: str, **options: float) -> LiveKitTransport:
    return LiveKitTransport(url=url, api_key=KEY, api_secret=SECRET, **options)


def _one_sentence(text: str) -> None:
    assert text.endswith((".", "?")), text
    assert "\n" not in text
    assert "Traceback" not in text
    assert SECRET not in text
    assert "eyJ" not in text


async def test_create_room_sends_metadata_timeouts_and_an_explicit_dispatch(
    stub: TwirpStub,
) -> None:
    transport = _transport(stub.url)
    try:
        await transport.create_room(
            "autortc-c1-abc123-a1",
            metadata=META,
            agent_name="ref-agent",
            empty_timeout_s=45,
            max_participants=3,
        )
    finally:
        await transport.aclose()
    (create,) = stub.calls("/twirp/livekit.RoomService/CreateRoom")
    assert create.content_type == "application/protobuf"
    assert (create.body.name, create.body.metadata) == ("autortc-c1-abc123-a1", META)
    assert (create.body.empty_timeout, create.body.max_participants) == (45, 3)
    assert create.claims.video is not None
    assert create.claims.video.room_create is True
    (dispatch,) = stub.calls("/twirp/livekit.AgentDispatchService/CreateDispatch")
    assert (dispatch.body.agent_name, dispatch.body.room, dispatch.body.metadata) == (
        "ref-agent",
        "autortc-c1-abc123-a1",
        META,
    )
    assert dispatch.claims.video is not None
    assert dispatch.claims.video.room_admin is True
    assert dispatch.claims.video.room == "autortc-c1-abc123-a1"


async def test_create_room_without_agent_sends_no_dispatch(stub: TwirpStub) -> None:
    transport = _transport(stub.url)
    try:
        await transport.create_room("autortc-x", metadata=META)
    finally:
        await transport.aclose()
    assert stub.calls("/CreateDispatch") == []


async def test_failed_dispatch_deletes_the_room_and_raises(stub: TwirpStub) -> None:
    stub.fail_paths.add("/twirp/livekit.AgentDispatchService/CreateDispatch")
    transport = _transport(stub.url)
    try:
        with pytest.raises(TransportError, match="CreateDispatch") as info:
            await transport.create_room("autortc-y", metadata=META, agent_name="ref-agent")
    finally:
        await transport.aclose()
    _one_sentence(str(info.value))
    assert "autortc-y" not in stub.rooms
    assert len(stub.calls("/DeleteRoom")) == 1


async def test_list_rooms_filters_by_prefix_with_a_room_list_token(stub: TwirpStub) -> None:
    transport = _transport(stub.url)
    try:
        for name in ("autortc-b", "other-a", "autortc-a"):
            await transport.create_room(name, metadata="{}")
        assert await transport.list_rooms("autortc-") == ["autortc-a", "autortc-b"]
        assert await transport.list_rooms() == ["autortc-a", "autortc-b", "other-a"]
    finally:
        await transport.aclose()
    listing = stub.calls("/ListRooms")[0]
    assert listing.claims.video is not None
    assert listing.claims.video.room_list is True


async def test_delete_room_deletes_and_a_missing_room_counts_as_deleted(stub: TwirpStub) -> None:
    transport = _transport(stub.url)
    try:
        await transport.create_room("autortc-z", metadata="{}")
        await transport.delete_room("autortc-z")
        assert stub.rooms == {}
        await transport.delete_room("autortc-z")  # server answers 404 not_found: fine
    finally:
        await transport.aclose()
    assert [c.body.room for c in stub.calls("/DeleteRoom")] == ["autortc-z", "autortc-z"]


async def test_401_names_the_rejected_credentials_in_one_sentence(stub: TwirpStub) -> None:
    stub.mode = "unauthenticated"
    transport = _transport(stub.url)
    try:
        with pytest.raises(TransportError) as info:
            await transport.list_rooms()
    finally:
        await transport.aclose()
    text = str(info.value)
    assert text.startswith(f"LIVEKIT_API_KEY/SECRET rejected by {stub.url}:")
    assert "invalid API key" in text
    _one_sentence(text)


async def test_404_from_something_that_is_not_livekit_is_a_clear_error(stub: TwirpStub) -> None:
    stub.mode = "not_a_livekit_server"
    transport = _transport(stub.url)
    try:
        with pytest.raises(TransportError) as info:
            await transport.create_room("autortc-q", metadata="{}")
        with pytest.raises(TransportError, match="404"):
            await transport.delete_room("autortc-q")  # a plain 404 is not "room not found"
    finally:
        await transport.aclose()
    text = str(info.value)
    assert "404" in text
    assert "LIVEKIT_URL" in text
    _one_sentence(text)


async def test_connection_refused_is_one_sentence_and_fast() -> None:
    url = refused_url()
    transport = _transport(url)
    t0 = time.monotonic()
    try:
        with pytest.raises(TransportError) as info:
            await transport.list_rooms()
    finally:
        await transport.aclose()
    assert time.monotonic() - t0 < 2.0
    text = str(info.value)
    assert text.startswith(f"Cannot reach LiveKit at {url}: connection refused")
    _one_sentence(text)


async def test_a_server_that_never_answers_times_out_as_a_transport_error(stub: TwirpStub) -> None:
    stub.mode = "hang"
    transport = _transport(stub.url, api_timeout_s=0.5)
    t0 = time.monotonic()
    try:
        with pytest.raises(TransportError, match="no answer"):
            await transport.list_rooms()
    finally:
        await transport.aclose()
    assert time.monotonic() - t0 < 2.0


async def test_transport_aclose_is_idempotent_and_refuses_later_calls(stub: TwirpStub) -> None:
    transport = _transport(stub.url)
    await transport.list_rooms()
    await transport.aclose()
    await transport.aclose()
    with pytest.raises(TransportError, match="closed"):
        await transport.list_rooms()


@pytest.mark.realtime  # a real HTTP stub: the guard's polls run in real time (~2.5 s)
async def test_a_refused_dispatch_is_sent_again_through_the_server_api(stub: TwirpStub) -> None:
    """The dispatch guard (livekit_dispatch.py) over the real LiveKitTransport and Twirp:
    the first dispatch is refused (no job, no agent), so it is deleted and created again,
    and the second is taken; the count survives the room's deletion."""
    import asyncio

    stub.assign_from = 2
    t = _transport(stub.url)
    try:
        await t.create_room("r1", metadata=META, agent_name="agent-x")
        for _ in range(60):
            await asyncio.sleep(0.1)
            if t.redispatches("r1"):
                break
        assert t.redispatches("r1") == 1
        assert [c.body.dispatch_id for c in stub.calls("/DeleteDispatch")] == ["AD_stub1"]
        assert [d.id for d in stub.dispatches.values()] == ["AD_stub2"]
        assert await t.agent_in_room("r1") is True
        await t.delete_room("r1")
        assert t.redispatches("r1") == 1
    finally:
        await t.aclose()


async def test_a_dispatch_that_is_taken_is_never_sent_again(stub: TwirpStub) -> None:
    t = _transport(stub.url)
    try:
        await t.create_room("r1", metadata=META, agent_name="agent-x")
        assert await t.dispatch_jobs("r1", "AD_stub1") == 1
        assert await t.agent_in_room("r1") is True
        assert await t.dispatch_jobs("r1", "AD_nope") is None
        await t.delete_room("r1")
        assert t.redispatches("r1") == 0
        assert stub.calls("/DeleteDispatch") == []
    finally:
        await t.aclose()
