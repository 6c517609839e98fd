"""A stray participant for the fault checks: it joins an attempt's room and, until the
room is gone or its budget ends, sends garbage and forgeries on every AutoRTC topic.

Every 50 ms, one of:
- raw bytes, or JSON that is not a message;
- a message of any type with a field of the wrong type;
- a well-formed forgery with the room's real trace_id (read from the room metadata,
  which every participant can read): reply_start/reply_end/trace/agent_ready as if it
  were the agent, probe_ready as if it were the probe, utterance_* as if it were the user;
- a replay of a message it overheard, verbatim (a duplicate) or with a new msg_id.

It never publishes audio. A harness that takes messages only from their rightful
sender measures the attempt exactly as without it (README, "When something breaks").
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

from autortc.bots.common import RoomGone, bot_main, watch_room, write_json
from autortc.bots.jobspec import BotJob
from autortc.bots.results import StrayResult
from autortc.clock import MONOTONIC, Clock
from autortc.errors import TransportError
from autortc.protocol import ALL_TOPICS, TYPES_BY_TOPIC, new_msg_id, parse_room_meta
from autortc.transport.base import RoomConnection, Transport
from autortc.transport.factory import transport_from_url

STRAY_IDENTITY = "autortc-stray"
PERIOD_S = 0.05
FORGED_FIELDS: dict[str, dict[str, object]] = {
    "agent_ready": {"in_reply_to": "forged"},
    "utterance_start": {"turn_index": 0},
    "utterance_end": {"turn_index": 0, "eot_t_ns": 1},
    "reply_start": {"reply_seq": 0, "turn_id": 0},
    "reply_end": {"reply_seq": 0, "turn_id": 0, "interrupted": True},
    "trace": {"turn_id": 0, "point": "user_eot"},
}
WRONG_VALUES: tuple[object, ...] = ("zero", -1, None, [], {"x": 1}, 1e308, "", True)


def garbage(
    rng: random.Random, trace_id: str, case_id: str, heard: list[bytes], t_ns: int
) -> tuple[str, bytes]:
    """(topic, payload) of one hostile message (pure, given `rng`)."""
    topic = rng.choice(ALL_TOPICS)
    type_ = rng.choice(sorted(TYPES_BY_TOPIC[topic]))
    body: dict[str, object] = {
        "type": type_,
        "trace_id": trace_id,
        "case_id": case_id,
        "msg_id": new_msg_id(),
        "t_ns": t_ns,
        **FORGED_FIELDS.get(type_, {}),
    }
    kind = rng.randrange(5)
    if kind == 0:
        return topic, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    if kind == 1:
        body[rng.choice(sorted(body))] = rng.choice(WRONG_VALUES)
    elif kind == 2 and heard:
        replay = heard[rng.randrange(len(heard))]
        if rng.random() < 0.5:
            return topic, replay  # verbatim: a duplicate of somebody's message
        try:
            again = json.loads(replay)
            again["msg_id"] = new_msg_id()  # a fresh id: only the sender rule stops it
            return _topic_of(str(again.get("type"))), json.dumps(again).encode()
        except (ValueError, AttributeError):
            return topic, replay
    return topic, json.dumps(body).encode()  # kind 3, 4: a well-formed forgery


def _topic_of(type_: str) -> str:
    return next((t for t, types in TYPES_BY_TOPIC.items() if type_ in types), ALL_TOPICS[0])


async def run_stray(
    job: BotJob, *, transport: Transport | None = None, clock: Clock = MONOTONIC
) -> int:
    out = Path(job.out_dir)
    transport = transport or transport_from_url(job.transport_url)
    result = StrayResult()
    conn: RoomConnection = await transport.connect(job.room, STRAY_IDENTITY, role="user")
    meta = parse_room_meta(conn.room_metadata)
    rng = random.Random(job.trace_id)
    heard: list[bytes] = []

    async def listen() -> None:
        async for dm in conn.messages():
            if len(heard) < 200:
                heard.append(dm.payload)

    async def spam() -> None:
        deadline_ns = job.hard_deadline_ns(clock.now_ns())
        while clock.now_ns() < deadline_ns:
            topic, payload = garbage(
                rng, meta.trace_id if meta else job.trace_id, job.case_id, heard, clock.now_ns()
            )
            await conn.send_message(topic, payload)
            result.sent += 1
            await asyncio.sleep(PERIOD_S)

    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(listen())
            tg.create_task(watch_room(conn))
            await spam()
            raise RoomGone  # its budget is over: stop the others
    except* (RoomGone, TransportError):
        pass  # the room is gone (the attempt ended): that is the stray's end
    finally:
        write_json(out / "stray_result.json", result)
        await conn.aclose()
        await transport.aclose()
    return 0


def main() -> None:
    bot_main("stray_bot", run_stray)


if __name__ == "__main__":
    main()
