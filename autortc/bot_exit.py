"""What the bots' exits mean for an attempt (pure but for reading their result files).

A bot writes its recordings first and its result file (`probe_result.json`,
`user_result.json`) last, in `finally`. What can still go wrong after that is the
teardown of the SDK: on a real LiveKit server the Rust runtime has aborted a bot at
`Room.disconnect` after its results were on disk. Such a bot is not a crash of the
attempt: it keeps its status and figures, and the attempt carries a warning naming
the bot and how it exited. A bot that died before its result file was complete is
`BOT_CRASHED`, as before. A bot the harness had to kill at the case timeout is
`TIMEOUT`.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from autortc.artifacts import read_json
from autortc.bots.common import BOT_EXIT_INFRA
from autortc.bots.results import ProbeResult, UserResult
from autortc.metrics.status import (
    AGENT_NOT_JOINED,
    BARRIER_TIMEOUT,
    BOT_CRASHED,
    ROOM_GONE,
    TIMEOUT,
)

OK_CODES = (0, BOT_EXIT_INFRA)
BOTS: tuple[tuple[str, str, type[BaseModel]], ...] = (
    ("probe", "probe_result.json", ProbeResult),
    ("user bot", "user_result.json", UserResult),
)


@dataclass(frozen=True)
class BotsOutcome:
    """The attempt's infrastructure status (None: the bots did their job) and warnings."""

    status: str | None
    warnings: tuple[str, ...] = ()


def describe_exit(rc: int) -> str:
    """'exit 4', or 'signal SIGABRT' for a process a signal ended (rc < 0)."""
    if rc >= 0:
        return f"exit {rc}"
    try:
        return f"signal {signal.Signals(-rc).name}"
    except ValueError:
        return f"signal {-rc}"


def read_result(att_dir: Path, name: str, model: type[BaseModel]) -> BaseModel | None:
    """The bot's result if its file is there and complete, else None."""
    body = read_json(att_dir / name)
    if not body:
        return None
    try:
        return model.model_validate(body)
    except ValidationError:
        return None


def classify_bots(rc_probe: int | None, rc_user: int | None, att_dir: Path) -> BotsOutcome:
    if rc_probe is None or rc_user is None:
        return BotsOutcome(TIMEOUT)
    warnings: list[str] = []
    results: list[BaseModel] = []
    for (bot, name, model), rc in zip(BOTS, (rc_probe, rc_user), strict=True):
        result = read_result(att_dir, name, model)
        if rc not in OK_CODES:
            if result is None:
                return BotsOutcome(BOT_CRASHED)
            warnings.append(
                f"the {bot} exited abnormally ({describe_exit(rc)}) after writing its results"
            )
        if result is not None:
            results.append(result)
    for result in results:
        status = getattr(result, "status", None)
        if status in (AGENT_NOT_JOINED, BARRIER_TIMEOUT, ROOM_GONE):
            return BotsOutcome(str(status), tuple(warnings))
    return BotsOutcome(None, tuple(warnings))
