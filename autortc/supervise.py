"""The run's own processes, watched: a room server or agent worker that dies is named
in one sentence within `POLL_S`, and the run stops with its partial report (README,
"When something breaks"). Restarting the piece is not attempted: a worker that dies
once under a suite is a finding to look at, not to paper over."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

from autortc.bot_exit import describe_exit
from autortc.errors import InfraError

POLL_S = 0.25


@dataclass(frozen=True)
class Piece:
    name: str  # "the agent worker", "the room server"
    returncode: Callable[[], int | None]  # None while it runs


@dataclass
class Supervisor:
    pieces: list[Piece] = field(default_factory=list)

    def add(self, name: str, returncode: Callable[[], int | None]) -> None:
        self.pieces.append(Piece(name, returncode))

    def dead(self) -> str | None:
        """'the agent worker was killed by signal SIGKILL', 'the room server exited with
        code 1', or None while all run."""
        for piece in self.pieces:
            rc = piece.returncode()
            if rc is not None:
                how = f"exited with code {rc}" if rc >= 0 else f"was killed by {describe_exit(rc)}"
                return f"{piece.name} {how}"
        return None

    async def watch(self, where: str | Callable[[], str], poll_s: float = POLL_S) -> NoReturn:
        """Raise InfraError naming the dead piece and `where` (the attempts under way,
        read when it dies)."""
        while True:
            if (death := self.dead()) is not None:
                place = where() if callable(where) else where
                raise InfraError(f"{death} during {place}")
            await asyncio.sleep(poll_s)
