"""A receiver's fixed-delay jitter buffer (pure, driven by the times it is given).

Packets carry a sequence number, their send time (on the sender's schedule: RTP's media
clock) and their arrival time. The first
packet to arrive, and each talk spurt's first, anchors the playout clock: packet `s`
plays at

    anchor_due_ms + (s - anchor_seq) * frame_ms,  anchor_due_ms = max(its arrival,
        its send time + the least transit (arrival - send) seen + playout_delay_ms)

so the playout delay is counted from the network's delay floor, not from whatever
jitter the anchoring packet happened to meet.

`pop(now_ms)` hands out every frame due by `now_ms`, in sequence order: the packet's
payload, or None for a frame to conceal (lost, or not there yet when due). A packet
that arrives while its slot's run is still being concealed is played at once, and the
playout clock moves later by the run so far (`stretches`: late audio is delayed, not
lost, as an adaptive buffer does; the concealed frames stay as an inserted gap); one
whose slot was played already is discarded and counted `late`. A talk spurt's first
packet (`spurt_start`: sound after a second of silence, e.g. a reply's first) re-anchors
the clock so that it plays exactly the playout delay after it arrived: the silence
before it absorbs the move. Inside a spurt the clock holds, so a reply's pauses keep
their length and late packets are late. A spurt's first
packet, or one the sender marks `resumed` (it stalled), that comes while its own slot
is being concealed means the sender paused: the frames played meanwhile are its
silence, not a concealment. A run of missing frames that audio follows
is one concealment event; a run that nothing follows is the track's end or a pause,
not a loss, and is not counted. After `max_conceal_frames` missing in a row the
stream is taken to have paused (a track with nothing to send): the buffer goes idle,
and the next packet re-anchors the clock, as a talk spurt does.

Figures (`stats()`):
- `packet_jitter_ms`: RFC 3550 inter-arrival jitter, before the buffer: J += (|D| - J)
  / 16 with D = (R_i - R_j) - (S_i - S_j) over consecutive arrivals;
- `concealed_frames` and `conceal_events`, `late` and `duplicates`;
- `buffer_delay_ms`: the mean time a played packet waited (playout - arrival);
- `min_transit_ms`: the least arrival - send seen, the path's floor (its configured
  one-way delay and what the transport itself adds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Generic, TypeVar

P = TypeVar("P")

# a receiver's figures for one track, as the transports report them (`receive_stats`):
# JitterStats' fields, `fec_recovered`, and `conceal_event_t_ns`, the playout time of
# each concealment event's first frame (on the receiver's clock)
ReceiveStats = dict[str, float | int | list[int] | None]

MAX_CONCEAL_FRAMES = 25  # 500 ms of 20 ms frames missing in a row: the sender paused


@dataclass(frozen=True)
class JitterStats:
    played: int
    concealed_frames: int
    conceal_events: int
    late: int
    duplicates: int
    stretches: int
    packet_jitter_ms: float
    buffer_delay_ms: float | None
    min_transit_ms: float | None = None  # the network's floor: least arrival - send

    @classmethod
    def from_dict(cls, body: Mapping[str, object]) -> JitterStats | None:
        """From `asdict` (a probe_result.json), extra keys ignored; None when unreadable."""
        names = [f.name for f in fields(cls) if f.name != "min_transit_ms"]
        try:
            floor = body.get("min_transit_ms")
            return cls(
                **{k: body[k] for k in names},  # type: ignore[arg-type]
                min_transit_ms=float(floor) if isinstance(floor, int | float) else None,
            )
        except (KeyError, TypeError):
            return None


class JitterBuffer(Generic[P]):
    def __init__(
        self,
        *,
        playout_delay_ms: float,
        frame_ms: float = 20.0,
        max_conceal_frames: int = MAX_CONCEAL_FRAMES,
    ) -> None:
        self.playout_delay_ms = playout_delay_ms
        self.frame_ms = frame_ms
        self.max_conceal_frames = max_conceal_frames
        self._held: dict[int, tuple[P, float]] = {}  # seq -> (payload, arrival ms)
        self.skipped: list[tuple[int, P]] = []  # dropped at a spurt's start, not played
        self._anchor: tuple[int, float] | None = None  # (seq, its playout ms)
        self._next_seq = 0
        self._missing_run = 0
        self._played = self._concealed = self._events = self._late = self._dup = 0
        self._stretches = 0
        self.event_t_ms: list[float] = []  # the playout time of each event's first frame
        self._waited_ms = 0.0
        self._jitter_ms = 0.0
        self._min_transit_ms = float("inf")  # the fastest packet's arrival - send
        self._last: tuple[float, float] | None = None  # (send ms, arrival ms)

    def push(
        self,
        seq: int,
        payload: P,
        *,
        send_t_ms: float,
        arrival_t_ms: float,
        spurt_start: bool = False,
        resumed: bool = False,
    ) -> None:
        if self._last is not None:
            d = (arrival_t_ms - self._last[1]) - (send_t_ms - self._last[0])
            self._jitter_ms += (abs(d) - self._jitter_ms) / 16.0
        self._last = (send_t_ms, arrival_t_ms)
        transit = arrival_t_ms - send_t_ms
        self._min_transit_ms = min(self._min_transit_ms, transit)
        if self._anchor is None:
            self._anchor = (seq, self._spurt_due_ms(send_t_ms, arrival_t_ms))
            self._next_seq = seq
        if seq < self._next_seq:
            run_start = self._next_seq - self._missing_run
            if self._missing_run and seq >= run_start and self._anchor is not None:
                # late, not lost: the gap so far was inserted; when the sender says a
                # talk spurt starts with the run's first packet, it paused (nothing
                # was lost) and the gap is its silence, not a concealment
                self._stretch(seq, paused=(spurt_start or resumed) and seq == run_start)
            else:
                self._late += 1  # its slot was played (concealed) already
                return
        if seq in self._held:
            self._dup += 1
            return
        if spurt_start and seq >= self._next_seq:
            self._respurt(seq, self._spurt_due_ms(send_t_ms, arrival_t_ms))
        self._held[seq] = (payload, arrival_t_ms)

    def _spurt_due_ms(self, send_t_ms: float, arrival_t_ms: float) -> float:
        """When a spurt's first packet plays: `playout_delay_ms` after it would have
        arrived over the fastest path seen (its send time + the least transit so far),
        and never before it did arrive. One slow first packet then does not lift the
        whole spurt's clock: the delay is configured against the network's floor."""
        return max(arrival_t_ms, send_t_ms + self._min_transit_ms + self.playout_delay_ms)

    def _respurt(self, seq: int, want: float) -> None:
        """A talk spurt's first packet re-anchors the clock to play at `want`
        (`_spurt_due_ms`), as NetEq restarts after a pause. Later (the packet is short
        of the delay): everything still to play moves with it. Earlier (the last spurt's
        clock ran late): what is held before it is the silence that ended the last
        spurt, dropped, and the slots it skips are not concealment; the dropped packets
        wait in `skipped` (in sequence order) for a decoder that must see every packet
        to stay in step."""
        due = self.playout_t_ms(seq)
        if due is not None and self._anchor is not None and want >= due:
            a_seq, a_t = self._anchor
            self._anchor = (a_seq, a_t + (want - due))
            return
        for old in sorted(s for s in self._held if s < seq):
            self.skipped.append((old, self._held.pop(old)[0]))
        self._anchor = (seq, want)
        self._next_seq = seq
        self._missing_run = 0

    def _stretch(self, seq: int, *, paused: bool = False) -> None:
        """A packet of the run being concealed arrived: play it now rather than drop
        it, and everything after it that much later (a sender that stalled, or a
        network spike, delays the audio instead of losing it, as an adaptive jitter
        buffer does). The frames concealed so far stay, as an inserted gap."""
        assert self._anchor is not None
        a_seq, a_t = self._anchor
        run_t = self.playout_t_ms(self._next_seq - self._missing_run)
        self._anchor = (a_seq, a_t + (self._next_seq - seq) * self.frame_ms)
        if not paused:
            self._concealed += self._missing_run
            self._events += 1
            if run_t is not None:
                self.event_t_ms.append(run_t)
            self._stretches += 1
        self._missing_run = 0
        self._next_seq = seq

    def held(self, seq: int) -> P | None:
        """The payload of packet `seq` if it is waiting (FEC reads the next packet)."""
        item = self._held.get(seq)
        return None if item is None else item[0]

    def playout_t_ms(self, seq: int) -> float | None:
        if self._anchor is None:
            return None
        a_seq, a_t = self._anchor
        return a_t + (seq - a_seq) * self.frame_ms

    def next_due_ms(self) -> float | None:
        """When the next frame is due (None while idle)."""
        return self.playout_t_ms(self._next_seq)

    def pop(self, now_ms: float) -> list[tuple[int, P | None]]:
        out: list[tuple[int, P | None]] = []
        while (due := self.next_due_ms()) is not None and due <= now_ms:
            seq = self._next_seq
            self._next_seq += 1
            held = self._held.pop(seq, None)
            if held is not None:
                payload, arrival = held
                self._played += 1
                self._waited_ms += due - arrival
                if self._missing_run:  # audio resumed: the run was a concealment
                    self._concealed += self._missing_run
                    self._events += 1
                    self.event_t_ms.append(due - self._missing_run * self.frame_ms)
                    self._missing_run = 0
                out.append((seq, payload))
                continue
            self._missing_run += 1
            if self._missing_run > self.max_conceal_frames and not self._held:
                # the sender paused: stop concealing, re-anchor on the next packet
                self._anchor = None
                self._missing_run = 0
                break
            out.append((seq, None))
        return out

    def stats(self) -> JitterStats:
        return JitterStats(
            played=self._played,
            concealed_frames=self._concealed,
            conceal_events=self._events,
            late=self._late,
            duplicates=self._dup,
            stretches=self._stretches,
            packet_jitter_ms=self._jitter_ms,
            buffer_delay_ms=self._waited_ms / self._played if self._played else None,
            min_transit_ms=None if self._min_transit_ms == float("inf") else self._min_transit_ms,
        )
