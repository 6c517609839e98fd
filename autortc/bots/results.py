"""What the bots leave on disk, as typed models: probe_result.json, user_result.json
and the lines of events.jsonl. The bots write them; `autortc.artifacts` reads them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from autortc.network.jitter_buffer import ReceiveStats
from autortc.protocol import Message


class _Result(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TurnResult(_Result):
    """One user turn as the user bot played it (host clock)."""

    turn_index: int
    is_barge_in: bool = False
    input_start_sample: int = 0  # where the turn starts in input.wav
    eot_sample_in_input: int | None = None
    speech_start_sample_in_input: int | None = None
    eot_left_t_ns: int  # the EoT sample left the user bot, send queue included
    # how: "sent" (the transport's send time of its frame) or "estimated" (queue level);
    # with both known, the estimate is kept too, to show its error
    eot_left_source: str = "estimated"
    eot_left_estimate_t_ns: int | None = None
    speech_start_left_t_ns: int
    # the clean utterance's speech segments [first, end) as left-the-bot times
    speech_segments_left_t_ns: list[tuple[int, int]] = []


class UserResult(_Result):
    status: str = "OK"
    trace_id: str = ""
    turns: list[TurnResult] = []
    barrier_complete_t_ns: int | None = None
    message_counters: dict[str, int] = {}
    warnings: list[str] = []


class ProbeResult(_Result):
    status: str = "OK"
    trace_id: str = ""
    agent_identity: str | None = None
    clock_id: str | None = None  # the probe's own clock (host_clock_id)
    agent_track_codec: str | None = None  # the agent track's mime type as subscribed
    # where its time went (host monotonic ns; autortc/phases.py): started, in the room,
    # the agent seen there, the barrier complete (below), the recording ended
    started_t_ns: int | None = None
    joined_t_ns: int | None = None
    agent_seen_t_ns: int | None = None
    recording_end_t_ns: int | None = None
    barrier_complete_t_ns: int | None = None
    agent_frames_recv_t_ns: list[int] = []
    user_frames_recv_t_ns: list[int] = []
    message_counters: dict[str, int] = {}
    # the agent track's jitter buffer at the probe (a room with a network; base.py
    # RoomConnection.receive_stats): concealment, late packets, RFC 3550 jitter
    agent_track_network: ReceiveStats | None = None
    user_track_network: ReceiveStats | None = None  # the user track's, at the probe
    final_reply_end_t_ns: int | None = None
    warnings: list[str] = []


class StrayResult(_Result):
    """stray_result.json: what the stray participant (fault checks) sent."""

    sent: int = 0


class EventRecord(_Result):
    """One line of events.jsonl: a message the probe received, accepted or not."""

    recv_t_ns: int
    topic: str
    sender: str = ""
    accepted: bool
    msg: Message | None = Field(default=None)
    raw: str | None = None  # the first 200 characters of a rejected payload


class BotCrash(_Result):
    """<bot>_crash.json: an exception ended the bot."""

    status: str = "BOT_CRASHED"
    error: str
    traceback: str
