"""Participant attributes: LiveKit's merge rules (pure) and the embedded server's
handling of bad updates on its wire. The behaviour across transports is in
tests/contract/test_attributes_contract.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from autortc.errors import UsageError, WireError
from autortc.transport import local_wire as wire
from autortc.transport.attributes import (
    MAX_ATTRIBUTES_BYTES,
    attributes_from_wire,
    merge_attributes,
    validate_attributes,
)
from autortc.transport.base import ParticipantEvent
from autortc.transport.local import LocalTransport
from autortc.transport.local_server import LocalRoomServer, serve


@pytest.mark.parametrize(
    ("current", "update", "merged", "changed"),
    [
        ({}, {"a": "1"}, {"a": "1"}, {"a": "1"}),
        ({"a": "1"}, {"b": "2"}, {"a": "1", "b": "2"}, {"b": "2"}),  # others are kept
        ({"a": "1"}, {"a": "2"}, {"a": "2"}, {"a": "2"}),
        ({"a": "1"}, {"a": "1"}, {"a": "1"}, {}),  # the same value: nothing changed
        ({"a": "1", "b": "2"}, {"a": ""}, {"b": "2"}, {"a": ""}),  # "" deletes
        ({"a": "1"}, {"z": ""}, {"a": "1"}, {}),  # deleting an absent key: nothing
        ({"a": "1"}, {}, {"a": "1"}, {}),
    ],
)
def test_merge_follows_livekit_set_attributes(
    current: dict[str, str], update: dict[str, str], merged: dict[str, str], changed: dict[str, str]
) -> None:
    before = dict(current)
    assert merge_attributes(current, update) == (merged, changed)
    assert current == before  # a new dict, the old one untouched


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([("a", "1")], "mapping of str to str, not list"),
        ({"a": 1}, "'a' has a int value"),
        ({"a": None}, "use '' to delete"),
        ({2: "x"}, "key 2 is a int"),
        ({"a": "\ud800"}, "not valid Unicode"),
        ({"k": "x" * MAX_ATTRIBUTES_BYTES}, "over LiveKit's limit of 64000"),
    ],
)
def test_validation_names_what_is_wrong(bad: object, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        validate_attributes(bad)


def test_validation_copies_good_input_and_wire_input_must_be_strings() -> None:
    good = {"lk.agent.state": "listening", "gone": ""}
    assert validate_attributes(good) == good
    assert validate_attributes(good) is not good
    assert attributes_from_wire({"a": "1"}) == {"a": "1"}
    for raw in (None, ["a"], {"a": 1}, {"a": None}):
        with pytest.raises(WireError):
            attributes_from_wire(raw)


@pytest.fixture
async def server() -> AsyncIterator[LocalRoomServer]:
    srv, _port = await serve("127.0.0.1", 0)
    try:
        yield srv
    finally:
        await srv.aclose()


@pytest.mark.realtime
async def test_server_ignores_a_malformed_update_and_keeps_serving(server: LocalRoomServer) -> None:
    transport = LocalTransport(f"local://127.0.0.1:{server.port}")
    try:
        await transport.create_room("attrs", metadata="{}")
        probe = await transport.connect("attrs", "autortc-probe", role="probe")
        agent = await transport.connect("attrs", "agent-1", role="agent")
        events = probe.participant_events()
        for bad in ({"k": 1}, ["k", "v"], "k=v", None):  # straight onto the wire
            agent._writer.write(wire.pack_control({"op": "set_attributes", "attributes": bad}))
        await agent.set_attributes({"k": "v"})
        event: ParticipantEvent | None = None
        async with asyncio.timeout(5):
            async for ev in events:
                if ev.kind == "attributes_changed":
                    event = ev
                    break
        assert event is not None
        assert dict(event.changed_attributes) == {"k": "v"}  # the first change that arrived
        assert probe.attributes("agent-1") == {"k": "v"}
        assert server.rooms["attrs"].peers["agent-1"].attributes == {"k": "v"}
        assert not agent.closed
    finally:
        await transport.aclose()
