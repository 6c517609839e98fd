"""What a room's network is: its impairment profile, its codec and its seed (pure).

The harness gives one `RoomNetwork` to the embedded transport per room (create_room);
the room server applies the links' fates and tells each participant the codec and the
playout delay in its join reply. `room_seed` makes the seed of a case's room from the
run's seed and the case (and repeat), so a case meets the same packet fates in every
run and every attempt, whatever runs beside it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Literal

from autortc.network.profiles import NetworkProfile

Codec = Literal["pcm", "opus"]
CODECS: tuple[str, ...] = ("pcm", "opus")
OPUS_BITRATE_BPS = 32_000  # a LiveKit voice track's default range


@dataclass(frozen=True)
class RoomNetwork:
    profile: NetworkProfile
    codec: Codec = "pcm"
    seed: int = 0
    name: str = "custom"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "codec": self.codec,
            "seed": self.seed,
            "profile": self.profile.model_dump(),
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> RoomNetwork:
        codec = str(body.get("codec", "pcm"))
        if codec not in CODECS:
            raise ValueError(f"codec {codec!r}: expected one of {', '.join(CODECS)}")
        return cls(
            profile=NetworkProfile.model_validate(body.get("profile") or {}),
            codec=codec,  # type: ignore[arg-type]
            seed=int(body.get("seed", 0)),
            name=str(body.get("name", "custom")),
        )

    def for_room(self, seed: int) -> RoomNetwork:
        return RoomNetwork(self.profile, self.codec, seed, self.name)


def room_seed(run_seed: int, case_id: str, repeat: int | None = None) -> int:
    return zlib.crc32(f"{run_seed}:{case_id}:{repeat or 0}".encode()) & 0x7FFFFFFF
