"""Synthetic run directories for the report, baseline and stability tests.

`make_run(root, cases=[CaseSpec(...)])` writes output-like run directories: per
attempt input.wav, post_rtc_full.wav, post_rtc_reply.wav, post_rtc_user.wav,
pre_rtc.wav/json (unless black-box), probe/user_result.json, events.jsonl and
metrics.json; then summary.json, metrics.csv, report.md (+ junit.xml, report.html) via
the real `write_reports`. Time grid: post sample n arrives at T0 + n / SR.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autortc.artifacts import load_attempt
from autortc.audio import to_int16, write_wav
from autortc.gates import GatesConfig
from autortc.metrics.rows import AttemptRow
from autortc.metrics.slicing import time_to_sample
from autortc.report.html import CaseView
from autortc.report.outcome import RunInfo, SuiteOutcome, summarize
from autortc.report.views import case_view
from autortc.report.write import write_reports

SR = 48_000
SPF = 480
T0 = 10**12
POST_S = 4.0
INPUT_START_NS = T0 + 200_000_000  # the user bot starts playing 200 ms into the recording
EOT_SAMPLE_IN_INPUT = int(1.5 * SR)
EOT_LEFT_NS = INPUT_START_NS + EOT_SAMPLE_IN_INPUT * 1_000_000_000 // SR


@dataclass
class CaseSpec:
    case_id: str
    latency_ms: float = 400.0
    priority: str = "P0"
    status: str = "OK"  # capture_status of the final attempt
    attempts: int = 1
    blackbox: bool = False  # no pre_rtc, no reply events
    ttft_ms: float = 50.0
    tts_ms: float = 60.0
    inter_arrival_ms: float = 11.0


def recv_grid(n_samples: int, t0_ns: int = T0) -> np.ndarray:
    n_frames = -(-n_samples // SPF)
    return np.array(
        [t0_ns + round((i * SPF + SPF - 1) * 1e9 / SR) for i in range(n_frames)], dtype=np.int64
    )


def burst(n: int, *, freq_hz: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(n) / SR
    return amp * np.sin(2 * np.pi * freq_hz * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))


def _attempt(
    att: Path, spec: CaseSpec, attempt: int, status: str, repeat: int | None = None
) -> AttemptRow:
    att.mkdir(parents=True, exist_ok=True)
    n_post = int(POST_S * SR)
    recv = recv_grid(n_post)
    inp = np.zeros(int(2.0 * SR))
    inp[int(0.3 * SR) : EOT_SAMPLE_IN_INPUT] = burst(
        EOT_SAMPLE_IN_INPUT - int(0.3 * SR), freq_hz=300
    )
    write_wav(att / "input.wav", to_int16(inp))
    write_wav(att / "turn0.wav", to_int16(inp))
    user_post = np.zeros(n_post)
    a = int(0.2 * SR)
    user_post[a : a + len(inp)] = inp
    write_wav(att / "post_rtc_user.wav", to_int16(user_post))
    turns = [
        {
            "turn_index": 0,
            "speech_start_left_t_ns": INPUT_START_NS + int(0.3 * 1e9),
            "eot_left_t_ns": EOT_LEFT_NS,
            "eot_sample_in_input": EOT_SAMPLE_IN_INPUT,
        }
    ]
    (att / "user_result.json").write_text(json.dumps({"status": "OK", "turns": turns}))
    (att / "probe_result.json").write_text(
        json.dumps(
            {
                "status": "OK",
                "agent_frames_recv_t_ns": recv.tolist(),
                "user_frames_recv_t_ns": recv.tolist(),
            }
        )
    )
    post = np.zeros(n_post)
    silent = status in ("POST_SILENT", "BARRIER_TIMEOUT", "AGENT_NOT_JOINED")
    onset_ns = EOT_LEFT_NS + int(spec.latency_ms * 1e6)
    onset = time_to_sample(onset_ns, recv, sample_rate_hz=SR)
    reply_n = SR  # 1 s reply
    if not silent:
        post[onset : onset + reply_n] = burst(reply_n, freq_hz=600)
    write_wav(att / "post_rtc_full.wav", to_int16(post))
    events = []
    start_ns, end_ns = onset_ns - 20_000_000, onset_ns + 1_000_000_000
    if not spec.blackbox and not silent:
        for typ, t in (("reply_start", start_ns), ("reply_end", end_ns)):
            events.append(
                {
                    "recv_t_ns": t,
                    "topic": "autortc.agent",
                    "accepted": True,
                    "msg": {
                        "type": typ,
                        "trace_id": f"t{attempt}",
                        "case_id": spec.case_id,
                        "msg_id": f"{typ}-{attempt}",
                        "reply_seq": 0,
                        "t_ns": t - 1000,
                        "interrupted": False,
                    },
                }
            )
    (att / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    rs = time_to_sample(start_ns, recv, sample_rate_hz=SR)
    re_ = time_to_sample(end_ns + 300_000_000, recv, sample_rate_hz=SR)
    lag = onset - rs
    if not silent:
        write_wav(att / "post_rtc_reply.wav", to_int16(post[rs:re_]))
    if not spec.blackbox:
        pre = np.zeros(int(2.0 * SR))
        pre[int(0.5 * SR) : int(0.5 * SR) + reply_n] = burst(reply_n, freq_hz=600)
        write_wav(att / "pre_rtc.wav", to_int16(pre))
        (att / "pre_rtc.json").write_text(
            json.dumps(
                {
                    "replies": [
                        {
                            "reply_seq": 0,
                            "start_sample": int(0.5 * SR),
                            "end_sample": int(0.5 * SR) + reply_n,
                        }
                    ]
                }
            )
        )
    ok = not silent and status != "TIMEOUT"
    lat = spec.latency_ms if ok else None
    row: dict[str, Any] = {
        "case_id": spec.case_id,
        "priority": spec.priority,
        "attempt": attempt,
        "trace_id": f"t{attempt}",
        "capture_status": status,
        "audio_valid": ok,
        "retry": silent,
        "slice_source": ("energy" if spec.blackbox else "events") if ok else None,
        "reply_start_sample": rs if ok else None,
        "reply_end_sample": re_ if ok else None,
        "onset_sample": onset if ok else None,
        "eot_to_first_audio_ms": lat,
        "agent_eot_to_first_audio_ms": None if spec.blackbox or not ok else lat - 30,
        "tts_first_to_publish_ms": None if spec.blackbox or not ok else spec.tts_ms,
        "fast_lane_ttft_ms": None if spec.blackbox or not ok else spec.ttft_ms,
        "post_rms": 0.2 if ok else 0.0,
        "max_gap_ms": 40.0 if ok else None,
        "added_gap_ms": 0.0 if ok else None,
        "audible_dropout": 0 if ok else None,
        "clipping_ratio": 0.0 if ok else None,
        "inter_arrival_p95_ms": spec.inter_arrival_ms if ok else None,
        "mel_distance": 1.5 if status == "OK" else None,
        "hf_ratio_drop": 0.05 if status == "OK" else None,
        "barge_in_stop_ms": None,
        "input_spike_count": 0,
        "drift_ratio": 1.0 if status == "OK" else None,
        "replies": []
        if not ok
        else [
            {
                "turn_index": 0,
                "reply_seq": None if spec.blackbox else 0,
                "interrupted": False,
                "slice_source": "energy" if spec.blackbox else "events",
                "start_sample": rs,
                "end_sample": re_,
                "align_lag_samples": None if spec.blackbox else lag,
                "post_rms": 0.2,
                "max_gap_ms": 40.0,
                "added_gap_ms": 0.0,
                "audible_dropout": 0,
                "clipping_ratio": 0.0,
                "inter_arrival_p95_ms": spec.inter_arrival_ms,
                "mel_distance": 1.5 if status == "OK" else None,
                "hf_ratio_drop": 0.05 if status == "OK" else None,
                "drift_ratio": 1.0 if status == "OK" else None,
            }
        ],
        "turns": [
            {
                "turn_index": 0,
                "is_barge_in": False,
                "eot_to_first_audio_ms": lat,
                "onset_sample": onset if ok else None,
                "tts_first_to_publish_ms": None if spec.blackbox or not ok else spec.tts_ms,
                "fast_lane_ttft_ms": None if spec.blackbox or not ok else spec.ttft_ms,
                "barge_in_stop_ms": None,
                "false_endpoint": 0 if ok else None,
                "overlap_ms": 0.0 if ok else None,
                "unanswered": 0 if ok else 1,
                "false_interruption": None,
            }
        ],
        "null_reasons": {}
        if status == "OK"
        else {"mel_distance": f"capture_status {status} (Ring 1 only when OK)"},
    }
    if repeat is not None:
        row["repeat"] = repeat
    (att / "metrics.json").write_text(json.dumps(row, indent=1))
    return AttemptRow.from_dict(row)


def views_of(run_dir: Path, rows: list[AttemptRow]) -> list[CaseView]:
    """The report's case views, built from each attempt's files as the runner does."""
    out = []
    for r in rows:
        att = run_dir / r.case_id / r.tag
        infra = r.capture_status if r.is_infra else None
        inputs = load_attempt(
            att,
            case_id=r.case_id,
            priority=r.priority,
            attempt=r.attempt,
            trace_id=r.trace_id,
            infra_status=infra,
        )
        out.append(case_view(inputs, r))
    return out


def make_run(
    root: Path,
    cases: list[CaseSpec],
    *,
    run_id: str = "run1",
    config: GatesConfig | None = None,
    repeats: int = 1,
) -> tuple[Path, SuiteOutcome]:
    """With `repeats` > 1, each case `repeats` times (r{r}a{k}), its latency
    `latency_ms + 10 * r` in repeat r."""
    run_dir = root / run_id
    rows: list[AttemptRow] = []
    for r in range(1, repeats + 1) if repeats > 1 else (None,):
        for spec in cases:
            s = spec if r is None else replace(spec, latency_ms=spec.latency_ms + 10 * r)
            for k in range(1, spec.attempts + 1):
                status = spec.status if k == spec.attempts else "POST_SILENT"
                tag = f"a{k}" if r is None else f"r{r}a{k}"
                rows.append(_attempt(run_dir / spec.case_id / tag, s, k, status, r))
    outcome = summarize(
        rows,
        config=config or GatesConfig(),
        baseline=None,
        baseline_version=None,
        run_info=RunInfo(run_id=run_id, suite="mini", transport="local", wall_s=12.3),
    )
    write_reports(run_dir, outcome, views_of(run_dir, rows))
    return run_dir, outcome


MIXED = [
    CaseSpec("endpoint_short_hello", latency_ms=420.0),
    CaseSpec("long_reply", latency_ms=950.0, inter_arrival_ms=12.0),
    CaseSpec("retried_ok", latency_ms=380.0, attempts=2),
    CaseSpec("blackbox_case", latency_ms=450.0, status="PRE_MISSING", blackbox=True),
    CaseSpec("silent_case", status="POST_SILENT", attempts=2),
    CaseSpec("infra_case", status="BARRIER_TIMEOUT", attempts=2),
    CaseSpec("p1_slow", latency_ms=1100.0, priority="P1"),
]


@pytest.fixture
def mixed_run(tmp_path: Path) -> tuple[Path, SuiteOutcome]:
    """A run with PASS/FAIL/WARN/SKIP/INFRA gates, a retry, a black-box and a silent case."""
    # the latency gate at 800 ms, so that this run's P95 (875 ms) fails it
    config = GatesConfig(eot_to_first_audio_p95_ms=800.0)
    return make_run(tmp_path / "output", MIXED, run_id="20260101T000000Z-mixed", config=config)
