"""Run one case attempt: fresh room, agent dispatch, two bot processes, cleanup, analysis.

The room is always deleted, on success and failure alike. Bots run as separate
processes with a hard timeout and are killed if stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autortc.artifacts import load_attempt, read_json
from autortc.audio import to_int16, write_wav
from autortc.bots.jobspec import BotJob, TurnJob
from autortc.case_audio import load_turn_audio
from autortc.case_schema import Case
from autortc.metrics.attempt import analyze_attempt
from autortc.procs import die_with_parent
from autortc.protocol import RoomMeta, room_name
from autortc.transport.base import Transport

log = logging.getLogger(__name__)

BOT_EXIT_INFRA = 3
BOT_EXIT_CRASH = 4


@dataclass(frozen=True)
class AttemptContext:
    transport: Transport
    transport_url: str
    run_id: str
    run_dir: Path
    audio_dir: Path
    pre_rtc_root: Path
    agent_name: str | None
    room_prefix: str = "autortc"
    barrier_timeout_s: float = 15.0
    blackbox: bool = False
    gates: Any = None
    local_agent: bool = True  # the agent runs on this host and can leave pre_rtc here


@dataclass
class AttemptRecord:
    case_id: str
    priority: str
    attempt: int
    trace_id: str
    room: str
    dir: Path
    metrics: dict[str, Any]
    wall_s: float


def reply_texts(case: Case) -> list[str]:
    return [case.agent.reply_for_turn(k) for k in range(len(case.turns))]


async def _run_bot(module: str, job_path: Path, log_path: Path, timeout_s: float) -> int | None:
    """Run a bot process; returns its exit code, or None when it had to be killed."""
    with log_path.open("wb") as fh:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            str(job_path),
            stdout=fh,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        try:
            async with asyncio.timeout(timeout_s):
                return await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return None
        finally:
            if proc.returncode is None:
                proc.kill()
                with contextlib.suppress(ProcessLookupError):
                    await proc.wait()


def _infra_status(rc_probe: int | None, rc_user: int | None, att_dir: Path) -> str | None:
    if rc_probe is None or rc_user is None:
        return "TIMEOUT"
    if BOT_EXIT_CRASH in (rc_probe, rc_user) or rc_probe not in (0, 3) or rc_user not in (0, 3):
        return "BOT_CRASHED"
    for name in ("probe_result.json", "user_result.json"):
        status = (read_json(att_dir / name) or {}).get("status")
        if status in ("AGENT_NOT_JOINED", "BARRIER_TIMEOUT"):
            return str(status)
    return None


def _pre_rtc_complete(src_json: Path) -> bool:
    body = read_json(src_json) or {}
    return bool(body.get("complete"))


async def _collect_pre_rtc(pre_dir: Path, att_dir: Path, *, wait_s: float) -> bool:
    """The agent rewrites pre_rtc after every reply and marks it `complete` when its
    session ends: wait briefly for that, else take the latest replies written.
    The JSON is copied before the WAV: the writer replaces the WAV first, so the copy
    never lists a reply its WAV lacks."""
    deadline = time.monotonic() + wait_s
    src_json = pre_dir / "pre_rtc.json"
    # another process writes the file: polling the file system is the only signal
    while not _pre_rtc_complete(src_json) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if not src_json.exists():
        return False
    for name in ("pre_rtc.json", "pre_rtc.wav"):
        if (pre_dir / name).exists():
            shutil.copyfile(pre_dir / name, att_dir / name)
    return True


async def run_attempt(ctx: AttemptContext, case: Case, attempt: int) -> AttemptRecord:
    t0 = time.monotonic()
    trace_id = uuid.uuid4().hex
    room = room_name(ctx.room_prefix, case.id, ctx.run_id, attempt)
    att_dir = ctx.run_dir / case.id / f"a{attempt}"
    att_dir.mkdir(parents=True, exist_ok=True)

    turns = []
    for k, turn in enumerate(case.turns):
        pcm, sidecar = load_turn_audio(case, k, ctx.audio_dir)
        turn_wav = att_dir / f"turn{k}.wav"
        write_wav(turn_wav, pcm)
        segments = sidecar.get("speech_segments") or [[0, sidecar["eot_sample"]]]
        turns.append(
            TurnJob(
                turn_index=k,
                audio_path=str(turn_wav.resolve()),
                eot_sample=int(sidecar["eot_sample"]),
                speech_start_sample=int(segments[0][0]),
                barge_in_after_agent_ms=turn.barge_in.after_agent_ms if turn.barge_in else None,
            )
        )
    texts = reply_texts(case)
    meta = RoomMeta(
        run_id=ctx.run_id,
        case_id=case.id,
        trace_id=trace_id,
        attempt=attempt,
        reply_text=texts[0],
        utterance_text=case.turns[0].say,
        extra={
            "reply_texts": texts,
            "utterance_texts": [t.say for t in case.turns],
            "voice": case.agent.voice or case.turns[0].voice,
        },
    )
    job = BotJob(
        transport_url=ctx.transport_url,
        room=room,
        trace_id=trace_id,
        case_id=case.id,
        out_dir=str(att_dir),
        turns=turns,
        barrier_timeout_s=ctx.barrier_timeout_s,
        agent_join_timeout_s=ctx.barrier_timeout_s,
        record_pad_ms=case.record_pad_ms,
        blackbox=ctx.blackbox,
    )
    job.write(att_dir / "bot_job.json")
    (att_dir / "room.json").write_text(
        json.dumps({"room": room, "metadata": json.loads(meta.to_json())}, indent=1)
    )

    infra: str | None = None
    await ctx.transport.create_room(room, metadata=meta.to_json(), agent_name=ctx.agent_name)
    try:
        rc_probe, rc_user = await asyncio.gather(
            _run_bot(
                "autortc.bots.probe_bot",
                att_dir / "bot_job.json",
                att_dir / "probe.log",
                case.timeout_s,
            ),
            _run_bot(
                "autortc.bots.user_bot",
                att_dir / "bot_job.json",
                att_dir / "user.log",
                case.timeout_s,
            ),
        )
        infra = _infra_status(rc_probe, rc_user, att_dir)
    finally:
        try:
            await ctx.transport.delete_room(room)
        except Exception as e:  # deletion failure must not hide the attempt's own outcome
            log.warning("room delete failed", extra={"room": room, "error": str(e)})
    if not ctx.blackbox:
        # a remote agent may still share the directory: look, but do not wait for it
        wait_s = 3.0 if ctx.local_agent else 0.0
        await _collect_pre_rtc(ctx.pre_rtc_root / trace_id, att_dir, wait_s=wait_s)

    inputs = load_attempt(
        att_dir,
        case_id=case.id,
        priority=case.priority,
        attempt=attempt,
        trace_id=trace_id,
        infra_status=infra,
        blackbox=ctx.blackbox,
    )
    result = analyze_attempt(inputs, gates=ctx.gates)
    metrics = result.to_dict()
    metrics.update(
        {
            "case_id": case.id,
            "priority": case.priority,
            "attempt": attempt,
            "trace_id": trace_id,
            "room": room,
        }
    )
    reply = result.reply_slice(inputs) if hasattr(result, "reply_slice") else None
    if reply is not None and len(reply):
        write_wav(att_dir / "post_rtc_reply.wav", to_int16(reply))
    trace = [{"turn_id": p.turn_id, "point": p.point, "t_ns": p.t_ns} for p in inputs.agent_trace]
    (att_dir / "agent_trace.json").write_text(
        json.dumps({"trace_id": trace_id, "points": trace}, indent=1)
    )
    (att_dir / "metrics.json").write_text(json.dumps(metrics, indent=1, default=str))
    return AttemptRecord(
        case_id=case.id,
        priority=case.priority,
        attempt=attempt,
        trace_id=trace_id,
        room=room,
        dir=att_dir,
        metrics=metrics,
        wall_s=time.monotonic() - t0,
    )
