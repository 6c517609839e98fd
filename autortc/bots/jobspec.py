"""The job a bot process runs: written as JSON by the orchestrator, read by the bot.

A bot never looks back up the chain: everything it needs is in its job file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

WARM_ARG = "--warm"  # `python -m autortc.bots.<bot> --warm`: take the job on stdin (bot_pool.py)


@dataclass(frozen=True)
class TurnJob:
    turn_index: int
    audio_path: str  # 48 kHz mono int16 wav made from the case
    eot_sample: int  # EoT sample inside that wav (clean utterance)
    speech_start_sample: int
    speech_segments: list[list[int]] = field(default_factory=list)  # [[first, end), ...]
    barge_in_after_agent_ms: int | None = None  # None: a normal turn


@dataclass(frozen=True)
class BotJob:
    transport_url: str
    room: str
    trace_id: str
    case_id: str
    out_dir: str
    turns: list[TurnJob] = field(default_factory=list)
    barrier_timeout_s: float = 15.0
    agent_join_timeout_s: float = 15.0
    record_pad_ms: int = 10_000
    reply_wait_timeout_s: float = 20.0  # a non-final turn waits this long for its reply_end
    gap_between_turns_ms: int = 600
    stop_tail_ms: int = 1_000  # recording kept after the final reply_end
    queue_size_ms: int = 50
    blackbox: bool = False  # the agent speaks no protocol: barrier is its first frame
    max_duration_s: float = 120.0  # the bot ends itself, results written, by then

    def hard_deadline_ns(self, start_ns: int) -> int:
        return start_ns + int(self.max_duration_s * 1e9)

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def read(cls, path: str | Path) -> BotJob:
        body = json.loads(Path(path).read_text())
        body["turns"] = [TurnJob(**t) for t in body.get("turns", [])]
        return cls(**body)
