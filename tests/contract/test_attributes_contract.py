"""The transport contract for participant attributes (LiveKit's, see attributes.py).

Same fixtures as test_transport_contract.py: every test runs on the in-memory
transport, the embedded local server and (with LIVEKIT_URL) a real livekit-server.
What LiveKit does, read in the SDK and server source: `set_attributes` merges, a key
set to "" is deleted, everyone else gets `participant_attributes_changed` with what
changed ("" for a deleted key) and nothing when nothing changed, and a participant
that joins later reads the attributes from the participant list, with no event.
The agent sets them (it publishes `lk.agent.state`, as livekit-agents does); the probe
and the user watch.
"""

from __future__ import annotations

import asyncio

import pytest

from autortc.errors import TransportError, UsageError
from autortc.transport.attributes import AGENT_STATE_ATTRIBUTE as STATE
from autortc.transport.base import ParticipantEvent, RoomConnection

from .helpers import TransportFactory, collect, stop, until

AGENT = "contract-agent"
PROBE = "autortc-probe"
USER = "autortc-user"
TIMEOUT_S = 10


def changes(events: list[ParticipantEvent], identity: str = AGENT) -> list[dict[str, str]]:
    """The `changed_attributes` of each attributes_changed event about `identity`."""
    return [
        dict(e.changed_attributes)
        for e in events
        if e.kind == "attributes_changed" and e.identity == identity
    ]


async def _agent_and_probe(
    transport_factory: TransportFactory, tag: str
) -> tuple[RoomConnection, RoomConnection]:
    transport = transport_factory.transport
    room = await transport_factory.new_room(tag)
    probe = await transport.connect(room, PROBE, role="probe")
    agent = await transport.connect(room, AGENT, role="agent")
    await until(lambda: AGENT in probe.remote_identities(), timeout_s=TIMEOUT_S, what="agent")
    return agent, probe


async def test_attributes_set_by_the_agent_reach_the_others_with_an_event(
    transport_factory: TransportFactory,
) -> None:
    agent, probe = await _agent_and_probe(transport_factory, "attrs-set")
    events: list[ParticipantEvent] = []
    collector = collect(probe.participant_events(), events, "contract-attrs-events")
    try:
        assert probe.attributes(AGENT) == {}
        await agent.set_attributes({STATE: "initializing"})
        assert agent.attributes(AGENT) == {STATE: "initializing"}  # its own, once set
        await until(
            lambda: changes(events) == [{STATE: "initializing"}],
            timeout_s=TIMEOUT_S,
            what="attributes_changed at the probe",
        )
        assert probe.attributes(AGENT) == {STATE: "initializing"}
        (event,) = [e for e in events if e.kind == "attributes_changed"]
        assert (event.identity, event.is_agent) == (AGENT, True)
        assert event.t_ns > 0
        assert agent.attributes(PROBE) == {}  # the probe set none
        assert probe.attributes("nobody-here") == {}
        await agent.aclose()
        await until(
            lambda: AGENT not in probe.remote_identities(), timeout_s=TIMEOUT_S, what="left"
        )
        assert probe.attributes(AGENT) == {}  # gone with the participant
    finally:
        await stop(collector)
        await agent.aclose()
        await probe.aclose()


async def test_set_attributes_merges_and_an_event_names_only_what_changed(
    transport_factory: TransportFactory,
) -> None:
    agent, probe = await _agent_and_probe(transport_factory, "attrs-merge")
    events: list[ParticipantEvent] = []
    collector = collect(probe.participant_events(), events, "contract-attrs-merge")
    try:
        await agent.set_attributes({STATE: "listening", "autortc.k": "1"})
        await agent.set_attributes({STATE: "thinking"})  # autortc.k is kept
        await agent.set_attributes({"autortc.k": "1"})  # the same value: no change, no event
        await agent.set_attributes({STATE: "speaking"})
        want = {STATE: "speaking", "autortc.k": "1"}
        assert agent.attributes(AGENT) == want
        await until(lambda: len(changes(events)) >= 3, timeout_s=TIMEOUT_S, what="three changes")
        assert probe.attributes(AGENT) == want
        assert changes(events) == [
            {STATE: "listening", "autortc.k": "1"},
            {STATE: "thinking"},
            {STATE: "speaking"},
        ]
    finally:
        await stop(collector)
        await agent.aclose()
        await probe.aclose()


async def test_an_empty_value_deletes_the_key_and_the_event_reports_it_empty(
    transport_factory: TransportFactory,
) -> None:
    agent, probe = await _agent_and_probe(transport_factory, "attrs-delete")
    events: list[ParticipantEvent] = []
    collector = collect(probe.participant_events(), events, "contract-attrs-delete")
    try:
        await agent.set_attributes({STATE: "listening", "autortc.gone": "x"})
        await agent.set_attributes({"autortc.gone": ""})
        assert agent.attributes(AGENT) == {STATE: "listening"}
        await agent.set_attributes({"autortc.never-set": ""})  # absent stays absent: no event
        await agent.set_attributes({STATE: "thinking"})
        await until(lambda: len(changes(events)) >= 3, timeout_s=TIMEOUT_S, what="three changes")
        assert changes(events) == [
            {STATE: "listening", "autortc.gone": "x"},
            {"autortc.gone": ""},
            {STATE: "thinking"},
        ]
        assert probe.attributes(AGENT) == {STATE: "thinking"}
        assert agent.attributes(AGENT) == {STATE: "thinking"}
    finally:
        await stop(collector)
        await agent.aclose()
        await probe.aclose()


async def test_a_late_joiner_sees_attributes_set_before_it_joined_without_an_event(
    transport_factory: TransportFactory,
) -> None:
    transport = transport_factory.transport
    room = await transport_factory.new_room("attrs-late")
    agent = await transport.connect(room, AGENT, role="agent")
    user = await transport.connect(room, USER, role="user")
    probe: RoomConnection | None = None
    events: list[ParticipantEvent] = []
    collector: asyncio.Task[None] | None = None
    try:
        await agent.set_attributes({STATE: "listening", "autortc.k": "1"})
        await until(  # the room has them: a participant already in it sees them
            lambda: user.attributes(AGENT) == {STATE: "listening", "autortc.k": "1"},
            timeout_s=TIMEOUT_S,
            what="attributes at the user",
        )
        probe = await transport.connect(room, PROBE, role="probe")
        collector = collect(probe.participant_events(), events, "contract-attrs-late")
        await until(
            lambda: probe.attributes(AGENT) == {STATE: "listening", "autortc.k": "1"},
            timeout_s=TIMEOUT_S,
            what="attributes at the late probe",
        )
        assert probe.attributes(USER) == {}
        await agent.set_attributes({STATE: "speaking"})
        await until(lambda: len(changes(events)) >= 1, timeout_s=TIMEOUT_S, what="a change")
        # what was there before it joined came with the participant list, not as an event
        assert changes(events) == [{STATE: "speaking"}]
        assert probe.attributes(AGENT) == {STATE: "speaking", "autortc.k": "1"}
    finally:
        if collector is not None:
            await stop(collector)
        for conn in (probe, user, agent):
            if conn is not None:
                await conn.aclose()


async def test_only_the_agent_sets_attributes_and_only_strings(
    transport_factory: TransportFactory,
) -> None:
    agent, probe = await _agent_and_probe(transport_factory, "attrs-refuse")
    try:
        with pytest.raises(TransportError, match="may not set"):
            await probe.set_attributes({STATE: "listening"})
        with pytest.raises(UsageError, match="not a str"):
            await agent.set_attributes({STATE: 1})  # type: ignore[dict-item]
        with pytest.raises(UsageError, match="not a str"):
            await agent.set_attributes({1: "x"})  # type: ignore[dict-item]
        with pytest.raises(UsageError, match="mapping"):
            await agent.set_attributes([(STATE, "listening")])  # type: ignore[arg-type]
        assert agent.attributes(AGENT) == {}  # a refused update changes nothing
        await agent.aclose()
        with pytest.raises(TransportError):
            await agent.set_attributes({STATE: "listening"})
    finally:
        await agent.aclose()
        await probe.aclose()
