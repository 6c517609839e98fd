"""Pure rules shared by the bots: the two-way ACK barrier and when to stop.

No I/O and no clock: callers feed accepted protocol messages and `now_ns`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from autortc.protocol import AgentReady, Message, ProbeReady, ReplyEnd, ReplyStart, UtteranceEnd


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

    Never while the final user utterance has not ended, and never while a reply that
    started (`reply_start`) has not ended (`reply_end`): a long reply is recorded to
    its end. Once the final utterance has ended and no reply is open:
    - after a non-interrupted `reply_end` that followed it: that reply's end + `tail_ms`;
    - otherwise `record_pad_ms` after the final utterance ended (the agent may still
      answer; a black-box agent sends no events, so only the pad applies).
    A reply that stays open with the agent silent (no reply_end ever comes: a hung or
    crashed agent) is given up `reply_idle_ms` after the agent was last heard (the probe
    reports that with `agent_audible`); `hard_deadline_ns` bounds everything (the bot's
    own budget, inside the case timeout).
    """

    n_turns: int
    record_pad_ms: int
    tail_ms: int
    hard_deadline_ns: int | None = None
    reply_idle_ms: int | None = 3_000  # None: never give up on an open reply (no audio)
    utterances_ended: int = 0
    last_activity_t_ns: int | None = None  # latest reply_start or audible agent frame
    last_utterance_end_t_ns: int | None = None
    final_reply_end_t_ns: int | None = None
    open_replies: set[int] = field(default_factory=set)

    def observe(self, msg: Message, *, recv_t_ns: int) -> None:
        if isinstance(msg, UtteranceEnd):
            self.utterances_ended += 1
            if self.utterances_ended >= self.n_turns:
                self.last_utterance_end_t_ns = recv_t_ns
        elif isinstance(msg, ReplyStart):
            self.open_replies.add(msg.reply_seq)
            self.final_reply_end_t_ns = None  # a new reply: wait for its end
            self.agent_audible(recv_t_ns)
        elif isinstance(msg, ReplyEnd):
            self.open_replies.discard(msg.reply_seq)
            if self.last_utterance_end_t_ns is not None and not msg.interrupted:
                self.final_reply_end_t_ns = recv_t_ns

    def agent_audible(self, t_ns: int) -> None:
        """The agent was heard (or started a reply) at `t_ns`."""
        if self.last_activity_t_ns is None or t_ns > self.last_activity_t_ns:
            self.last_activity_t_ns = t_ns

    def deadline_ns(self) -> int | None:
        """When to stop; None while the final utterance or a reply has not ended."""
        if self.last_utterance_end_t_ns is None:
            return self.hard_deadline_ns
        if self.open_replies:
            if self.last_activity_t_ns is None or self.reply_idle_ms is None:
                return self.hard_deadline_ns
            idle = self.last_activity_t_ns + self.reply_idle_ms * 1_000_000
            return idle if self.hard_deadline_ns is None else min(idle, self.hard_deadline_ns)
        if self.final_reply_end_t_ns is not None:
            soft = self.final_reply_end_t_ns + self.tail_ms * 1_000_000
        else:
            soft = self.last_utterance_end_t_ns + self.record_pad_ms * 1_000_000
        return soft if self.hard_deadline_ns is None else min(soft, self.hard_deadline_ns)


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
