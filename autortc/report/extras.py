"""Extra reports: junit.xml and report.html (called by autortc.report.write).

This is the I/O side: it reads each case's final attempt directory into a
`CaseView` (tracks on the probe's host-clock time axis, markers, embedded clips) and
writes the files; the rendering is pure (`junit.render_junit`, `html.render_html`).
An HTML failure is logged and never loses junit.xml or the other reports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from autortc.artifacts import read_events, read_json
from autortc.audio import SAMPLE_RATE_HZ, read_wav, to_float
from autortc.metrics.slicing import sample_to_time_ns, time_to_sample
from autortc.report.html import AudioClip, CaseView, render_html, wav_data_uri
from autortc.report.junit import render_junit
from autortc.report.outcome import SuiteOutcome, final_rows
from autortc.report.plots import Marker, Track

log = logging.getLogger(__name__)

SPF = SAMPLE_RATE_HZ // 100  # 10 ms frames


def _wav(path: Path, notes: list[str]) -> np.ndarray | None:
    if not path.exists():
        return None
    try:
        pcm, sr = read_wav(path)
    except (OSError, ValueError, EOFError) as e:
        notes.append(f"{path.name}: unreadable ({e})")
        return None
    if sr != SAMPLE_RATE_HZ:
        notes.append(f"{path.name}: {sr} Hz, expected {SAMPLE_RATE_HZ} Hz; not plotted")
        return None
    return to_float(pcm)


def sample_times_ns(samples: np.ndarray, recv_t_ns: np.ndarray) -> np.ndarray:
    """Host-clock arrival time of post samples (frame i's last sample arrives at recv[i]);
    extrapolated at the nominal rate outside the recording."""
    recv = np.asarray(recv_t_ns, dtype=np.float64)
    last = np.arange(len(recv)) * SPF + SPF - 1
    q = np.asarray(samples, dtype=np.float64)
    t = np.interp(q, last, recv)
    ns_per_sample = 1e9 / SAMPLE_RATE_HZ
    t = np.where(q < last[0], recv[0] - (last[0] - q) * ns_per_sample, t)
    return np.where(q > last[-1], recv[-1] + (q - last[-1]) * ns_per_sample, t)


def _frame_starts(n_samples: int) -> np.ndarray:
    return np.arange(-(-n_samples // SPF)) * SPF


def _post_track(post: np.ndarray, recv: np.ndarray, row: Mapping[str, Any]) -> Track:
    n = min(len(post), len(recv) * SPF)
    t_ns = sample_times_ns(_frame_starts(n), recv)
    tr = Track("post_rtc_full", post[:n], t_ns, SPF, note="probe receive times")
    a, b = row.get("reply_start_sample"), row.get("reply_end_sample")
    if a is not None and b is not None:
        ta, tb = sample_times_ns(np.array([a, b]), recv)
        tr.regions.append(
            (float(ta), float(tb), f"reply slice ({row.get('slice_source')}) samples {a}…{b}")
        )
    return tr


def _user_track(
    att: Path, probe: Mapping[str, Any], turns: list[dict[str, Any]], notes: list[str]
) -> Track | None:
    user = _wav(att / "post_rtc_user.wav", notes)
    user_recv = np.asarray(probe.get("user_frames_recv_t_ns") or [], dtype=np.int64)
    if user is not None and len(user_recv):
        n = min(len(user), len(user_recv) * SPF)
        return Track(
            "post_rtc_user",
            user[:n],
            sample_times_ns(_frame_starts(n), user_recv),
            SPF,
            note="user at the probe",
        )
    inp = _wav(att / "input.wav", notes)
    if inp is None:
        notes.append("no user track: post_rtc_user.wav and input.wav missing")
        return None
    t = turns[0] if turns else {}
    if t.get("eot_left_t_ns") is not None and t.get("eot_sample_in_input") is not None:
        # input sample s left the user bot at eot_left - (eot_sample_in_input - s) / sr
        starts = _frame_starts(len(inp)).astype(np.float64)
        t_ns = (
            float(t["eot_left_t_ns"])
            - (float(t["eot_sample_in_input"]) - starts) * 1e9 / SAMPLE_RATE_HZ
        )
        return Track("input.wav", inp, t_ns, SPF, note="as it left the user bot")
    notes.append("input.wav has no EoT timing (user_result.json): drawn on its own axis from 0")
    return Track(
        "input.wav", inp, _frame_starts(len(inp)) * 1e9 / SAMPLE_RATE_HZ, SPF, note="own axis"
    )


def _pre_track(
    att: Path, row: Mapping[str, Any], recv: np.ndarray, notes: list[str]
) -> Track | None:
    pre = _wav(att / "pre_rtc.wav", notes)
    if pre is None:
        notes.append(
            "no pre_rtc.wav: black-box agent, or pre_rtc was not collected "
            f"(capture_status {row.get('capture_status')}); Ring 1 figures are null"
        )
        return None
    meta = read_json(att / "pre_rtc.json") or {}
    bounds = {
        int(r["reply_seq"]): int(r["start_sample"])
        for r in meta.get("replies", [])
        if "reply_seq" in r
    }
    rep = (row.get("replies") or [{}])[0]
    lag, seq, start = rep.get("align_lag_samples"), rep.get("reply_seq"), rep.get("start_sample")
    if lag is not None and seq in bounds and start is not None and len(recv):
        q = start + (_frame_starts(len(pre)) - bounds[seq]) + lag
        return Track(
            "pre_rtc",
            pre,
            sample_times_ns(q, recv),
            SPF,
            note=f"aligned on reply #{seq} (lag {lag})",
        )
    notes.append(
        "pre_rtc is not aligned with the probe recording (no alignment lag): drawn from the "
        + ("reply start" if start is not None else "recording start")
    )
    t0 = float(sample_times_ns(np.array([start or 0]), recv)[0]) if len(recv) else 0.0
    return Track(
        "pre_rtc", pre, t0 + _frame_starts(len(pre)) * 1e9 / SAMPLE_RATE_HZ, SPF, note="not aligned"
    )


def _markers(
    att: Path, row: Mapping[str, Any], recv: np.ndarray, turns: list[dict[str, Any]]
) -> list[Marker]:
    out: list[Marker] = []
    for t in turns:
        if t.get("eot_left_t_ns") is None:
            continue
        k = t.get("turn_index", 0)
        if len(recv):
            n = time_to_sample(float(t["eot_left_t_ns"]), recv, sample_rate_hz=SAMPLE_RATE_HZ)
            out.append(
                Marker(
                    "eot",
                    sample_to_time_ns(n, recv, sample_rate_hz=SAMPLE_RATE_HZ),
                    f"EoT t{k} (post sample {n})",
                )
            )
        else:
            out.append(Marker("eot", float(t["eot_left_t_ns"]), f"EoT t{k}"))
    for ev in read_events(att / "events.jsonl"):
        if ev.get("type") in ("reply_start", "reply_end"):
            out.append(
                Marker(ev["type"], float(ev["recv_t_ns"]), f"{ev['type']} #{ev.get('reply_seq')}")
            )
    onsets = [(t.get("turn_index", 0), t.get("onset_sample")) for t in row.get("turns") or []]
    if not onsets:
        onsets = [(0, row.get("onset_sample"))]
    for k, n in onsets:
        if n is not None and len(recv):
            out.append(
                Marker(
                    "first_audio",
                    sample_to_time_ns(int(n), recv, sample_rate_hz=SAMPLE_RATE_HZ),
                    f"first audio t{k}",
                )
            )
    return out


def load_case_view(att: Path, row: Mapping[str, Any]) -> CaseView:
    """Read one attempt directory into a CaseView (missing files become notes)."""
    view = CaseView(case_id=str(row["case_id"]), attempt=int(row["attempt"]), row=row)
    if not att.is_dir():
        view.notes.append(f"attempt directory {att} not found")
        return view
    probe = read_json(att / "probe_result.json") or {}
    turns = list((read_json(att / "user_result.json") or {}).get("turns") or [])
    recv = np.asarray(probe.get("agent_frames_recv_t_ns") or [], dtype=np.int64)
    post = _wav(att / "post_rtc_full.wav", view.notes)
    tracks: list[Track | None] = [_user_track(att, probe, turns, view.notes)]
    if post is not None and len(recv):
        tracks.append(_post_track(post, recv, row))
    else:
        view.notes.append(
            "no post_rtc_full.wav or no probe receive times: the probe heard nothing "
            f"(capture_status {row.get('capture_status')})"
        )
    tracks.append(_pre_track(att, row, recv, view.notes))
    view.tracks = [t for t in tracks if t is not None]
    view.markers = _markers(att, row, recv, turns)
    _to_relative_seconds(view)
    for name, label in (("post_rtc_reply.wav", "post reply"), ("pre_rtc.wav", "pre_rtc")):
        audio = _wav(att / name, view.notes)
        if audio is None:
            why = (
                f"no reply slice (capture_status {row.get('capture_status')})"
                if name.startswith("post")
                else "black-box agent or not collected"
            )
            view.clips.append(AudioClip(label, None, f"{name} missing: {why}"))
        else:
            view.clips.append(
                AudioClip(
                    label,
                    wav_data_uri(audio, sample_rate_hz=SAMPLE_RATE_HZ),
                    f"({len(audio) / SAMPLE_RATE_HZ:.1f} s, embedded at 16 kHz)",
                )
            )
    return view


def _to_relative_seconds(view: CaseView) -> None:
    starts = [float(t.frame_t_s[0]) for t in view.tracks if len(t.frame_t_s)] + [
        m.t_s for m in view.markers
    ]
    t0 = min(starts) if starts else 0.0
    for t in view.tracks:
        t.frame_t_s = (np.asarray(t.frame_t_s, dtype=np.float64) - t0) / 1e9
        t.regions = [((a - t0) / 1e9, (b - t0) / 1e9, lab) for a, b, lab in t.regions]
    view.markers = [Marker(m.kind, (m.t_s - t0) / 1e9, m.label) for m in view.markers]


def case_views(run_dir: Path, rows: list[dict[str, Any]]) -> list[CaseView]:
    finals = sorted(final_rows(rows), key=lambda r: str(r["case_id"]))
    return [load_case_view(run_dir / str(r["case_id"]) / f"a{r['attempt']}", r) for r in finals]


def write_extras(run_dir: Path, outcome: SuiteOutcome) -> dict[str, Path]:
    """Write junit.xml and report.html into `run_dir`; returns the written paths."""
    paths: dict[str, Path] = {"junit": run_dir / "junit.xml"}
    paths["junit"].write_text(render_junit(outcome.summary, outcome.rows), encoding="utf-8")
    html_path = run_dir / "report.html"
    try:
        page = render_html(outcome.summary, outcome.rows, case_views(run_dir, outcome.rows))
        html_path.write_text(page, encoding="utf-8")
    except Exception as e:  # the HTML page is a convenience: never lose the other reports
        log.warning("report.html not written", extra={"run_dir": str(run_dir), "error": repr(e)})
        return paths
    paths["html"] = html_path
    return paths
