"""Inline SVG plots for report.html, rendered with numpy only (no matplotlib). Pure.

- `waveform_svg`: stacked tracks on one shared time axis (seconds), each a min/max
  envelope polygon, with shaded regions (the reply slice) and vertical markers
  (EoT, reply_start/reply_end, first audio).
- `latency_svg`: a strip plot of eot_to_first_audio_ms across cases with the P95 line
  and the gate threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

import numpy as np

PLOT_WIDTH_PX = 960
TRACK_HEIGHT_PX = 90
LABEL_WIDTH_PX = 150
AXIS_HEIGHT_PX = 28
MARKER_COLORS = {
    "eot": "#d62728",
    "reply_start": "#2ca02c",
    "reply_end": "#9467bd",
    "first_audio": "#ff7f0e",
}


@dataclass
class Track:
    """One waveform as per-frame (min, max) envelopes, with the time (s, shared axis)
    of each frame's first sample. `from_samples` builds it from audio."""

    label: str
    lo: np.ndarray
    hi: np.ndarray
    frame_t_s: np.ndarray
    frame_s: float = 0.01
    note: str = ""
    regions: list[tuple[float, float, str]] = field(default_factory=list)  # (t0_s, t1_s, label)

    @classmethod
    def from_samples(
        cls,
        label: str,
        samples: np.ndarray,
        frame_t_s: np.ndarray,
        *,
        samples_per_frame: int,
        sample_rate_hz: int,
        note: str = "",
    ) -> Track:
        lo, hi = frame_envelope(samples, samples_per_frame)
        return cls(
            label,
            lo,
            hi,
            np.asarray(frame_t_s, dtype=np.float64),
            samples_per_frame / sample_rate_hz,
            note,
        )

    @property
    def empty(self) -> bool:
        return len(self.lo) == 0


@dataclass(frozen=True)
class Marker:
    kind: str  # key of MARKER_COLORS
    t_s: float
    label: str


def frame_envelope(samples: np.ndarray, samples_per_frame: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame (min, max) of `samples`; the last partial frame is zero-padded."""
    x = np.asarray(samples, dtype=np.float64)
    n_frames = -(-len(x) // samples_per_frame) if len(x) else 0
    padded = np.zeros(n_frames * samples_per_frame)
    padded[: len(x)] = x
    frames = padded.reshape(n_frames, samples_per_frame)
    return frames.min(axis=1, initial=0.0), frames.max(axis=1, initial=0.0)


def binned_envelope(
    frame_t_s: np.ndarray, lo: np.ndarray, hi: np.ndarray, *, t0_s: float, t1_s: float, n_bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Downsample frame envelopes into `n_bins` time bins: (bin index, min, max) of non-empty bins."""
    t = np.asarray(frame_t_s, dtype=np.float64)
    span = max(t1_s - t0_s, 1e-9)
    idx = np.clip(((t - t0_s) / span * n_bins).astype(np.int64), 0, n_bins - 1)
    bmin = np.full(n_bins, np.inf)
    bmax = np.full(n_bins, -np.inf)
    np.minimum.at(bmin, idx, lo)
    np.maximum.at(bmax, idx, hi)
    used = np.isfinite(bmin)
    return np.nonzero(used)[0], bmin[used], bmax[used]


def _x(t_s: float, t0_s: float, t1_s: float, width_px: int) -> float:
    return LABEL_WIDTH_PX + (t_s - t0_s) / max(t1_s - t0_s, 1e-9) * width_px


def _nice_step(span: float, target_ticks: int = 10) -> float:
    raw = span / max(target_ticks, 1)
    mag = 10 ** np.floor(np.log10(raw)) if raw > 0 else 1.0
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return float(m * mag)
    return float(10 * mag)


def waveform_svg(
    tracks: Sequence[Track], markers: Sequence[Marker], *, title: str, width_px: int = PLOT_WIDTH_PX
) -> str:
    """Stacked envelopes on one time axis. Returns an <svg> element as text."""
    live = [tr for tr in tracks if not tr.empty]
    ts = [float(tr.frame_t_s[0]) for tr in live] + [m.t_s for m in markers]
    te = [float(tr.frame_t_s[-1]) + tr.frame_s for tr in live] + [m.t_s for m in markers]
    t0_s, t1_s = (min(ts), max(te)) if ts else (0.0, 1.0)
    if t1_s - t0_s < 0.1:
        t1_s = t0_s + 0.1
    n_bins = width_px // 2
    height = TRACK_HEIGHT_PX * max(len(tracks), 1) + AXIS_HEIGHT_PX
    total_w = LABEL_WIDTH_PX + width_px + 30
    parts = [
        f'<svg class="wave" width="{total_w}" height="{height}" '
        f'viewBox="0 0 {total_w} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for k, tr in enumerate(tracks):
        y0 = k * TRACK_HEIGHT_PX
        mid = y0 + TRACK_HEIGHT_PX / 2
        half = TRACK_HEIGHT_PX / 2 - 6
        parts.append(
            f'<rect x="{LABEL_WIDTH_PX}" y="{y0 + 2}" width="{width_px}" '
            f'height="{TRACK_HEIGHT_PX - 4}" fill="#f7f7f7"/>'
        )
        for r0, r1, rlabel in tr.regions:
            xa, xb = _x(r0, t0_s, t1_s, width_px), _x(r1, t0_s, t1_s, width_px)
            parts.append(
                f'<rect class="region" x="{xa:.1f}" y="{y0 + 2}" width="{max(xb - xa, 1):.1f}" '
                f'height="{TRACK_HEIGHT_PX - 4}" fill="#ffe9a8"><title>{escape(rlabel)}</title></rect>'
            )
        parts.append(f'<text x="4" y="{mid - 4:.0f}" font-size="12">{escape(tr.label)}</text>')
        if tr.note:
            parts.append(
                f'<text x="4" y="{mid + 12:.0f}" font-size="10" fill="#777">{escape(tr.note)}</text>'
            )
        if tr.empty:
            parts.append(
                f'<text x="{LABEL_WIDTH_PX + 10}" y="{mid:.0f}" font-size="12" fill="#a00">'
                "missing</text>"
            )
            continue
        lo, hi = tr.lo, tr.hi
        n = min(len(lo), len(tr.frame_t_s))
        bins, bmin, bmax = binned_envelope(
            tr.frame_t_s[:n], lo[:n], hi[:n], t0_s=t0_s, t1_s=t1_s, n_bins=n_bins
        )
        scale = half / max(float(np.max(np.abs(np.concatenate([bmin, bmax])))), 0.05)
        xs = LABEL_WIDTH_PX + (bins + 0.5) * (width_px / n_bins)
        top = [f"{x:.1f},{mid - v * scale:.1f}" for x, v in zip(xs, bmax, strict=True)]
        bot = [f"{x:.1f},{mid - v * scale:.1f}" for x, v in zip(xs[::-1], bmin[::-1], strict=True)]
        parts.append(
            f'<polygon class="env" points="{" ".join(top + bot)}" fill="#1f77b4" '
            'stroke="#1f77b4" stroke-width="0.6"/>'
        )
    step = _nice_step(t1_s - t0_s)
    y_axis = TRACK_HEIGHT_PX * max(len(tracks), 1)
    tick = np.ceil(t0_s / step) * step
    while tick <= t1_s + 1e-9:
        x = _x(tick, t0_s, t1_s, width_px)
        parts.append(
            f'<line x1="{x:.1f}" y1="{y_axis}" x2="{x:.1f}" y2="{y_axis + 5}" stroke="#333"/>'
            f'<text x="{x:.1f}" y="{y_axis + 18}" font-size="10" text-anchor="middle">'
            f"{tick:.{max(0, -int(np.floor(np.log10(step))))}f} s</text>"
        )
        tick += step
    for i, m in enumerate(sorted(markers, key=lambda m: m.t_s)):
        x = _x(m.t_s, t0_s, t1_s, width_px)
        y_text = 11 + 12 * (i % 3)
        color = MARKER_COLORS.get(m.kind, "#000")
        parts.append(
            f'<g class="marker marker-{escape(m.kind)}"><line x1="{x:.1f}" y1="0" x2="{x:.1f}" '
            f'y2="{y_axis}" stroke="{color}" stroke-width="1.5" stroke-dasharray="4 3"/>'
            f'<text x="{x + 3:.1f}" y="{y_text}" font-size="10" fill="{color}">{escape(m.label)}</text>'
            f"<title>{escape(m.label)} at {m.t_s:.3f} s</title></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def latency_svg(
    values: Sequence[tuple[str, float]],
    *,
    p95_ms: float | None,
    threshold_ms: float | None,
    width_px: int = 800,
    height_px: int = 160,
) -> str:
    """Strip plot of (case_id, latency_ms) with P95 and threshold lines. Empty input: a note."""
    pad_l, pad_r, pad_t, pad_b = 40, 20, 24, 30
    parts = [
        f'<svg class="latency" width="{width_px}" '
        f'height="{height_px}" viewBox="0 0 {width_px} {height_px}" role="img" '
        'aria-label="eot_to_first_audio_ms distribution">'
    ]
    if not values:
        parts.append(
            '<text x="10" y="40" font-size="13">no eot_to_first_audio_ms values measured</text></svg>'
        )
        return "".join(parts)
    vals = np.asarray([v for _, v in values], dtype=np.float64)
    refs = [v for v in (p95_ms, threshold_ms) if v is not None]
    lo = min(0.0, float(vals.min()))
    hi = max([float(vals.max()), *refs]) * 1.1 + 1.0
    plot_w = width_px - pad_l - pad_r

    def x_of(v: float) -> float:
        return pad_l + (v - lo) / (hi - lo) * plot_w

    y_axis = height_px - pad_b
    parts.append(
        f'<line x1="{pad_l}" y1="{y_axis}" x2="{width_px - pad_r}" y2="{y_axis}" stroke="#333"/>'
    )
    step = _nice_step(hi - lo, 8)
    tick = np.ceil(lo / step) * step
    while tick <= hi:
        x = x_of(tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{y_axis}" x2="{x:.1f}" y2="{y_axis + 4}" stroke="#333"/>'
            f'<text x="{x:.1f}" y="{y_axis + 16}" font-size="10" text-anchor="middle">{tick:.0f}</text>'
        )
        tick += step
    parts.append(
        f'<text x="{width_px - pad_r}" y="{height_px - 2}" font-size="10" text-anchor="end">ms</text>'
    )
    rng = np.random.default_rng(0)  # deterministic jitter
    jitter = rng.uniform(-1, 1, size=len(values))
    mid = (pad_t + y_axis) / 2
    for (cid, v), j in zip(values, jitter, strict=True):
        parts.append(
            f'<circle class="pt" cx="{x_of(v):.1f}" cy="{mid + j * (y_axis - pad_t) / 3:.1f}" r="4" '
            f'fill="#1f77b4" fill-opacity="0.7"><title>{escape(cid)}: {v:.1f} ms</title></circle>'
        )
    for val, label, color in ((p95_ms, "P95", "#d62728"), (threshold_ms, "gate", "#333")):
        if val is None:
            continue
        x = x_of(val)
        parts.append(
            f'<g class="ref ref-{label.lower()}"><line x1="{x:.1f}" y1="{pad_t - 8}" x2="{x:.1f}" '
            f'y2="{y_axis}" stroke="{color}" stroke-width="2" stroke-dasharray="6 3"/>'
            f'<text x="{x + 3 if label == "P95" else x - 3:.1f}" y="{pad_t - 10}" font-size="11" '
            f'text-anchor="{"start" if label == "P95" else "end"}" '
            f'fill="{color}">{label} {val:.0f} ms</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
