"""Load one attempt directory into `AttemptInputs` for the pure measurement core.

An attempt directory (output/autortc/<run_id>/<case_id>/a<attempt>/) holds the
files listed in shared/spec/measurement.md. This module only reads them; the
figures are computed by `autortc.metrics`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from autortc.audio import SAMPLE_RATE_HZ, read_wav, to_float
from autortc.metrics.inputs import AttemptInputs, ReplyEvents, TracePoint, TurnTiming


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def read_events(path: Path) -> list[dict[str, Any]]:
    """Accepted protocol messages from events.jsonl, each with its `recv_t_ns`."""
    out: list[dict[str, Any]] = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("accepted") and isinstance(rec.get("msg"), dict):
            out.append({**rec["msg"], "recv_t_ns": rec["recv_t_ns"], "topic": rec["topic"]})
    return out


def reply_events(events: list[dict[str, Any]]) -> list[ReplyEvents]:
    """Pair reply_start/reply_end by reply_seq (events are already trace/case filtered)."""
    by_seq: dict[int, dict[str, Any]] = {}
    for ev in events:
        if ev["type"] in ("reply_start", "reply_end") and isinstance(ev.get("reply_seq"), int):
            slot = by_seq.setdefault(ev["reply_seq"], {})
            slot.setdefault(ev["type"], ev)
    out = []
    for seq in sorted(by_seq):
        slot = by_seq[seq]
        start, end = slot.get("reply_start"), slot.get("reply_end")
        out.append(
            ReplyEvents(
                reply_seq=seq,
                start_recv_t_ns=start["recv_t_ns"] if start else None,
                end_recv_t_ns=end["recv_t_ns"] if end else None,
                interrupted=bool(end.get("interrupted")) if end else None,
            )
        )
    return out


def trace_points(events: list[dict[str, Any]]) -> list[TracePoint]:
    return [
        TracePoint(
            turn_id=int(ev.get("turn_id", 0)), point=str(ev.get("point")), t_ns=int(ev["t_ns"])
        )
        for ev in events
        if ev["type"] == "trace"
    ]


def _wav_float(path: Path) -> np.ndarray | None:
    if not path.exists():
        return None
    pcm, sr = read_wav(path)
    if sr != SAMPLE_RATE_HZ:
        raise ValueError(f"{path}: sample rate {sr} Hz, expected {SAMPLE_RATE_HZ}")
    return to_float(pcm)


def load_attempt(
    attempt_dir: Path,
    *,
    case_id: str,
    priority: str,
    attempt: int,
    trace_id: str,
    infra_status: str | None = None,
    blackbox: bool = False,
) -> AttemptInputs:
    probe = read_json(attempt_dir / "probe_result.json") or {}
    user = read_json(attempt_dir / "user_result.json") or {}
    events = read_events(attempt_dir / "events.jsonl")
    post_full = _wav_float(attempt_dir / "post_rtc_full.wav")
    input_audio = _wav_float(attempt_dir / "input.wav")
    pre = _wav_float(attempt_dir / "pre_rtc.wav")
    pre_meta = read_json(attempt_dir / "pre_rtc.json")
    pre_replies = None
    if pre is not None and pre_meta is not None:
        pre_replies = {
            int(r["reply_seq"]): (int(r["start_sample"]), int(r["end_sample"]))
            for r in pre_meta.get("replies", [])
        }
    turns = [
        TurnTiming(
            turn_index=t["turn_index"],
            speech_start_left_t_ns=t["speech_start_left_t_ns"],
            eot_left_t_ns=t["eot_left_t_ns"],
            is_barge_in=bool(t.get("is_barge_in")),
        )
        for t in user.get("turns", [])
    ]
    return AttemptInputs(
        case_id=case_id,
        priority=priority,
        attempt=attempt,
        trace_id=trace_id,
        sample_rate_hz=SAMPLE_RATE_HZ,
        post_full=post_full if post_full is not None else np.zeros(0, np.float32),
        post_frame_recv_t_ns=np.asarray(probe.get("agent_frames_recv_t_ns", []), dtype=np.int64),
        input_audio=input_audio if input_audio is not None else np.zeros(0, np.float32),
        post_user=_wav_float(attempt_dir / "post_rtc_user.wav"),
        pre_rtc=pre if pre_replies is not None else None,
        pre_rtc_replies=pre_replies,
        replies=reply_events(events),
        turns=turns,
        agent_trace=trace_points(events),
        infra_status=infra_status,
        blackbox=blackbox,
        extra={
            "user_turns": user.get("turns", []),
            "message_counters": probe.get("message_counters"),
        },
    )
