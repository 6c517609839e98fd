"""Participant tokens: one room, exact grants per role, TTL capped (verified with api.TokenVerifier)."""

from __future__ import annotations

import jwt
import pytest
from livekit import api

from autortc.errors import UsageError
from autortc.transport.livekit import LiveKitTransport
from autortc.transport.livekit_tokens import participant_token

KEY = "APIofflinekey"
SECRET = "offline-secret-0123456789abcdefghijklmnop"
ROOM = "autortc-case1-abc123-a1"


def _mint(role: str, *, ttl_s: float = 30.0, identity: str = "autortc-user") -> str:
    return participant_token(
        api_key=KEY, api_secret=SECRET, room=ROOM, identity=identity, role=role, ttl_s=ttl_s
    )


def _raw(token: str) -> dict:
    return jwt.decode(token, SECRET, algorithms=["HS256"], issuer=KEY)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            "user",
            {
                "canPublish": True,
                "canPublishSources": ["microphone"],
                "canSubscribe": True,  # needed to connect (python-sdks#355); never used
                "canPublishData": True,
            },
        ),
        ("probe", {"canPublish": False, "canSubscribe": True, "canPublishData": True}),
        (
            "agent",
            {
                "canPublish": True,
                "canPublishSources": ["microphone"],
                "canSubscribe": True,
                "canPublishData": True,
            },
        ),
        ("admin", {"canPublish": False, "canSubscribe": True, "canPublishData": True}),
    ],
)
def test_each_role_gets_exactly_its_grants_in_one_room(role: str, expected: dict) -> None:
    token = _mint(role)
    claims = api.TokenVerifier(KEY, SECRET).verify(token)
    assert claims.identity == "autortc-user"
    assert claims.video is not None
    assert claims.video.room == ROOM
    assert claims.video.room_join is True
    # the raw JWT video grant: nothing more than join + room + the role's permissions
    assert _raw(token)["video"] == {"roomJoin": True, "room": ROOM, **expected}
    assert not claims.video.room_create
    assert not claims.video.room_list
    assert not claims.video.room_admin
    assert not claims.video.room_record


def test_agent_token_has_participant_kind_agent_and_others_none() -> None:
    assert api.TokenVerifier(KEY, SECRET).verify(_mint("agent")).kind == "agent"
    for role in ("user", "probe", "admin"):
        assert api.TokenVerifier(KEY, SECRET).verify(_mint(role)).kind == ""


def test_probe_token_cannot_publish_any_source() -> None:
    video = api.TokenVerifier(KEY, SECRET).verify(_mint("probe")).video
    assert video is not None
    assert video.can_publish is False
    assert not video.can_publish_sources


@pytest.mark.parametrize("ttl_s", [5.0, 30.0, 600.0])
def test_ttl_never_exceeds_the_case_timeout(ttl_s: float) -> None:
    raw = _raw(_mint("user", ttl_s=ttl_s))
    assert 0 < raw["exp"] - raw["nbf"] <= ttl_s


def test_token_signed_with_another_secret_is_rejected() -> None:
    with pytest.raises(jwt.InvalidSignatureError):
        api.TokenVerifier(KEY, "another-secret-0123456789abcdefghijkl").verify(_mint("user"))


def test_bad_role_identity_and_ttl_are_refused() -> None:
    with pytest.raises(UsageError, match="unknown role"):
        _mint("superuser")
    with pytest.raises(UsageError, match="identity"):
        _mint("user", identity="")
    with pytest.raises(UsageError, match="ttl_s"):
        _mint("user", ttl_s=0)


def test_transport_tokens_use_the_transport_ttl() -> None:
    transport = LiveKitTransport(
        url="ws://127.0.0.1:7880", api_key=KEY, api_secret=SECRET, token_ttl_s=42
    )
    raw = _raw(transport.token_for(ROOM, "autortc-probe", role="probe"))
    assert raw["sub"] == "autortc-probe"
    assert raw["exp"] - raw["nbf"] <= 42
