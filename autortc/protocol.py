"""The AutoRTC room protocol v1 (docs/spec/protocol.md), as pure code.

Identities, topics, the typed messages (a discriminated union on `type`), the
receive filter (stale trace_id, duplicate msg_id, malformed or wrongly typed
payloads), room names and metadata. Nothing here does I/O or reads a clock:
callers pass `t_ns`.

Messages are pydantic models validated in strict mode where they are received:
`reply_seq: "zero"` or `t_ns: 1.5` is dropped and counted as bad, never coerced.
Unknown extra fields are ignored (a newer sender may add some).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

PROTOCOL_VERSION = 1

USER_IDENTITY = "autortc-user"
PROBE_IDENTITY = "autortc-probe"
BOT_IDENTITIES = frozenset({USER_IDENTITY, PROBE_IDENTITY})

TOPIC_PROBE = "autortc.probe"
TOPIC_AGENT = "autortc.agent"
TOPIC_USER = "autortc.user"
TOPIC_REPLY = "autortc.reply"
TOPIC_TRACE = "autortc.trace"

TRACE_POINTS = (
    "user_speech_start",
    "user_eot",
    "stt_final",
    "llm_request",
    "llm_first_token",
    "tts_request",
    "tts_first_audio",
    "output_first_frame",
    "first_frame_published",
    "reply_done",
)
# the two points of a reply the agent interrupted (its cancel latency): not every turn's
BARGE_IN_POINTS = ("barge_in", "cancel_done")
# a turn whose first audio came from the agent's starter cache
STARTER_POINTS = ("starter_cache_hit",)
ALL_TRACE_POINTS = TRACE_POINTS + BARGE_IN_POINTS + STARTER_POINTS
TracePointName = Literal[
    "user_speech_start",
    "user_eot",
    "stt_final",
    "llm_request",
    "llm_first_token",
    "tts_request",
    "tts_first_audio",
    "output_first_frame",
    "first_frame_published",
    "reply_done",
    "barge_in",
    "cancel_done",
    "starter_cache_hit",
]


class _Msg(BaseModel):
    """Fields every message carries. `t_ns` is the sender's `time.monotonic_ns()`."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    trace_id: str
    case_id: str
    msg_id: str = Field(min_length=1)
    t_ns: int

    @classmethod
    def new(cls, *, trace_id: str, case_id: str, t_ns: int, **fields: Any) -> Self:
        """A message to send, with a fresh msg_id."""
        return cls(trace_id=trace_id, case_id=case_id, msg_id=new_msg_id(), t_ns=t_ns, **fields)


class ProbeReady(_Msg):
    type: Literal["probe_ready"] = "probe_ready"


class AudioPublishInfo(BaseModel):
    """How the agent published its audio track (transport/base.AudioEncoding)."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    codec: str
    max_bitrate_bps: int | None = None
    dtx: bool = False
    red: bool = False
    channels: int = 1


class AgentReady(_Msg):
    type: Literal["agent_ready"] = "agent_ready"
    in_reply_to: str
    # the agent's monotonic clock (autortc/host_clock.py); None: not said, never assumed
    clock_id: str | None = None
    audio: AudioPublishInfo | None = None  # its track's settings, when it knows them


class UserReady(_Msg):
    type: Literal["user_ready"] = "user_ready"


class UtteranceStart(_Msg):
    type: Literal["utterance_start"] = "utterance_start"
    turn_index: int = Field(ge=0)


class UtteranceEnd(_Msg):
    type: Literal["utterance_end"] = "utterance_end"
    turn_index: int = Field(ge=0)
    eot_t_ns: int


class ReplyStart(_Msg):
    type: Literal["reply_start"] = "reply_start"
    reply_seq: int = Field(ge=0)
    turn_id: int | None = None


class ReplyEnd(_Msg):
    type: Literal["reply_end"] = "reply_end"
    reply_seq: int = Field(ge=0)
    turn_id: int | None = None
    interrupted: bool = False


class Trace(_Msg):
    type: Literal["trace"] = "trace"
    turn_id: int = Field(default=0, ge=0)
    point: TracePointName


Message = Annotated[
    ProbeReady
    | AgentReady
    | UserReady
    | UtteranceStart
    | UtteranceEnd
    | ReplyStart
    | ReplyEnd
    | Trace,
    Field(discriminator="type"),
]
MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)

TYPES_BY_TOPIC: dict[str, frozenset[str]] = {
    TOPIC_PROBE: frozenset({"probe_ready"}),
    TOPIC_AGENT: frozenset({"agent_ready"}),
    TOPIC_USER: frozenset({"user_ready", "utterance_start", "utterance_end"}),
    TOPIC_REPLY: frozenset({"reply_start", "reply_end"}),
    TOPIC_TRACE: frozenset({"trace"}),
}
ALL_TOPICS = tuple(TYPES_BY_TOPIC)


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
) -> Message:
    """Build and validate a message of type `type_` (ValidationError on a bad field)."""
    body = {"type": type_, "trace_id": trace_id, "case_id": case_id, "t_ns": int(t_ns)}
    body["msg_id"] = msg_id or new_msg_id()
    return MESSAGE_ADAPTER.validate_python({**body, **fields})


def encode(msg: Message) -> bytes:
    return msg.model_dump_json().encode("utf-8")


def decode(payload: bytes | str) -> Message:
    """Parse and validate one payload. Raises ValueError (pydantic's ValidationError)."""
    return MESSAGE_ADAPTER.validate_json(payload)


@dataclass
class MessageFilter:
    """Receive-side rules: drop stale, duplicate and bad messages, and count them.

    `accept(topic, payload)` returns the typed message or None.
    """

    trace_id: str
    seen_msg_ids: set[str] = field(default_factory=set)
    stale_count: int = 0
    duplicate_count: int = 0
    bad_count: int = 0
    wrong_sender_count: int = 0
    # the agent participant, once known: its messages are taken from it alone
    agent_identity: str | None = None

    def accept(
        self,
        topic: str,
        payload: bytes | str,
        *,
        sender: str | None = None,
        sender_is_agent: bool | None = None,
    ) -> Message | None:
        """The typed message, or None (counted by reason). `sender` is the sending
        participant's identity and `sender_is_agent` whether the transport says it is an
        agent (LiveKit: kind AGENT; embedded: joined as one). None: the caller cannot say,
        and that rule is skipped."""
        if topic not in TYPES_BY_TOPIC:
            return None  # not ours; neither bad nor stale
        try:
            msg = decode(payload)
        except (ValidationError, ValueError, UnicodeDecodeError):
            self.bad_count += 1
            return None
        if msg.type not in TYPES_BY_TOPIC[topic]:
            self.bad_count += 1
            return None
        if not self.rightful_sender(msg.type, sender, sender_is_agent):
            self.wrong_sender_count += 1
            return None
        if msg.trace_id != self.trace_id:
            self.stale_count += 1
            return None
        if msg.msg_id in self.seen_msg_ids:
            self.duplicate_count += 1
            return None
        self.seen_msg_ids.add(msg.msg_id)
        return msg

    def rightful_sender(
        self, msg_type: str, sender: str | None, sender_is_agent: bool | None
    ) -> bool:
        """probe_ready only from the probe, user_* only from the user bot, and the
        agent's messages only from the agent: a participant the transport calls an agent
        (never a bot identity), and the pinned one once known."""
        if sender is None:
            return True
        if msg_type in TYPES_BY_TOPIC[TOPIC_PROBE]:
            return sender == PROBE_IDENTITY
        if msg_type in TYPES_BY_TOPIC[TOPIC_USER]:
            return sender == USER_IDENTITY
        if sender in BOT_IDENTITIES or sender_is_agent is False:
            return False
        return self.agent_identity is None or sender == self.agent_identity

    def note_sent(self, msg: Message) -> None:
        """Remember our own message, so a replay of it is dropped as a duplicate."""
        self.seen_msg_ids.add(msg.msg_id)

    def counters(self) -> dict[str, int]:
        return {
            "stale": self.stale_count,
            "duplicate": self.duplicate_count,
            "bad": self.bad_count,
            "wrong_sender": self.wrong_sender_count,
        }


def room_name(prefix: str, case_id: str, run_id: str, attempt: int | str) -> str:
    """`{prefix}-{case_id}-{run6}-a{attempt}`; run6 is the last 6 chars of the run id.
    A str `attempt` is the attempt's tag as is (`r2a1` with --repeat)."""
    tag = attempt if isinstance(attempt, str) else f"a{attempt}"
    return f"{prefix}-{case_id}-{run_id[-6:]}-{tag}"


class _AgentHints(BaseModel):
    """`autortc.agent` of the metadata, as received (unknown keys ignored)."""

    model_config = ConfigDict(extra="ignore")

    reply_text: str = ""
    utterance_text: str = ""
    reply_texts: list[str] = []
    utterance_texts: list[str] = []
    utterance_speech_ms: list[int] = []
    voice: str | None = None
    defect: str | None = None
    calibration_delay_ms: int | None = None
    stt: str | None = None


@dataclass(frozen=True)
class RoomMeta:
    """The room (and dispatch) metadata. The texts and voice are hints for the
    reference agent's scripted engines; a real agent ignores them."""

    run_id: str
    case_id: str
    trace_id: str
    attempt: int
    reply_text: str = ""
    utterance_text: str = ""
    reply_texts: tuple[str, ...] = ()  # one per user turn
    utterance_texts: tuple[str, ...] = ()
    utterance_speech_ms: tuple[int, ...] = ()  # the clean utterance's speech, per turn
    voice: str | None = None
    defect: str | None = None  # a defect for the reference agent to inject (selftest)
    calibration_delay_ms: int | None = None  # the reference agent calibrates (issue 13)
    stt: str | None = None  # the reference agent's recogniser for this room (scripted default)

    def to_json(self) -> str:
        hints = _AgentHints(
            reply_text=self.reply_text,
            utterance_text=self.utterance_text,
            reply_texts=list(self.reply_texts),
            utterance_texts=list(self.utterance_texts),
            utterance_speech_ms=list(self.utterance_speech_ms),
            voice=self.voice,
            defect=self.defect,
            calibration_delay_ms=self.calibration_delay_ms,
            stt=self.stt,
        )
        body = {
            "autortc": {
                "v": PROTOCOL_VERSION,
                "run_id": self.run_id,
                "case_id": self.case_id,
                "trace_id": self.trace_id,
                "attempt": self.attempt,
                "agent": hints.model_dump(exclude_none=True),
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
    try:
        hints = _AgentHints.model_validate(a.get("agent") or {})
        attempt = int(a.get("attempt", 1))
    except (ValidationError, TypeError, ValueError):
        return None
    return RoomMeta(
        run_id=str(a.get("run_id", "")),
        case_id=str(a.get("case_id", "")),
        trace_id=a["trace_id"],
        attempt=attempt,
        reply_text=hints.reply_text,
        utterance_text=hints.utterance_text,
        reply_texts=tuple(hints.reply_texts),
        utterance_texts=tuple(hints.utterance_texts),
        utterance_speech_ms=tuple(hints.utterance_speech_ms),
        voice=hints.voice,
        defect=hints.defect,
        calibration_delay_ms=hints.calibration_delay_ms,
        stt=hints.stt,
    )


class PreRtcReply(BaseModel):
    """One reply's span in pre_rtc.wav, in samples (half-open)."""

    reply_seq: int = Field(ge=0)
    start_sample: int = Field(ge=0)
    end_sample: int = Field(ge=0)
    interrupted: bool = False


class AgentInManifest(BaseModel):
    """agent_in.json, beside agent_in.wav: the user track as the agent received it,
    with each 10 ms frame's receive time (the agent's `time.monotonic_ns()`). Written
    before the final pre_rtc.json, so a complete pre_rtc means it is there."""

    sample_rate_hz: int = 48_000
    frame_recv_t_ns: list[int] = []


class PreRtcManifest(BaseModel):
    """pre_rtc.json, written beside pre_rtc.wav after every reply and in `finally`.
    `complete` is set once the writer closed: no reply will follow."""

    sample_rate_hz: int = 48_000
    replies: list[PreRtcReply] = []
    complete: bool = False
