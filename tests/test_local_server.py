"""The embedded local room server: dispatch, room lifetime, robustness, process mode.

Behaviours beyond the transport contract (tests/contract/), local transport only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest

from autortc.audio import silence_frame
from autortc.errors import InputError, TransportError, UsageError
from autortc.transport import local_wire as wire
from autortc.transport.local import LocalTransport
from autortc.transport.local_proc import start_local_server_process
from autortc.transport.local_server import LocalRoomServer, serve
from autortc.transport.local_worker import JobRequest

pytestmark = pytest.mark.realtime  # the local room server over real sockets, paced in real time


@pytest.fixture
async def server() -> AsyncIterator[LocalRoomServer]:
    srv, _port = await serve("127.0.0.1", 0)
    try:
        yield srv
    finally:
        await srv.aclose()


@pytest.fixture
async def transport(server: LocalRoomServer) -> AsyncIterator[LocalTransport]:
    t = LocalTransport(f"local://127.0.0.1:{server.port}")
    try:
        yield t
    finally:
        await t.aclose()


async def _next_job(jobs: AsyncIterator[JobRequest]) -> JobRequest:
    async with asyncio.timeout(5):
        return await anext(jobs)


async def test_create_room_dispatches_job_to_registered_worker_round_robin(
    transport: LocalTransport,
) -> None:
    async with (
        transport.register_worker("ref-agent") as w1,
        transport.register_worker("ref-agent") as w2,
        transport.register_worker("other-agent") as w3,
    ):
        for i in range(4):
            await transport.create_room(f"r{i}", metadata=f'{{"i": {i}}}', agent_name="ref-agent")
        jobs = [await _next_job(w1), await _next_job(w2), await _next_job(w1), await _next_job(w2)]
        assert sorted(j.room for j in jobs) == ["r0", "r1", "r2", "r3"]
        assert {j.agent_name for j in jobs} == {"ref-agent"}
        assert len({j.job_id for j in jobs}) == 4
        by_room = {j.room: j.metadata for j in jobs}
        assert by_room["r2"] == '{"i": 2}'
        read_w3 = asyncio.create_task(_next_job(w3))
        await asyncio.sleep(0.1)
        assert not read_w3.done()  # other names get nothing
        read_w3.cancel()
        conn = await transport.connect(jobs[0].room, "agent-1", role="agent")
        assert conn.room_metadata == by_room[jobs[0].room]
        await conn.aclose()


async def test_create_room_without_registered_worker_raises_clear_error(
    transport: LocalTransport,
) -> None:
    with pytest.raises(TransportError, match="no agent worker registered as 'ghost'"):
        await transport.create_room("r-ghost", metadata="{}", agent_name="ghost")
    assert await transport.list_rooms() == []
    async with transport.register_worker("ghost"):
        pass  # registration closed: the name is free again
    await asyncio.sleep(0.05)
    with pytest.raises(TransportError, match="no agent worker registered as 'ghost'"):
        await transport.create_room("r-ghost", metadata="{}", agent_name="ghost")


async def test_deleting_a_room_closes_every_connection_in_it(transport: LocalTransport) -> None:
    await transport.create_room("doomed", metadata="{}")
    probe = await transport.connect("doomed", "autortc-probe", role="probe")
    agent = await transport.connect("doomed", "agent", role="agent")
    publisher = await agent.publish_audio()
    await publisher.capture_frame(silence_frame())

    async def drain(items: AsyncIterator[object]) -> int:
        return len([item async for item in items])

    iterators = [
        probe.subscribe_audio("agent"),
        probe.messages(),
        probe.participant_events(),
        agent.messages(),
    ]
    tasks = [asyncio.create_task(drain(it)) for it in iterators]
    await asyncio.sleep(0.05)
    await transport.delete_room("doomed")
    async with asyncio.timeout(5):
        await asyncio.gather(*tasks)
    assert await transport.list_rooms() == []
    with pytest.raises(TransportError):
        await publisher.capture_frame(silence_frame())
    with pytest.raises(TransportError):
        await probe.send_message("t", b"x")
    await probe.aclose()
    await agent.aclose()


async def test_server_survives_malformed_packets_and_abrupt_disconnects(
    server: LocalRoomServer, transport: LocalTransport
) -> None:
    await transport.create_room("sturdy", metadata="{}")

    async def raw() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", server.port)

    # garbage JSON and unknown ops are answered with an error, the connection lives on
    reader, writer = await raw()
    writer.write(wire.pack(wire.KIND_CONTROL, b"{not json"))
    writer.write(wire.pack(wire.KIND_CONTROL, b"[1, 2]"))
    writer.write(wire.pack_control({"op": "frobnicate"}))
    writer.write(wire.pack_control({"op": "create_room", "room": 7}))
    writer.write(wire.pack(wire.KIND_AUDIO, b"\x00" * 960))  # audio before join: ignored
    writer.write(wire.pack(99, b"?"))  # unknown kind: ignored
    writer.write(wire.pack_control({"op": "list_rooms", "id": 5}))
    replies = []
    async with asyncio.timeout(5):
        for _ in range(5):
            _kind, body = await wire.read_packet(reader)
            replies.append(wire.unpack_control(body))
    assert [r["ok"] for r in replies] == [False, False, False, False, True]
    assert replies[-1] == {"ok": True, "rooms": ["sturdy"], "id": 5}
    writer.close()

    # a joined peer sending truncated data, bad control and odd-sized audio
    peer = await transport.connect("sturdy", "autortc-user", role="user")
    peer._writer.write(wire.pack(wire.KIND_DATA, b"\xff"))
    peer._writer.write(wire.pack(wire.KIND_CONTROL, b"\xff\xfe"))
    peer._writer.write(wire.pack(wire.KIND_AUDIO, b"\x01\x02\x03"))

    # an oversized length prefix and a half-written packet close only those connections
    _r, w2 = await raw()
    w2.write(struct.pack(">IB", wire.MAX_BODY_BYTES + 1, wire.KIND_CONTROL))
    _r3, w3 = await raw()
    w3.write(struct.pack(">IB", 100, wire.KIND_CONTROL) + b"{")
    await asyncio.sleep(0.05)
    w3.transport.abort()
    w2.close()

    # the server still works end to end
    other = await transport.connect("sturdy", "autortc-probe", role="probe")
    got = []

    async def first() -> None:
        async for m in other.messages():
            got.append(m)
            return

    reader_task = asyncio.create_task(first())
    await peer.send_message("autortc.user", b"still alive")
    async with asyncio.timeout(5):
        await reader_task
    assert got[0].payload == b"still alive"
    assert sorted(await transport.list_rooms()) == ["sturdy"]
    await peer.aclose()
    await other.aclose()


async def test_publisher_schedule_does_not_drift_when_the_loop_stalls(
    transport: LocalTransport,
) -> None:
    await transport.create_room("drift", metadata="{}")
    sender = await transport.connect("drift", "agent", role="agent")
    listener = await transport.connect("drift", "autortc-probe", role="probe")
    stamps: list[int] = []

    async def receive() -> None:
        async for frame in listener.subscribe_audio("agent"):
            stamps.append(frame.recv_t_ns)
            if len(stamps) == 201:
                return

    receiver = asyncio.create_task(receive())
    await asyncio.sleep(0.05)
    publisher = await sender.publish_audio(queue_size_ms=200)
    for i in range(201):
        await publisher.capture_frame(silence_frame())
        if i in (50, 120):
            time.sleep(0.04)  # noqa: ASYNC251 - stall the loop on purpose; the sender catches up
    async with asyncio.timeout(10):
        await receiver
    span_s = (stamps[-1] - stamps[0]) / 1e9
    assert 1.95 < span_s < 2.06, f"200 frame intervals took {span_s:.3f} s"
    await sender.aclose()
    await listener.aclose()


async def test_publisher_sends_at_once_after_running_empty(transport: LocalTransport) -> None:
    await transport.create_room("underrun", metadata="{}")
    sender = await transport.connect("underrun", "agent", role="agent")
    listener = await transport.connect("underrun", "autortc-probe", role="probe")
    frames = listener.subscribe_audio("agent")
    publisher = await sender.publish_audio()
    await publisher.capture_frame(silence_frame())
    async with asyncio.timeout(5):
        await anext(frames)
    delays_ms = []
    for _ in range(7):
        await asyncio.sleep(0.0537)  # the queue runs empty; nothing is sent meanwhile
        t_push_ns = time.monotonic_ns()
        await publisher.capture_frame(silence_frame())
        async with asyncio.timeout(5):
            frame = await anext(frames)
        delays_ms.append((frame.recv_t_ns - t_push_ns) / 1e6)
    # a sender waiting for its next 10 ms slot would show a median near 5 ms
    assert sorted(delays_ms)[3] < 3.0, delays_ms
    await frames.aclose()
    await sender.aclose()
    await listener.aclose()


async def test_server_binds_distinct_ephemeral_ports() -> None:
    a, port_a = await serve("127.0.0.1", 0)
    b, port_b = await serve("127.0.0.1", 0)
    try:
        assert port_a > 0
        assert port_b > 0
        assert port_a != port_b
        assert a.port == port_a
    finally:
        await a.aclose()
        await b.aclose()
        await a.aclose()


async def test_duplicate_identity_replaces_the_old_connection(transport: LocalTransport) -> None:
    await transport.create_room("dup", metadata="{}")
    old = await transport.connect("dup", "autortc-user", role="user")
    watcher = await transport.connect("dup", "autortc-probe", role="probe")
    new = await transport.connect("dup", "autortc-user", role="user")

    async def drain_old() -> None:
        async for _ in old.messages():
            pass

    async with asyncio.timeout(5):
        await drain_old()
    assert old.closed
    assert watcher.remote_identities() == ["autortc-user"]
    for conn in (old, new, watcher):
        await conn.aclose()


async def test_join_unknown_room_and_full_room_raise_transport_error(
    transport: LocalTransport,
) -> None:
    with pytest.raises(TransportError, match="room 'nope' does not exist"):
        await transport.connect("nope", "autortc-user", role="user")
    await transport.create_room("tiny", metadata="{}", max_participants=1)
    first = await transport.connect("tiny", "a", role="agent")
    with pytest.raises(TransportError, match="is full"):
        await transport.connect("tiny", "b", role="agent")
    await first.aclose()


async def test_empty_room_expires_after_empty_timeout(transport: LocalTransport) -> None:
    await transport.create_room("brief", metadata="{}", empty_timeout_s=0.1)  # type: ignore[arg-type]
    conn = await transport.connect("brief", "a", role="agent")
    await asyncio.sleep(0.15)
    assert await transport.list_rooms() == ["brief"]  # occupied rooms do not expire
    await conn.aclose()
    await asyncio.sleep(0.15)
    assert await transport.list_rooms() == []


async def test_capture_frame_rejects_wrong_frame_shape_or_dtype(transport: LocalTransport) -> None:
    await transport.create_room("shape", metadata="{}")
    conn = await transport.connect("shape", "a", role="agent")
    publisher = await conn.publish_audio()
    with pytest.raises(UsageError, match="480 int16"):
        await publisher.capture_frame(np.zeros(960, dtype=np.int16))
    with pytest.raises(UsageError, match="480 int16"):
        await publisher.capture_frame(np.zeros(480, dtype=np.float32))
    await conn.aclose()


async def test_unreachable_server_and_bad_url_raise_clear_errors() -> None:
    with pytest.raises(InputError, match="expected local://HOST:PORT"):
        LocalTransport("ws://127.0.0.1:7880")
    srv, port = await serve("127.0.0.1", 0)
    await srv.aclose()
    with pytest.raises(TransportError, match="cannot reach the local room server"):
        await LocalTransport(f"local://127.0.0.1:{port}").list_rooms()


def test_server_process_exits_when_its_parent_dies_without_stopping_it() -> None:
    script = (
        "from autortc.transport.local_proc import start_local_server_process as s\n"
        "import os\n"
        "p = s(timeout_s=20)\n"
        "print(p.pid, flush=True)\n"
        "os._exit(0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=30, check=True, text=True
    )
    server_pid = int(out.stdout.strip())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(server_pid, signal.SIGKILL)
    pytest.fail("orphaned local server process kept running")


def test_server_process_prints_url_serves_and_stops_idempotently() -> None:
    with start_local_server_process(timeout_s=20) as proc:
        assert proc.url.startswith("local://127.0.0.1:")

        async def use() -> list[str]:
            t = LocalTransport(proc.url)
            try:
                await t.create_room("p", metadata="{}")
                return await t.list_rooms()
            finally:
                await t.aclose()

        assert asyncio.run(use()) == ["p"]
        proc.stop()
        assert proc.proc.returncode == 0
    proc.stop()
    with pytest.raises(TransportError, match="cannot reach"):
        asyncio.run(LocalTransport(proc.url).list_rooms())
