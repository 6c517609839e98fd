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
DEATH_GRACE_S = 1.0  # how long a failure of the work waits to learn whether a piece died


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

    async def death_behind(self, grace_s: float = DEATH_GRACE_S) -> str | None:
        """The death of a piece, if one is found within `grace_s`: the work may fail on
        a dead piece (a refused connection) before the watch's next poll, or before the
        dead process is reaped; the death, not its symptom, is what the run reports."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        # a process that dies sends nothing to wait on: polling is the only signal
        while (death := self.dead()) is None and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return death
