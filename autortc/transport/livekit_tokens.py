"""Access tokens for one participant in one room, with only the grants its role needs.

Pure: no clock beyond what `api.AccessToken.to_jwt` reads, no I/O.

Grant decisions (LiveKit semantics, checked against the SDK and server source):

| role  | canPublish | canPublishSources | canSubscribe | canPublishData | kind  | receives audio |
|-------|------------|-------------------|--------------|----------------|-------|----------------|
| user  | yes        | ["microphone"]    | yes (*)      | yes            | -     | no             |
| probe | no         | -                 | yes          | yes            | -     | yes            |
| agent | yes        | ["microphone"]    | yes          | yes            | agent | yes            |
| admin | no         | -                 | yes          | yes            | -     | yes            |

Every token also has `roomJoin` and `room=<that one room>`; none has roomCreate,
roomList, roomAdmin or roomRecord (the admin API signs its own per-call tokens).

- (*) The user bot never listens to audio, yet its token must carry `canSubscribe`:
  without it the server makes the publisher PeerConnection the primary one and
  never offers the subscriber one, while the Rust client (two-PC mode) waits for
  the subscriber to connect, so `Room.connect` times out (livekit/python-sdks#355).
  Least privilege is kept one level up instead: the user bot connects with
  `auto_subscribe=False` and `LiveKitRoomConnection` refuses `subscribe_audio`
  for a role that does not receive audio (`RoleGrants.receives_audio`).
- Receiving data packets needs no grant: the server's `BroadcastDataPacketForRoom`
  forwards a packet to every participant but the sender.
- Sending data needs `canPublishData` (every role sends protocol messages).
- `canPublishSources` is compared by the server against
  `strings.ToLower(TrackSource.String())`, so the value is the lower-case name
  "microphone" (not the proto enum int, not "MICROPHONE"); the publisher must set
  `TrackPublishOptions.source = SOURCE_MICROPHONE`, or the server refuses the track.
- `canPublish=false` makes the server refuse AddTrack (a RequestResponse
  NOT_ALLOWED, no TrackPublished): the probe can never inject audio into the room
  it measures. The Rust SDK only notices through its 10 s TRACK_PUBLISH_TIMEOUT,
  so the refusal surfaces as a PublishTrackError about 10 s later.
- `kind="agent"` makes the server report the participant as
  `ParticipantKind.PARTICIPANT_KIND_AGENT` to everyone else.
- The TTL is capped by the caller's case timeout. LiveKit checks `exp` only at the
  initial connection, so a short TTL never cuts a running case.
- `canUpdateOwnMetadata` lets a participant set its own attributes (server
  `UpdateMetadata`: without it the answer is NOT_ALLOWED, which the Python SDK 1.1.21
  does not raise). `participant_token` adds it only when asked
  (`can_update_own_metadata=True`); `LiveKitTransport.token_for` asks for it for the
  roles in `attributes.ATTRIBUTE_ROLES` (the agent, which publishes `lk.agent.state`,
  as livekit-agents' server-minted agent tokens allow by default).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from livekit import api

import autortc.transport.livekit_config  # noqa: F401  (installs the short-HMAC-key warning filter)
from autortc.errors import UsageError
from autortc.transport.base import Role

MICROPHONE_SOURCE = "microphone"  # server compares with strings.ToLower(TrackSource.String())
MIN_TTL_S = 1.0  # exp has one-second resolution


@dataclass(frozen=True)
class RoleGrants:
    can_publish: bool
    can_subscribe: bool
    can_publish_data: bool
    receives_audio: bool  # policy: does AutoRTC ever subscribe this role to audio?
    kind: api.AccessToken.ParticipantKind | None = None

    @property
    def publish_sources(self) -> list[str] | None:
        return [MICROPHONE_SOURCE] if self.can_publish else None


ROLE_GRANTS: dict[str, RoleGrants] = {
    "user": RoleGrants(
        can_publish=True, can_subscribe=True, can_publish_data=True, receives_audio=False
    ),
    "probe": RoleGrants(
        can_publish=False, can_subscribe=True, can_publish_data=True, receives_audio=True
    ),
    "agent": RoleGrants(
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        receives_audio=True,
        kind="agent",
    ),
    "admin": RoleGrants(
        can_publish=False, can_subscribe=True, can_publish_data=True, receives_audio=True
    ),
}


def role_grants(role: Role | str) -> RoleGrants:
    try:
        return ROLE_GRANTS[role]
    except KeyError:
        raise UsageError(f"unknown role {role!r}; expected one of {sorted(ROLE_GRANTS)}") from None


def video_grants(
    room: str, role: Role | str, *, can_update_own_metadata: bool = False
) -> api.VideoGrants:
    """The exact `VideoGrants` for `role` in `room` (and nothing else); with
    `can_update_own_metadata`, also that grant (to set its own attributes)."""
    if not room:
        raise UsageError("room must be a non-empty room name")
    g = role_grants(role)
    return api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=g.can_publish,
        can_publish_sources=g.publish_sources,
        can_subscribe=g.can_subscribe,
        can_publish_data=g.can_publish_data,
        can_update_own_metadata=True if can_update_own_metadata else None,  # None: absent
    )


def participant_token(
    *,
    api_key: str,
    api_secret: str,
    room: str,
    identity: str,
    role: Role | str,
    ttl_s: float,
    name: str | None = None,
    can_update_own_metadata: bool = False,
) -> str:
    """A signed JWT that lets `identity` join only `room`, with `role`'s grants
    (plus canUpdateOwnMetadata when asked).

    `ttl_s` is the case timeout (or less): the token is never valid for longer.
    """
    if not identity:
        raise UsageError("identity must be non-empty")
    if ttl_s < MIN_TTL_S:
        raise UsageError(f"ttl_s must be >= {MIN_TTL_S}, got {ttl_s}")
    ttl = datetime.timedelta(seconds=float(ttl_s))
    token = (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_name(name or identity)
        .with_grants(video_grants(room, role, can_update_own_metadata=can_update_own_metadata))
        .with_ttl(ttl)
    )
    kind = role_grants(role).kind
    if kind is not None:
        token = token.with_kind(kind)
    return token.to_jwt()
