"""Collecting an agent's pre_rtc files while the agent may still be writing them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np

from autortc.attempt import collect_pre_rtc
from autortc.audio import read_wav, write_wav
from autortc.clock import LoopClock

CLOCK = LoopClock()


def _write(pre: Path, n_replies: int, *, complete: bool) -> None:
    """What the hooks write: the WAV first, then the JSON listing its replies."""
    pcm = np.arange(n_replies * 480, dtype=np.int16)
    write_wav(pre / "pre_rtc.wav", pcm)
    replies = [
        {"reply_seq": k, "start_sample": k * 480, "end_sample": (k + 1) * 480}
        for k in range(n_replies)
    ]
    body = {"sample_rate_hz": 48000, "replies": replies, "complete": complete}
    (pre / "pre_rtc.json").write_text(json.dumps(body))


async def test_waits_for_the_complete_files_when_the_agent_finishes_in_time(
    tmp_path: Path, virtual_clock: object
) -> None:
    pre, att = tmp_path / "pre", tmp_path / "att"
    pre.mkdir()
    att.mkdir()
    _write(pre, 1, complete=False)

    async def agent_finishes() -> None:
        await asyncio.sleep(0.3)
        _write(pre, 2, complete=True)

    writer = asyncio.create_task(agent_finishes())
    assert await collect_pre_rtc(pre, att, wait_s=3.0, clock=CLOCK)
    await writer
    body = json.loads((att / "pre_rtc.json").read_text())
    pcm, _ = read_wav(att / "pre_rtc.wav")
    assert body["complete"] is True
    assert len(body["replies"]) == 2
    assert len(pcm) == 2 * 480


async def test_takes_the_latest_replies_when_the_agent_never_completes(
    tmp_path: Path, virtual_clock: object
) -> None:
    pre, att = tmp_path / "pre", tmp_path / "att"
    pre.mkdir()
    att.mkdir()
    _write(pre, 1, complete=False)
    assert await collect_pre_rtc(pre, att, wait_s=0.2, clock=CLOCK)
    body = json.loads((att / "pre_rtc.json").read_text())
    pcm, _ = read_wav(att / "pre_rtc.wav")
    assert body["complete"] is False
    assert len(pcm) >= body["replies"][-1]["end_sample"]  # the WAV covers every reply listed


async def test_nothing_written_is_reported_as_missing(
    tmp_path: Path, virtual_clock: object
) -> None:
    assert not await collect_pre_rtc(tmp_path / "none", tmp_path, wait_s=0.1, clock=CLOCK)


def test_write_wav_leaves_no_temporary_file(tmp_path: Path) -> None:
    write_wav(tmp_path / "x.wav", np.zeros(480, dtype=np.int16))
    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"]
