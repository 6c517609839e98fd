"""Load one attempt directory into `AttemptInputs` for the pure measurement core.

An attempt directory (output/autortc/<run_id>/<case_id>/a<attempt>/) holds the
files listed in docs/spec/measurement.md. This module only reads them; the figures
are computed by `autortc.metrics`. A file that exists but cannot be read, or holds
audio in the wrong format, raises `ArtifactError` with the file named: the attempt
is then INFRA, with that one line as its reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

import numpy as np
from pydantic import ValidationError

from autortc.audio import SAMPLE_RATE_HZ, read_wav, to_float
from autortc.bots.results import EventRecord, ProbeResult, UserResult
from autortc.errors import ArtifactError, map_exceptions
from autortc.host_clock import shares_clock
from autortc.metrics.inputs import AttemptInputs, ReplyEvents, TracePoint, TurnTiming
from autortc.protocol import (
    AgentInManifest,
    AgentReady,
    AudioPublishInfo,
    Message,
    PreRtcManifest,
    ReplyEnd,
    ReplyStart,
    Trace,
)
from autortc.transport.base import AudioEncoding

_R = TypeVar("_R", ProbeResult, UserResult)
_M = TypeVar("_M", PreRtcManifest, AgentInManifest)


def read_json(path: Path) -> dict[str, object] | None:
    """A JSON object from `path`, or None when it is missing or not a JSON object."""
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def read_events(path: Path) -> list[tuple[Message, int]]:
    """Accepted protocol messages from events.jsonl, each with its receive time."""
    out: list[tuple[Message, int]] = []
    if not path.exists():
        return out
    with map_exceptions(ArtifactError, f"{path}: unreadable"):
        lines = path.read_text().splitlines()
    for line in lines:
        try:
            rec = EventRecord.model_validate_json(line)
        except ValidationError:
            continue  # a torn last line (the probe was killed mid-write) is not an event
        if rec.accepted and rec.msg is not None:
            out.append((rec.msg, rec.recv_t_ns))
    return out


def reply_events(events: list[tuple[Message, int]]) -> list[ReplyEvents]:
    """Pair reply_start/reply_end by reply_seq (events are already trace/case filtered)."""
    starts: dict[int, int] = {}
    turn_ids: dict[int, int] = {}
    ends: dict[int, tuple[int, bool]] = {}
    for msg, recv_t_ns in events:
        if isinstance(msg, ReplyStart):
            starts.setdefault(msg.reply_seq, recv_t_ns)
            if msg.turn_id is not None:
                turn_ids.setdefault(msg.reply_seq, msg.turn_id)
        elif isinstance(msg, ReplyEnd):
            ends.setdefault(msg.reply_seq, (recv_t_ns, msg.interrupted))
    out = []
    for seq in sorted(set(starts) | set(ends)):
        end = ends.get(seq)
        out.append(
            ReplyEvents(
                reply_seq=seq,
                start_recv_t_ns=starts.get(seq),
                end_recv_t_ns=end[0] if end else None,
                interrupted=end[1] if end else None,
                turn_id=turn_ids.get(seq),
            )
        )
    return out


def probe_stamps(attempt_dir: Path) -> dict[str, int | None]:
    """The probe's phase stamps (phases.py), keyed by the phase each one ends; empty
    when it wrote no readable result."""
    try:
        probe = _model(ProbeResult, attempt_dir / "probe_result.json")
    except ArtifactError:
        return {}
    return {
        "bots_start": probe.started_t_ns,
        "connect": probe.joined_t_ns,
        "agent_join": probe.agent_seen_t_ns,
        "barrier": probe.barrier_complete_t_ns,
        "conversation": probe.recording_end_t_ns,
    }


def agent_audio(events: list[tuple[Message, int]]) -> AudioPublishInfo | None:
    """The publish settings the agent's first agent_ready reported (None: it did not)."""
    for msg, _ in events:
        if isinstance(msg, AgentReady):
            return msg.audio
    return None


def codec_description(published: AudioPublishInfo | None, received_mime: str | None) -> str | None:
    """'opus max 64 kbps, DTX off, RED on, mono; probe got audio/red' (None: nothing known)."""
    parts = []
    if published is not None:
        parts.append("agent sent " + AudioEncoding(**published.model_dump()).describe())
    if received_mime:
        parts.append(f"probe got {received_mime}")
    return "; ".join(parts) or None


def agent_clock_id(events: list[tuple[Message, int]]) -> str | None:
    """The clock the agent's first agent_ready named (None: it named none)."""
    for msg, _ in events:
        if isinstance(msg, AgentReady):
            return msg.clock_id
    return None


def trace_points(events: list[tuple[Message, int]]) -> list[TracePoint]:
    return [
        TracePoint(turn_id=msg.turn_id, point=msg.point, t_ns=msg.t_ns)
        for msg, _ in events
        if isinstance(msg, Trace)
    ]


def read_audio(path: Path) -> np.ndarray | None:
    """A 48 kHz mono 16-bit WAV as float32; None when absent. ArtifactError otherwise."""
    if not path.exists():
        return None
    with map_exceptions(ArtifactError, f"{path}: unreadable WAV"):
        pcm, sr = read_wav(path)
    if sr != SAMPLE_RATE_HZ:
        raise ArtifactError(f"{path}: sample rate {sr} Hz, expected {SAMPLE_RATE_HZ} Hz")
    return to_float(pcm)


def _model(cls: type[_R], path: Path) -> _R:
    body = read_json(path)
    if body is None:
        return cls()
    try:
        return cls.model_validate(body)
    except ValidationError as e:
        field = ".".join(str(x) for x in e.errors()[0]["loc"])
        raise ArtifactError(f"{path}: field '{field}': {e.errors()[0]['msg']}") from None


def _audio_with_manifest(
    attempt_dir: Path, name: str, model: type[_M]
) -> tuple[np.ndarray, _M] | None:
    """`<name>.wav` and its `<name>.json` manifest, validated; None when either is absent."""
    audio = read_audio(attempt_dir / f"{name}.wav")
    path = attempt_dir / f"{name}.json"
    body = read_json(path)
    if audio is None or body is None:
        return None
    try:
        return audio, model.model_validate(body)
    except ValidationError as e:
        field = ".".join(str(x) for x in e.errors()[0]["loc"])
        raise ArtifactError(f"{path}: field '{field}': {e.errors()[0]['msg']}") from None


def read_pre_rtc(attempt_dir: Path) -> tuple[np.ndarray | None, dict[int, tuple[int, int]] | None]:
    """pre_rtc.wav and its reply boundaries (by reply_seq); (None, None) when absent."""
    found = _audio_with_manifest(attempt_dir, "pre_rtc", PreRtcManifest)
    if found is None:
        return None, None
    pre, manifest = found
    return pre, {r.reply_seq: (r.start_sample, r.end_sample) for r in manifest.replies}


def read_agent_in(attempt_dir: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    """agent_in.wav and its frames' receive times; (None, None) when absent."""
    found = _audio_with_manifest(attempt_dir, "agent_in", AgentInManifest)
    if found is None:
        return None, None
    audio, manifest = found
    return audio, np.asarray(manifest.frame_recv_t_ns, dtype=np.int64)


def load_attempt(
    attempt_dir: Path,
    *,
    case_id: str,
    priority: str,
    attempt: int,
    trace_id: str,
    infra_status: str | None = None,
    blackbox: bool = False,
    expects_reply: bool = True,
    reply_within_ms: int = 5000,
    noisy_turns: frozenset[int] = frozenset(),
) -> AttemptInputs:
    """Read an attempt directory. The keyword arguments after `trace_id` come from the
    case (its expect block, which turns carry noise) and the orchestrator. The agent's
    trace is on the bots' clock only when its agent_ready named the probe's clock."""
    probe = _model(ProbeResult, attempt_dir / "probe_result.json")
    user = _model(UserResult, attempt_dir / "user_result.json")
    events = read_events(attempt_dir / "events.jsonl")
    post_full = read_audio(attempt_dir / "post_rtc_full.wav")
    input_audio = read_audio(attempt_dir / "input.wav")
    pre, pre_replies = read_pre_rtc(attempt_dir)
    agent_in, agent_in_recv = read_agent_in(attempt_dir)
    turns = [
        TurnTiming(
            turn_index=t.turn_index,
            speech_start_left_t_ns=t.speech_start_left_t_ns,
            eot_left_t_ns=t.eot_left_t_ns,
            is_barge_in=t.is_barge_in,
            eot_sample_in_input=t.eot_sample_in_input,
            speech_segments_left_t_ns=tuple(
                (int(a), int(b)) for a, b in t.speech_segments_left_t_ns
            ),
            noisy=t.turn_index in noisy_turns,
        )
        for t in user.turns
    ]
    return AttemptInputs(
        case_id=case_id,
        priority=priority,
        attempt=attempt,
        trace_id=trace_id,
        sample_rate_hz=SAMPLE_RATE_HZ,
        post_full=post_full if post_full is not None else np.zeros(0, np.float32),
        post_frame_recv_t_ns=np.asarray(probe.agent_frames_recv_t_ns, dtype=np.int64),
        input_audio=input_audio if input_audio is not None else np.zeros(0, np.float32),
        post_user=read_audio(attempt_dir / "post_rtc_user.wav"),
        post_user_recv_t_ns=np.asarray(probe.user_frames_recv_t_ns, dtype=np.int64),
        pre_rtc=pre,
        pre_rtc_replies=pre_replies,
        replies=reply_events(events),
        turns=turns,
        agent_trace=trace_points(events),
        infra_status=infra_status,
        blackbox=blackbox,
        expects_reply=expects_reply,
        reply_within_ms=reply_within_ms,
        agent_on_host_clock=shares_clock(agent_clock_id(events), probe.clock_id),
        agent_in=agent_in,
        agent_in_recv_t_ns=agent_in_recv,
        codec=codec_description(agent_audio(events), probe.agent_track_codec),
        message_counters=dict(probe.message_counters),
        agent_track_network=dict(probe.agent_track_network or {}),
    )
