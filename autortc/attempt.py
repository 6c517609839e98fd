"""Run one case attempt: fresh room, agent dispatch, two bot processes, cleanup, analysis.

    job = build_job(ctx, case, attempt)          # pure: ids, the bots' job, the metadata
    write_job_files(job)                         # turn wavs, bot_job.json, room.json
    bots = await run_bots(ctx, job)              # both bot processes in one TaskGroup
    await collect_pre_rtc(...)                   # the agent's pre-network audio
    record = analyze(ctx, job, bots.status)      # inputs -> AttemptRow + CaseView

The room is always deleted, on success and failure alike. Bots run as separate
processes with a hard timeout and are killed if stuck. A file of the attempt that
cannot be read (e.g. a 16 kHz pre_rtc.wav) makes the attempt INFRA with a one-line
reason; the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from autortc.artifacts import load_attempt, probe_stamps, read_json
from autortc.audio import SAMPLE_RATE_HZ, to_int16, write_wav
from autortc.bot_exit import BotsOutcome, classify_bots
from autortc.bot_pool import BOT_FLUSH_S, BotPool, run_bot_process
from autortc.bots.jobspec import BotJob, TurnJob
from autortc.case_audio import load_turn_audio
from autortc.case_schema import Case
from autortc.clock import MONOTONIC, Clock
from autortc.errors import ArtifactError
from autortc.metrics.attempt import analyze_attempt, analyze_attempt_work, reply_slice_audio
from autortc.metrics.inputs import AttemptInputs
from autortc.metrics.ring3 import DEFAULT_WITHIN_MS
from autortc.metrics.rows import AttemptRow, attempt_tag
from autortc.metrics.status import BAD_ARTIFACT, should_retry
from autortc.network.profiles import NETWORK_OFF, profile_named
from autortc.network.room import RoomNetwork, room_seed
from autortc.phases import attempt_phases_ms
from autortc.protocol import RoomMeta, room_name
from autortc.quality.run import ReplyPair, reply_pair
from autortc.report.html import CaseView
from autortc.report.views import case_view
from autortc.transport.base import Transport

log = logging.getLogger(__name__)

BOT_EXIT_CRASH = 4
PRE_RTC_WAIT_S = 3.0
BOT_MARGIN_S = 5.0  # a bot's own budget ends this long before the case timeout


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
    local_agent: bool = True  # the agent runs on this host and can leave pre_rtc here
    defect: str | None = None  # for every room: a defect the reference agent injects
    stray: bool = False  # fault check: a stray participant sends garbage into every room
    bots: BotPool | None = None  # warm bot processes (None: each bot starts cold)
    network: RoomNetwork | None = None  # embedded transport: the rooms' simulated network
    model_figures: bool = False  # keep each first reply for the quality pass (quality/run.py)


@dataclass(frozen=True)
class AttemptJob:
    """Everything one attempt needs, decided before anything starts."""

    case: Case
    attempt: int
    trace_id: str
    room: str
    dir: Path
    meta: RoomMeta
    bot_job: BotJob
    repeat: int | None = None


@dataclass
class AttemptRecord:
    case_id: str
    priority: str
    attempt: int
    trace_id: str
    room: str
    dir: Path
    row: AttemptRow
    wall_s: float
    view: CaseView | None = None
    repeat: int | None = None  # with --repeat N: 1..N
    pair: ReplyPair | None = None  # the first reply at 16 kHz, for the quality pass

    @property
    def retry(self) -> bool:
        return should_retry(self.row.capture_status)


def reply_texts(case: Case) -> list[str]:
    return [case.agent.reply_for_turn(k) for k in range(len(case.turns))]


def build_job(
    ctx: AttemptContext, case: Case, attempt: int, repeat: int | None = None
) -> AttemptJob:
    """Ids, the bots' job and the room metadata of one attempt (no I/O but the case audio).
    With a `repeat` the room and directory carry it (`r{repeat}a{attempt}`)."""
    trace_id = uuid.uuid4().hex
    tag = attempt_tag(attempt, repeat)
    room = room_name(ctx.room_prefix, case.id, ctx.run_id, tag)
    att_dir = ctx.run_dir / case.id / tag
    turns = []
    speech_ms = []
    for k, turn in enumerate(case.turns):
        _, sidecar = load_turn_audio(case, k, ctx.audio_dir)
        segments = sidecar.get("speech_segments") or [[0, sidecar["eot_sample"]]]
        speech_ms.append(sum(int(b) - int(a) for a, b in segments) * 1000 // SAMPLE_RATE_HZ)
        turns.append(
            TurnJob(
                turn_index=k,
                audio_path=str((att_dir / f"turn{k}.wav").resolve()),
                eot_sample=int(sidecar["eot_sample"]),
                speech_start_sample=int(segments[0][0]),
                speech_segments=[[int(a), int(b)] for a, b in segments],
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
        reply_texts=tuple(texts),
        utterance_texts=tuple(t.say for t in case.turns),
        utterance_speech_ms=tuple(speech_ms),
        voice=case.agent.voice or case.turns[0].voice,
        defect=ctx.defect or case.agent.defect,
        calibration_delay_ms=case.agent.calibration_delay_ms,
        stt=case.agent.stt,
    )
    bot_job = BotJob(
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
        # the bots end themselves before the harness kills them at the case timeout
        max_duration_s=max(case.timeout_s - BOT_MARGIN_S, case.timeout_s / 2),
    )
    return AttemptJob(case, attempt, trace_id, room, att_dir, meta, bot_job, repeat)


def write_job_files(ctx: AttemptContext, job: AttemptJob) -> None:
    job.dir.mkdir(parents=True, exist_ok=True)
    for k in range(len(job.case.turns)):
        pcm, _ = load_turn_audio(job.case, k, ctx.audio_dir)
        write_wav(job.dir / f"turn{k}.wav", pcm)
    job.bot_job.write(job.dir / "bot_job.json")
    room_doc = {"room": job.room, "metadata": json.loads(job.meta.to_json())}
    (job.dir / "room.json").write_text(json.dumps(room_doc, indent=1))


async def run_bots(
    ctx: AttemptContext, job: AttemptJob, stamps: dict[str, int | None] | None = None
) -> BotsOutcome:
    """Create the room, run both bots to the end in one TaskGroup, delete the room.
    `stamps` gets the monotonic ns at which each of those steps ended (phases.py)."""
    stamps = {} if stamps is None else stamps
    timeout_s = job.case.timeout_s
    job_path = job.dir / "bot_job.json"
    network = None
    if ctx.network is not None:  # each case (and repeat) meets the same packet fates
        network = ctx.network.for_room(room_seed(ctx.network.seed, job.case.id, job.repeat))
        if job.case.network == NETWORK_OFF:  # the case pins the raw path
            network = None
        elif job.case.network is not None:  # the case pins its own (a shipped profile)
            network = RoomNetwork(
                profile_named(job.case.network), network.codec, network.seed, job.case.network
            )
    await ctx.transport.create_room(
        job.room, metadata=job.meta.to_json(), agent_name=ctx.agent_name, network=network
    )
    stamps["room_create"] = time.monotonic_ns()
    stray = (
        asyncio.create_task(
            run_bot_process(
                "autortc.bots.stray_bot", job_path, job.dir / "stray.log", timeout_s, ctx.bots
            ),
            name=f"attempt.stray.{job.room}",
        )
        if ctx.stray
        else None
    )
    try:
        async with asyncio.TaskGroup() as tg:
            probe = tg.create_task(
                run_bot_process(
                    "autortc.bots.probe_bot", job_path, job.dir / "probe.log", timeout_s, ctx.bots
                ),
                name=f"attempt.probe.{job.room}",
            )
            user = tg.create_task(
                run_bot_process(
                    "autortc.bots.user_bot", job_path, job.dir / "user.log", timeout_s, ctx.bots
                ),
                name=f"attempt.user.{job.room}",
            )
        stamps["bots_exit"] = time.monotonic_ns()
        return classify_bots(probe.result(), user.result(), job.dir)
    finally:
        try:
            await ctx.transport.delete_room(job.room)
            stamps["room_delete"] = time.monotonic_ns()
        except Exception as e:  # deletion failure must not hide the attempt's own outcome
            log.warning("room delete failed", extra={"room": job.room, "error": str(e)})
        if stray is not None:  # it leaves when the room is gone (within a poll)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stray, BOT_FLUSH_S + 3.0)


def _pre_rtc_complete(src_json: Path) -> bool:
    body = read_json(src_json) or {}
    return bool(body.get("complete"))


async def collect_pre_rtc(
    pre_dir: Path, att_dir: Path, *, wait_s: float, clock: Clock = MONOTONIC
) -> bool:
    """The agent rewrites pre_rtc after every reply and marks it `complete` when its
    session ends: wait briefly for that, else take the latest replies written.
    The JSON is copied before the WAV: the writer replaces the WAV first, so the copy
    never lists a reply its WAV lacks."""
    deadline_ns = clock.now_ns() + int(wait_s * 1e9)
    src_json = pre_dir / "pre_rtc.json"
    # another process writes the file: polling the file system is the only signal
    while not _pre_rtc_complete(src_json) and clock.now_ns() < deadline_ns:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if not src_json.exists():
        return False
    for name in ("pre_rtc.json", "pre_rtc.wav", "agent_in.json", "agent_in.wav"):
        if (pre_dir / name).exists():
            shutil.copyfile(pre_dir / name, att_dir / name)
    return True


def _inputs(ctx: AttemptContext, job: AttemptJob, infra: str | None) -> AttemptInputs:
    case = job.case
    return load_attempt(
        job.dir,
        case_id=case.id,
        priority=case.priority,
        attempt=job.attempt,
        trace_id=job.trace_id,
        infra_status=infra,
        blackbox=ctx.blackbox,
        expects_reply=case.expect.reply,
        reply_within_ms=case.expect.within_ms or DEFAULT_WITHIN_MS,
        noisy_turns=frozenset(k for k, t in enumerate(case.turns) if t.noise is not None),
    )


def analyze(
    ctx: AttemptContext, job: AttemptJob, infra: str | None
) -> tuple[AttemptRow, CaseView, ReplyPair | None]:
    """Load the attempt's files, compute every figure and the report's view of it.

    A file that cannot be read makes the attempt BAD_ARTIFACT (INFRA, not retried):
    its row carries the one-line reason, and no figure is computed from the others.
    """
    try:
        inputs = _inputs(ctx, job, infra)
    except ArtifactError as e:
        log.warning("attempt artifacts unreadable", extra={"dir": str(job.dir), "error": str(e)})
        empty = AttemptInputs(
            case_id=job.case.id,
            priority=job.case.priority,
            attempt=job.attempt,
            trace_id=job.trace_id,
            sample_rate_hz=SAMPLE_RATE_HZ,
            post_full=np.zeros(0, np.float32),
            post_frame_recv_t_ns=np.zeros(0, np.int64),
            input_audio=np.zeros(0, np.float32),
            infra_status=BAD_ARTIFACT,
        )
        row = replace(analyze_attempt(empty), status_reason=str(e), repeat=job.repeat)
        return row.with_room(job.room), case_view(empty, row), None
    row, first = analyze_attempt_work(inputs)
    row = replace(row, repeat=job.repeat).with_room(job.room)
    pair = None
    if ctx.model_figures and first is not None and len(first.audio):
        pair = reply_pair(
            first.audio,
            first.pre_on_slice,
            sample_rate_hz=inputs.sample_rate_hz,
            text=job.case.agent.reply_for_turn(0),
            interrupted=bool(first.sl.interrupted),
        )
    reply = reply_slice_audio(inputs, row)
    if reply is not None and len(reply):
        write_wav(job.dir / "post_rtc_reply.wav", to_int16(reply))
    trace = [{"turn_id": p.turn_id, "point": p.point, "t_ns": p.t_ns} for p in inputs.agent_trace]
    (job.dir / "agent_trace.json").write_text(
        json.dumps({"trace_id": job.trace_id, "points": trace}, indent=1)
    )
    return row, case_view(inputs, row), pair


def _dispatch_warnings(ctx: AttemptContext, job: AttemptJob) -> tuple[str, ...]:
    """LiveKit: how often the room's dispatch was refused and sent again
    (transport/livekit_dispatch.py); the other transports never refuse one."""
    count = getattr(ctx.transport, "redispatches", None)
    n = count(job.room) if callable(count) else 0
    if not n:
        return ()
    return (
        f"the agent dispatch found no available worker and was sent again {n} time(s) "
        "(the agent joined late by that much)",
    )


async def run_attempt(
    ctx: AttemptContext, case: Case, attempt: int, repeat: int | None = None
) -> AttemptRecord:
    t0 = time.monotonic()
    start_ns = time.monotonic_ns()
    job = build_job(ctx, case, attempt, repeat)
    write_job_files(ctx, job)
    stamps: dict[str, int | None] = {"prepare": time.monotonic_ns()}
    bots = await run_bots(ctx, job, stamps)
    if not ctx.blackbox:
        # a remote agent may still share the directory: look, but do not wait for it
        wait_s = PRE_RTC_WAIT_S if ctx.local_agent else 0.0
        await collect_pre_rtc(ctx.pre_rtc_root / job.trace_id, job.dir, wait_s=wait_s)
        stamps["pre_rtc_wait"] = time.monotonic_ns()
    row, view, pair = analyze(ctx, job, bots.status)
    stamps["analyze"] = time.monotonic_ns()
    stamps.update(probe_stamps(job.dir))
    row = replace(row, phases_ms=attempt_phases_ms(start_ns, stamps))
    warnings = tuple(bots.warnings) + _dispatch_warnings(ctx, job)
    if warnings:
        log.warning("attempt warning", extra={"dir": str(job.dir), "warnings": warnings})
        row = replace(row, warnings=warnings)
    (job.dir / "metrics.json").write_text(json.dumps(row.to_dict(), indent=1, default=str))
    return AttemptRecord(
        case_id=case.id,
        priority=case.priority,
        attempt=attempt,
        trace_id=job.trace_id,
        room=job.room,
        dir=job.dir,
        row=row,
        wall_s=time.monotonic() - t0,
        view=view,
        repeat=repeat,
        pair=pair,
    )
