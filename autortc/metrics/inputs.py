"""What the pure measurement core takes in: one case attempt, already loaded.

`autortc.artifacts` builds an `AttemptInputs` from an attempt directory (I/O);
everything under `autortc.metrics` is pure and works from this object alone.

Time conventions (one host clock, `time.monotonic_ns()`):
- `post_frame_recv_t_ns[i]` is when frame i (samples i*480 .. i*480+479 of
  `post_full`) was handed to the probe. The frame's LAST sample is taken to
  arrive at that instant, so sample j of frame i arrives at
  `recv_t_ns[i] - (479 - j) / sr`.
- `TurnTiming.eot_left_t_ns` is when the clean utterance's EoT sample left the
  user bot, send queue included (user bot computes it from `queued_duration`).
- Reply events carry their *probe receive* time.
- Agent trace `t_ns` values are on the agent's clock; only differences are used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from autortc.network.jitter_buffer import ReceiveStats


@dataclass(frozen=True)
class ReplyEvents:
    """reply_start / reply_end of one reply_seq, as received at the probe."""

    reply_seq: int
    start_recv_t_ns: int | None
    end_recv_t_ns: int | None
    interrupted: bool | None = None
    turn_id: int | None = None  # the agent's turn the reply answers (its trace's turn_id)


@dataclass(frozen=True)
class TurnTiming:
    """One user turn as played by the user bot."""

    turn_index: int
    speech_start_left_t_ns: int  # first speech sample left the user bot
    eot_left_t_ns: int  # the clean utterance's EoT sample left the user bot
    is_barge_in: bool = False
    eot_sample_in_input: int | None = None  # where that EoT sample is in input.wav
    # the clean utterance's speech segments, as [first, last sample] left-the-bot times;
    # empty: one segment from speech_start to the EoT
    speech_segments_left_t_ns: tuple[tuple[int, int], ...] = ()
    noisy: bool = False  # the case mixes noise into this turn (its tail is noise only)

    @property
    def speech_ns(self) -> tuple[tuple[int, int], ...]:
        return self.speech_segments_left_t_ns or (
            (self.speech_start_left_t_ns, self.eot_left_t_ns),
        )


@dataclass(frozen=True)
class TracePoint:
    turn_id: int
    point: str
    t_ns: int  # agent clock


@dataclass(frozen=True)
class AttemptInputs:
    case_id: str
    priority: str  # "P0" | "P1"
    attempt: int
    trace_id: str
    sample_rate_hz: int
    # probe recording of the agent track (float32, [-1, 1]) and per-frame receive times
    post_full: np.ndarray
    post_frame_recv_t_ns: np.ndarray  # int64, len == ceil(len(post_full) / 480)
    # what the user bot played (float32) and the user track as heard at the probe
    input_audio: np.ndarray
    post_user: np.ndarray | None = None
    post_user_recv_t_ns: np.ndarray | None = None  # int64, per frame of post_user
    # the agent's audio before the network; reply boundaries in samples, by reply_seq
    pre_rtc: np.ndarray | None = None
    pre_rtc_replies: dict[int, tuple[int, int]] | None = None
    replies: list[ReplyEvents] = field(default_factory=list)
    turns: list[TurnTiming] = field(default_factory=list)
    agent_trace: list[TracePoint] = field(default_factory=list)
    # set by the orchestrator when the attempt failed for infrastructure reasons
    infra_status: str | None = None
    blackbox: bool = False
    expects_reply: bool = True  # case.expect.reply
    agent_on_host_clock: bool = False  # its trace t_ns are this host's monotonic clock
    reply_within_ms: int = 5000  # case.expect.within_ms
    message_counters: dict[str, int] = field(default_factory=dict)  # the probe's dropped messages
    # the agent track's jitter buffer at the probe (embedded room with a network), else {}
    agent_track_network: ReceiveStats = field(default_factory=dict)
    # the user track as the agent received it (agent_in), with per-frame receive times
    agent_in: np.ndarray | None = None
    agent_in_recv_t_ns: np.ndarray | None = None
    # how the agent's track travelled: its own publish settings and what the probe got
    codec: str | None = None
