"""Pure rules shared by the bots: the two-way ACK barrier and when to stop.

No I/O and no clock: callers feed accepted protocol messages and `now_ns`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from autortc.protocol import AgentReady, Message, ProbeReady, ReplyEnd, UtteranceEnd


@dataclass
class BarrierState:
    """Complete when `probe_ready` and an `agent_ready` answering it were both seen.

    In black-box mode the agent speaks no protocol: the probe's own first agent
    frame (announced as `probe_ready`) completes the barrier.
    """

    blackbox: bool = False
    probe_msg_ids: set[str] = field(default_factory=set)
    probe_ready_t_ns: int | None = None
    agent_ready_t_ns: int | None = None
    agent_ready_in_reply_to: set[str] = field(default_factory=set)
    complete_t_ns: int | None = None

    def observe(self, msg: Message, *, recv_t_ns: int) -> bool:
        """Feed one accepted message; returns True when the barrier just completed."""
        if isinstance(msg, AgentReady):
            self.agent_ready_in_reply_to.add(msg.in_reply_to)
        if self.complete_t_ns is not None:
            return False
        if isinstance(msg, ProbeReady):
            self.probe_msg_ids.add(msg.msg_id)
            if self.probe_ready_t_ns is None:
                self.probe_ready_t_ns = recv_t_ns
        elif isinstance(msg, AgentReady) and self.agent_ready_t_ns is None:
            self.agent_ready_t_ns = recv_t_ns
        ready = self.probe_ready_t_ns is not None and (
            self.blackbox or self.agent_ready_t_ns is not None
        )
        if ready:
            self.complete_t_ns = recv_t_ns
            return True
        return False

    @property
    def complete(self) -> bool:
        return self.complete_t_ns is not None


@dataclass
class StopRule:
    """When may a bot stop recording?

    - after the final user utterance ended, at the first non-interrupted
      `reply_end` that follows it, plus `tail_ms`;
    - or, at the latest, `record_pad_ms` after the final utterance ended.
    Black-box agents send no reply events, so only the pad applies.
    """

    n_turns: int
    record_pad_ms: int
    tail_ms: int
    utterances_ended: int = 0
    last_utterance_end_t_ns: int | None = None
    final_reply_end_t_ns: int | None = None

    def observe(self, msg: Message, *, recv_t_ns: int) -> None:
        if isinstance(msg, UtteranceEnd):
            self.utterances_ended += 1
            if self.utterances_ended >= self.n_turns:
                self.last_utterance_end_t_ns = recv_t_ns
        elif (
            isinstance(msg, ReplyEnd)
            and self.last_utterance_end_t_ns is not None
            and not msg.interrupted
            and self.final_reply_end_t_ns is None
        ):
            self.final_reply_end_t_ns = recv_t_ns

    def deadline_ns(self) -> int | None:
        """When to stop; None while the final utterance has not ended."""
        if self.last_utterance_end_t_ns is None:
            return None
        pad_deadline = self.last_utterance_end_t_ns + self.record_pad_ms * 1_000_000
        if self.final_reply_end_t_ns is not None:
            return min(pad_deadline, self.final_reply_end_t_ns + self.tail_ms * 1_000_000)
        return pad_deadline


def eot_left_t_ns(
    *,
    capture_return_t_ns: int,
    queued_after_s: float,
    frame_end_sample: int,
    eot_sample: int,
    sample_rate_hz: int,
) -> int:
    """When the EoT sample left the user bot, accounting for the send queue.

    After `capture_frame` for the frame holding the EoT returned at
    `capture_return_t_ns`, `queued_after_s` of audio was still queued, ending at
    that frame's end (`frame_end_sample`, exclusive). The EoT sample leaves
    `(frame_end_sample - eot_sample)` samples before the queue drains.
    """
    lead_ns = (frame_end_sample - eot_sample) * 1_000_000_000 // sample_rate_hz
    return int(capture_return_t_ns + round(queued_after_s * 1e9) - lead_ns)
