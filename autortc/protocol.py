"""The AutoRTC room protocol v1 (shared/spec/protocol.md), as pure code.

Identities, topics, message construction, the receive filter (stale trace_id,
duplicate msg_id, malformed JSON / unknown type), room names and metadata.
Nothing here does I/O or reads a clock: callers pass `t_ns`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

PROTOCOL_VERSION = 1

USER_IDENTITY = "autortc-user"
PROBE_IDENTITY = "autortc-probe"
BOT_IDENTITIES = frozenset({USER_IDENTITY, PROBE_IDENTITY})

TOPIC_PROBE = "autortc.probe"
TOPIC_AGENT = "autortc.agent"
TOPIC_USER = "autortc.user"
TOPIC_REPLY = "autortc.reply"
TOPIC_TRACE = "autortc.trace"

TYPES_BY_TOPIC: dict[str, frozenset[str]] = {
    TOPIC_PROBE: frozenset({"probe_ready"}),
    TOPIC_AGENT: frozenset({"agent_ready"}),
    TOPIC_USER: frozenset({"user_ready", "utterance_start", "utterance_end", "barge_in_start"}),
    TOPIC_REPLY: frozenset({"reply_start", "reply_end"}),
    TOPIC_TRACE: frozenset({"trace"}),
}
ALL_TOPICS = tuple(TYPES_BY_TOPIC)

TRACE_POINTS = (
    "user_speech_start",
    "user_eot",
    "stt_final",
    "llm_request",
    "llm_first_token",
    "tts_request",
    "tts_first_audio",
    "first_frame_published",
    "reply_done",
)


def is_agent_identity(identity: str) -> bool:
    """Any participant that is not one of the two bots is the agent."""
    return identity not in BOT_IDENTITIES


def new_msg_id() -> str:
    return uuid.uuid4().hex


def make_message(
    type_: str,
    *,
    trace_id: str,
    case_id: str,
    t_ns: int,
    msg_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Build a protocol message. `t_ns` is the sender's `time.monotonic_ns()`."""
    msg: dict[str, Any] = {
        "type": type_,
        "trace_id": trace_id,
        "case_id": case_id,
        "msg_id": msg_id or new_msg_id(),
        "t_ns": int(t_ns),
    }
    msg.update(fields)
    return msg


def encode(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg, separators=(",", ":")).encode("utf-8")


@dataclass
class MessageFilter:
    """Receive-side rules: drop stale, duplicate and bad messages, and count them.

    `accept(topic, payload)` returns the decoded message or None.
    """

    trace_id: str
    seen_msg_ids: set[str] = field(default_factory=set)
    stale_count: int = 0
    duplicate_count: int = 0
    bad_count: int = 0

    def accept(self, topic: str, payload: bytes | str) -> dict[str, Any] | None:
        if topic not in TYPES_BY_TOPIC:
            return None  # not ours; neither bad nor stale
        try:
            msg = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            self.bad_count += 1
            return None
        if (
            not isinstance(msg, dict)
            or msg.get("type") not in TYPES_BY_TOPIC[topic]
            or not isinstance(msg.get("msg_id"), str)
            or not isinstance(msg.get("t_ns"), int)
        ):
            self.bad_count += 1
            return None
        if msg.get("trace_id") != self.trace_id:
            self.stale_count += 1
            return None
        if msg["msg_id"] in self.seen_msg_ids:
            self.duplicate_count += 1
            return None
        self.seen_msg_ids.add(msg["msg_id"])
        return msg

    def counters(self) -> dict[str, int]:
        return {
            "stale": self.stale_count,
            "duplicate": self.duplicate_count,
            "bad": self.bad_count,
        }


def room_name(prefix: str, case_id: str, run_id: str, attempt: int) -> str:
    """`{prefix}-{case_id}-{run6}-a{attempt}`; run6 is the last 6 chars of the run id."""
    return f"{prefix}-{case_id}-{run_id[-6:]}-a{attempt}"


@dataclass(frozen=True)
class RoomMeta:
    run_id: str
    case_id: str
    trace_id: str
    attempt: int
    reply_text: str = ""
    utterance_text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        agent = {"reply_text": self.reply_text, "utterance_text": self.utterance_text}
        agent.update(self.extra)
        body = {
            "autortc": {
                "v": PROTOCOL_VERSION,
                "run_id": self.run_id,
                "case_id": self.case_id,
                "trace_id": self.trace_id,
                "attempt": self.attempt,
                "agent": agent,
            }
        }
        return json.dumps(body)


def parse_room_meta(text: str | None) -> RoomMeta | None:
    """Parse room/dispatch metadata. Returns None when it is not AutoRTC metadata."""
    if not text:
        return None
    try:
        body = json.loads(text)
    except ValueError:
        return None
    a = body.get("autortc") if isinstance(body, dict) else None
    if not isinstance(a, dict) or not isinstance(a.get("trace_id"), str):
        return None
    raw_agent = a.get("agent")
    agent: dict[str, Any] = raw_agent if isinstance(raw_agent, dict) else {}
    extra = {k: v for k, v in agent.items() if k not in ("reply_text", "utterance_text")}
    return RoomMeta(
        run_id=str(a.get("run_id", "")),
        case_id=str(a.get("case_id", "")),
        trace_id=a["trace_id"],
        attempt=int(a.get("attempt", 1)),
        reply_text=str(agent.get("reply_text", "")),
        utterance_text=str(agent.get("utterance_text", "")),
        extra=extra,
    )
