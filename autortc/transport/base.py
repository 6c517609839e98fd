"""The transport seam: the one interface bots and agent talk to.

Two implementations sit behind it: `local` (the embedded loopback room server,
the default) and `livekit` (real LiveKit rooms through the official SDKs).
One contract test suite (tests/contract/) runs against both.

Semantics every implementation must honour (mirroring LiveKit's rtc SDK):
- Audio is 48 kHz mono int16, 10 ms frames (480 samples).
- `AudioPublisher.capture_frame` enqueues one frame and returns once the send
  queue (bounded by `queue_size_ms`) has room; frames leave in real time.
  `queued_duration_s` is the audio still queued after the call returns
  (LiveKit: `AudioSource.queued_duration`). It is what EoT timing needs.
- A subscription yields `ReceivedFrame`s in order, each stamped with
  `recv_t_ns = time.monotonic_ns()` when the frame was handed to us.
- Messages are reliable and ordered per sender; payloads are bytes (UTF-8 JSON).
- Participant events report joins, leaves, audio-track publications and attribute
  changes of the *other* participants (never this connection's own).
- Participant attributes follow LiveKit (attributes.py): `set_attributes` merges, a
  key set to "" is deleted, keys and values are str; others see the new attributes
  and one `attributes_changed` event naming what changed ("" for a deleted key). A
  participant joining later sees the attributes already set. Only the agent role may
  set its own (LiveKit: the canUpdateOwnMetadata grant).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from autortc.network.jitter_buffer import ReceiveStats

if TYPE_CHECKING:
    from autortc.network.room import RoomNetwork

Role = Literal["user", "probe", "agent", "admin"]
ParticipantEventKind = Literal["joined", "left", "track_published", "attributes_changed"]


@dataclass(frozen=True)
class AudioEncoding:
    """How a published audio track travels: reported with the figures (Ring 1)."""

    codec: str  # "opus" (LiveKit), "pcm" (embedded: 16-bit, lossless)
    max_bitrate_bps: int | None = None  # None: not applicable (pcm)
    dtx: bool = False
    red: bool = False
    channels: int = 1

    def describe(self) -> str:
        if self.codec == "pcm":
            return f"pcm 16-bit 48 kHz, {self._ch()}, lossless"
        kbps = (
            f"max {self.max_bitrate_bps / 1000:g} kbps" if self.max_bitrate_bps else "SDK bitrate"
        )
        on = {True: "on", False: "off"}
        return f"{self.codec} {kbps}, DTX {on[self.dtx]}, RED {on[self.red]}, {self._ch()}"

    def _ch(self) -> str:
        return "mono" if self.channels == 1 else f"{self.channels} channels"


PCM_ENCODING = AudioEncoding(codec="pcm")


@dataclass(frozen=True)
class ReceivedFrame:
    pcm: np.ndarray  # int16, SAMPLES_PER_FRAME samples
    recv_t_ns: int


@dataclass(frozen=True)
class DataMessage:
    topic: str
    payload: bytes
    sender: str
    recv_t_ns: int


@dataclass(frozen=True)
class ParticipantEvent:
    kind: ParticipantEventKind
    identity: str
    is_agent: bool
    t_ns: int
    # "attributes_changed" only: each changed key with its new value, "" when deleted
    # (LiveKit's `changed_attributes`); the full set is `RoomConnection.attributes`.
    changed_attributes: Mapping[str, str] = field(default_factory=dict, hash=False)


class AudioPublisher(Protocol):
    async def capture_frame(self, pcm: np.ndarray) -> None:
        """Enqueue one 10 ms int16 frame; waits while the queue is full."""
        ...

    @property
    def queued_duration_s(self) -> float: ...

    def clear_queue(self) -> None:
        """Drop everything queued and not yet sent (used on interruption)."""
        ...

    async def wait_for_playout(self) -> None: ...

    def sent_t_ns(self, frame_index: int) -> int | None:
        """When the `frame_index`-th captured frame (0-based) left, on the host's
        monotonic clock; None when the transport cannot say (LiveKit's queue is
        native) or the frame never left (cleared, or still queued)."""
        ...

    @property
    def encoding(self) -> AudioEncoding:
        """How this track is sent (codec, bitrate, DTX, RED, channels)."""
        ...


class RoomConnection(Protocol):
    """One participant's connection to one room."""

    @property
    def identity(self) -> str: ...

    @property
    def room_name(self) -> str: ...

    @property
    def room_metadata(self) -> str: ...

    @property
    def closed(self) -> bool:
        """True once this connection has left the room or lost it: sends would fail."""
        ...

    def remote_identities(self) -> list[str]:
        """Identities of the other participants present now."""
        ...

    def has_audio_track(self, identity: str) -> bool: ...

    def is_agent(self, identity: str) -> bool | None:
        """Whether the transport says `identity` is an agent (LiveKit: participant kind
        AGENT, as a dispatched livekit-agents job is; embedded: joined in the agent
        role). None: not in the room."""
        ...

    async def publish_audio(
        self, *, queue_size_ms: int = 100, max_bitrate_bps: int | None = None
    ) -> AudioPublisher:
        """Publish this participant's one audio track. `max_bitrate_bps` caps a lossy
        codec's bitrate (LiveKit: Opus); None keeps the transport's own choice."""
        ...

    def audio_codec(self, identity: str) -> str | None:
        """The codec `identity`'s audio track arrives in, as its mime type
        ("audio/opus", "audio/red"; "audio/L16" embedded), None when unknown."""
        ...

    def receive_stats(self, identity: str) -> ReceiveStats | None:
        """What the path did to `identity`'s track before this participant got it: in
        an embedded room with a network, its jitter buffer's figures (played,
        concealed_frames, conceal_events, late, duplicates, packet_jitter_ms,
        buffer_delay_ms, fec_recovered). None where the transport gives none."""
        ...

    def subscribe_audio(self, identity: str) -> AsyncIterator[ReceivedFrame]:
        """Frames of `identity`'s audio track; waits for the track if needed.

        The iterator ends when that participant leaves or this connection closes.
        """
        ...

    async def send_message(self, topic: str, payload: bytes) -> None: ...

    def messages(self) -> AsyncIterator[DataMessage]:
        """Every topic message received from now on (one consumer)."""
        ...

    def participant_events(self) -> AsyncIterator[ParticipantEvent]:
        """Joins, leaves, track publications and attribute changes of the other
        participants, from now on (one consumer)."""
        ...

    async def set_attributes(self, attributes: Mapping[str, str]) -> None:
        """Merge `attributes` into this participant's own (LiveKit's
        `LocalParticipant.set_attributes`): a key set to "" is deleted, others are kept.
        Everyone else in the room sees them, and so does anyone who joins later.
        UsageError unless keys and values are str; TransportError when closed or when
        this role may not set attributes (only the agent may)."""
        ...

    def attributes(self, identity: str) -> dict[str, str]:
        """`identity`'s attributes as this connection last saw them (a copy); this
        connection's own identity gives its own, as set. {} when not in the room."""
        ...

    async def aclose(self) -> None:
        """Leave the room. Idempotent."""
        ...


class Transport(Protocol):
    """Room administration plus connections. Implementations: local, livekit."""

    name: str

    async def create_room(
        self,
        room: str,
        *,
        metadata: str,
        agent_name: str | None = None,
        empty_timeout_s: int = 60,
        max_participants: int = 4,
        network: RoomNetwork | None = None,
    ) -> None:
        """Create a room and, if `agent_name` is given, dispatch that agent to it.
        `network`: the impairment and codec between its participants (the embedded
        transport only; the others raise UsageError)."""
        ...

    async def delete_room(self, room: str) -> None: ...

    async def list_rooms(self, prefix: str = "") -> list[str]: ...

    async def connect(self, room: str, identity: str, *, role: Role) -> RoomConnection: ...

    async def aclose(self) -> None: ...
