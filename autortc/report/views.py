"""What report.html shows of one attempt, built from the data the figures came from (pure).

`case_view(inputs, row)` takes the same `AttemptInputs` the measurement core
analysed and the `AttemptRow` it produced, and returns a `CaseView`: the user, post
and pre_rtc tracks as envelopes on the probe's host-clock axis, the markers, and
the audio clips. It reads no file: the attempt runner builds the view right after
the analysis, and the reports render it. Every sample -> time conversion goes through
`slicing.samples_to_time_ns`, the convention the figures use, so the markers sit
where the figures say.
"""

from __future__ import annotations

import numpy as np

from autortc.metrics import levels
from autortc.metrics import registry as M
from autortc.metrics.attempt import reply_slice_audio
from autortc.metrics.inputs import AttemptInputs
from autortc.metrics.rows import AttemptRow
from autortc.metrics.slicing import samples_to_time_ns, time_to_sample
from autortc.report.html import MAX_CLIP_S, AudioClip, CaseView
from autortc.report.plots import Marker, Track


def _frame_starts(n_samples: int, spf: int) -> np.ndarray:
    return np.arange(-(-n_samples // spf), dtype=np.int64) * spf


def _post_track(inputs: AttemptInputs, row: AttemptRow, spf: int) -> Track | None:
    recv = inputs.post_frame_recv_t_ns
    sr = inputs.sample_rate_hz
    n = min(len(inputs.post_full), len(recv) * spf)
    if n == 0:
        return None
    t_ns = samples_to_time_ns(_frame_starts(n, spf), recv, sample_rate_hz=sr)
    tr = Track.from_samples(
        "post_rtc_full",
        inputs.post_full[:n],
        t_ns,
        samples_per_frame=spf,
        sample_rate_hz=sr,
        note="probe receive times",
    )
    a, b = row.reply_start_sample, row.reply_end_sample
    if a is not None and b is not None:
        ta, tb = samples_to_time_ns(np.asarray([a, b]), recv, sample_rate_hz=sr)
        tr.regions.append(
            (float(ta), float(tb), f"reply slice ({row.slice_source}) samples {a}…{b}")
        )
    return tr


def _user_track(inputs: AttemptInputs, spf: int, notes: list[str]) -> Track | None:
    sr = inputs.sample_rate_hz
    user, user_recv = inputs.post_user, inputs.post_user_recv_t_ns
    if user is not None and user_recv is not None and len(user_recv) and len(user):
        n = min(len(user), len(user_recv) * spf)
        t_ns = samples_to_time_ns(_frame_starts(n, spf), user_recv, sample_rate_hz=sr)
        return Track.from_samples(
            "post_rtc_user",
            user[:n],
            t_ns,
            samples_per_frame=spf,
            sample_rate_hz=sr,
            note="user at the probe",
        )
    inp = inputs.input_audio
    if not len(inp):
        notes.append("no user track: post_rtc_user.wav and input.wav missing")
        return None
    starts = _frame_starts(len(inp), spf).astype(np.float64)
    turn = inputs.turns[0] if inputs.turns else None
    if turn is not None and turn.eot_sample_in_input is not None:
        # input sample s left the user bot at eot_left - (eot_sample_in_input - s) / sr
        t_ns = turn.eot_left_t_ns - (turn.eot_sample_in_input - starts) * 1e9 / sr
        return Track.from_samples(
            "input.wav",
            inp,
            t_ns,
            samples_per_frame=spf,
            sample_rate_hz=sr,
            note="as it left the user bot",
        )
    notes.append("input.wav has no EoT timing (user_result.json): drawn on its own axis from 0")
    return Track.from_samples(
        "input.wav",
        inp,
        starts * 1e9 / sr,
        samples_per_frame=spf,
        sample_rate_hz=sr,
        note="own axis",
    )


def _pre_track(inputs: AttemptInputs, row: AttemptRow, spf: int, notes: list[str]) -> Track | None:
    sr = inputs.sample_rate_hz
    pre, recv = inputs.pre_rtc, inputs.post_frame_recv_t_ns
    if pre is None:
        notes.append(
            "no pre_rtc.wav: black-box agent, or pre_rtc was not collected "
            f"(capture_status {row.capture_status}); Ring 1 figures are null"
        )
        return None
    bounds = inputs.pre_rtc_replies or {}
    rep = row.replies[0] if row.replies else None
    lag = rep.get(M.ALIGN_LAG_SAMPLES) if rep is not None else None
    starts = _frame_starts(len(pre), spf)
    if rep is not None and lag is not None and rep.reply_seq in bounds and len(recv):
        # pre sample s sits at post sample: slice start + (s - reply's pre start) + lag
        q = rep.start_sample + (starts - bounds[rep.reply_seq][0]) + int(lag)
        return Track.from_samples(
            "pre_rtc",
            pre,
            samples_to_time_ns(q, recv, sample_rate_hz=sr),
            samples_per_frame=spf,
            sample_rate_hz=sr,
            note=f"aligned on reply #{rep.reply_seq} (lag {int(lag)})",
        )
    start = rep.start_sample if rep is not None else None
    notes.append(
        "pre_rtc is not aligned with the probe recording (no alignment lag): drawn from the "
        + ("reply start" if start is not None else "recording start")
    )
    t0 = (
        float(samples_to_time_ns(np.asarray([start or 0]), recv, sample_rate_hz=sr)[0])
        if len(recv)
        else 0.0
    )
    return Track.from_samples(
        "pre_rtc",
        pre,
        t0 + starts * 1e9 / sr,
        samples_per_frame=spf,
        sample_rate_hz=sr,
        note="not aligned",
    )


def _markers(inputs: AttemptInputs, row: AttemptRow) -> list[Marker]:
    recv, sr = inputs.post_frame_recv_t_ns, inputs.sample_rate_hz
    out: list[Marker] = []
    for t in inputs.turns:
        if len(recv):
            n = time_to_sample(float(t.eot_left_t_ns), recv, sample_rate_hz=sr)
            t_ns = float(samples_to_time_ns(np.asarray([n]), recv, sample_rate_hz=sr)[0])
            out.append(Marker("eot", t_ns, f"EoT t{t.turn_index} (post sample {n})"))
        else:
            out.append(Marker("eot", float(t.eot_left_t_ns), f"EoT t{t.turn_index}"))
    for ev in inputs.replies:
        for kind, t_recv in (("reply_start", ev.start_recv_t_ns), ("reply_end", ev.end_recv_t_ns)):
            if t_recv is not None:
                out.append(Marker(kind, float(t_recv), f"{kind} #{ev.reply_seq}"))
    if len(recv):
        for turn in row.turns:
            onset = turn.get(M.ONSET_SAMPLE)
            if onset is not None:
                t_ns = float(samples_to_time_ns(np.asarray([onset]), recv, sample_rate_hz=sr)[0])
                out.append(Marker("first_audio", t_ns, f"first audio t{turn.turn_index}"))
    return out


def _to_relative_seconds(view: CaseView) -> None:
    starts = [float(t.frame_t_s[0]) for t in view.tracks if len(t.frame_t_s)]
    t0 = min([*starts, *(m.t_s for m in view.markers)], default=0.0)
    for t in view.tracks:
        t.frame_t_s = (np.asarray(t.frame_t_s, dtype=np.float64) - t0) / 1e9
        t.regions = [((a - t0) / 1e9, (b - t0) / 1e9, lab) for a, b, lab in t.regions]
    view.markers = [Marker(m.kind, (m.t_s - t0) / 1e9, m.label) for m in view.markers]


def _clips(inputs: AttemptInputs, row: AttemptRow) -> list[AudioClip]:
    sr = inputs.sample_rate_hz
    clips = []
    reply = reply_slice_audio(inputs, row)
    if reply is None or not len(reply):
        why = f"no reply slice (capture_status {row.capture_status})"
        clips.append(AudioClip("post reply", None, f"post_rtc_reply.wav missing: {why}"))
    else:
        clips.append(_clip("post reply", reply, sr))
    if inputs.pre_rtc is None or not len(inputs.pre_rtc):
        clips.append(
            AudioClip("pre_rtc", None, "pre_rtc.wav missing: black-box agent or not collected")
        )
    else:
        clips.append(_clip("pre_rtc", inputs.pre_rtc, sr))
    return clips


def _clip(label: str, audio: np.ndarray, sr: int) -> AudioClip:
    """The clip's audio, kept until the report is written (extras writes it as Opus)."""
    keep = np.asarray(audio, dtype=np.float32)[: int(MAX_CLIP_S * sr)]
    return AudioClip(label, None, f"({len(audio) / sr:.1f} s)", samples=keep, sample_rate_hz=sr)


def case_view(inputs: AttemptInputs, row: AttemptRow) -> CaseView:
    """One attempt as report.html shows it (see module doc)."""
    spf = levels.samples_per_frame(inputs.sample_rate_hz)
    view = CaseView(case_id=row.case_id, attempt=row.attempt, row=row)
    post = _post_track(inputs, row, spf)
    if post is None:
        view.notes.append(
            "no post_rtc_full.wav or no probe receive times: the probe heard nothing "
            f"(capture_status {row.capture_status})"
        )
    tracks = [_user_track(inputs, spf, view.notes), post, _pre_track(inputs, row, spf, view.notes)]
    view.tracks = [t for t in tracks if t is not None]
    view.markers = _markers(inputs, row)
    _to_relative_seconds(view)
    view.clips = _clips(inputs, row)
    return view
