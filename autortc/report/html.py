"""report.html: a page with no external URL and no script. Pure rendering.

Same content as report.md (KPI/baseline/delta first, gates, cases, suggested fixes),
plus a latency strip plot and, per case (final attempt), waveforms (inline SVG) on a
shared time axis with EoT / reply_start / reply_end / first-audio markers and audio
players. The players link Opus files written beside the page (`audio/*.ogg`, by
autortc.report.extras; at most `MAX_CLIP_S` seconds each), so the page stays small and
opens offline wherever the run directory is unpacked. `wav_data_uri` remains for a
clip that could not be written as a file.

The I/O side (autortc.report.extras) loads each attempt directory into a `CaseView`.
"""

from __future__ import annotations

import base64
import io
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

import numpy as np
from scipy.signal import resample_poly

from autortc.audio import to_int16
from autortc.gates import GateResult
from autortc.kpi import PRIMARY_KPI_METRIC
from autortc.metrics import registry as M
from autortc.metrics.rows import AttemptRow, final_attempts
from autortc.phases import phase_table
from autortc.report.markdown import NO_DROPS, case_cells, codec_lines, dropped_lines, fmt
from autortc.report.outcome import SuiteSummary
from autortc.report.plots import Marker, Track, latency_svg, waveform_svg

EMBED_RATE_HZ = 16_000
MAX_CLIP_S = 20.0

CSS = """
body{font-family:system-ui,sans-serif;margin:20px;color:#222;max-width:1320px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eee}
.v-PASS{color:#1a7f37;font-weight:bold}.v-FAIL{color:#c00;font-weight:bold}
.v-WARN{color:#b26b00;font-weight:bold}.v-INFRA{color:#7a00c0;font-weight:bold}.v-SKIP{color:#777}
.kpi{font-size:16px;background:#f4f8ff;border:1px solid #bcd;padding:8px 14px}
.note{color:#a00;font-size:13px}.case{border-top:2px solid #ddd;margin-top:18px}
.clips{display:flex;gap:24px;flex-wrap:wrap}.clip{font-size:13px}
.legend span{margin-right:14px;font-size:12px}
"""


@dataclass
class AudioClip:
    label: str
    src: str | None  # a relative path or a data URI; None: missing or not written yet
    note: str = ""
    samples: np.ndarray | None = None  # the audio, until extras writes it beside the page
    sample_rate_hz: int = 48_000


@dataclass
class CaseView:
    """One case's final attempt, ready to render."""

    case_id: str
    attempt: int
    row: AttemptRow
    tracks: list[Track] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    clips: list[AudioClip] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def wav_data_uri(
    samples: np.ndarray,
    *,
    sample_rate_hz: int,
    max_s: float = MAX_CLIP_S,
    rate_hz: int = EMBED_RATE_HZ,
) -> str:
    """float samples -> `data:audio/wav;base64,...` at `rate_hz`, cut to `max_s` seconds."""
    x = np.asarray(samples, dtype=np.float64)[: int(max_s * sample_rate_hz)]
    if sample_rate_hz != rate_hz and len(x):
        g = np.gcd(sample_rate_hz, rate_hz)
        x = resample_poly(x, rate_hz // g, sample_rate_hz // g)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(to_int16(x).astype("<i2").tobytes())
    return "data:audio/wav;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _v(verdict: object) -> str:
    v = escape(str(verdict))
    return f'<span class="v-{v}">{v}</span>'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, cls: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def kpi_block(s: SuiteSummary) -> str:
    ci = s.PRIMARY_KPI_DELTA_CI95
    items = [
        f"<li><b>PRIMARY_KPI</b> <code>{escape(s.PRIMARY_KPI_NAME)}</code> = "
        f"<b>{fmt(s.PRIMARY_KPI_VALUE)} ms</b> over {s.PRIMARY_KPI_N} P0 first replies</li>"
    ]
    if s.kpi_error:
        items.append(
            f"<li><b>Measured error</b> of <code>eot_to_first_audio_ms</code>: "
            f"{escape(s.kpi_error)}</li>"
        )
    if s.BASELINE_VERSION:
        ci_s = f" (95 % CI {fmt(ci[0])} … {fmt(ci[1])} ms)" if ci else ""
        items.append(
            f"<li><b>Baseline</b> <code>{escape(s.BASELINE_VERSION)}</code>: "
            f"{fmt(s.BASELINE_PRIMARY_KPI)} ms</li>"
        )
        items.append(
            f"<li><b>Delta</b>: {fmt(s.PRIMARY_KPI_DELTA_MS)} ms{escape(ci_s)}; regression "
            f"above +{fmt(s.PRIMARY_KPI_REGRESSION_MS)} ms</li>"
        )
    else:
        items.append(
            "<li><b>Baseline</b>: none given (<code>--baseline golden/&lt;name&gt;/summary.json"
            "</code>)</li>"
        )
    items.append(
        f"<li>Verdict {_v(s.verdict)} (exit {s.exit_code}); run <code>{escape(s.run_id)}"
        f"</code> on the {escape(s.transport)} transport"
        f"{escape(f' (network: {s.network})') if s.network else ''}; {s.n_cases} cases, "
        f"{s.n_attempts} attempts, retry rate {fmt((s.retry_rate or 0) * 100, 0)} %; "
        f"wall time {fmt(s.wall_s)} s</li>"
    )
    items.append(f"<li>Model figures: {escape(s.model_figures or 'none asked for')}</li>")
    return f'<section id="kpi" class="kpi"><ul>{"".join(items)}</ul></section>'


def gates_table(gates: Sequence[GateResult]) -> str:
    rows = [
        [
            escape(g.name),
            escape(g.scope),
            fmt(g.observed, 3),
            fmt(g.threshold, 3),
            _v(g.verdict),
            escape(g.detail),
        ]
        for g in gates
    ]
    return (
        '<section id="gates"><h2>Gates</h2>'
        + _table(["gate", "scope", "observed", "threshold", "verdict", "detail"], rows, cls="gates")
        + "</section>"
    )


def cases_table(rows: Sequence[AttemptRow]) -> str:
    body = []
    for r in rows:
        cid = escape(r.case_id)
        interrupted = [rep.interrupted for rep in r.replies]
        body.append(
            [
                f'<a href="#case-{cid}">{cid}</a>',
                escape(r.priority),
                r.tag,
                _v(r.capture_status),
                escape(str(r.slice_source)),
                *case_cells(r),
                escape(str(interrupted)),
            ]
        )
    header = ["case", "prio", "attempt", "status", "slice", *(m.header for m in M.CASE_TABLE)]
    header.append("interrupted")
    codecs = "".join(f"<li>{escape(line[2:])}</li>" for line in codec_lines(rows))
    codec_block = (
        f"<h3>Codec (Ring 1 is measured through it)</h3><ul>{codecs}</ul>" if codecs else ""
    )
    return (
        f'<section id="cases"><h2>Cases</h2>{_table(header, body, cls="cases")}'
        f"{codec_block}</section>"
    )


def fixes_block(summary: SuiteSummary, rows: Sequence[AttemptRow]) -> str:
    items = [
        f"<li><b>{escape(g.name)}</b> ({escape(g.scope)}, {_v(g.verdict)}): "
        f"{escape(g.fix or '')}</li>"
        for g in summary.gates_with_fixes()
    ] or ["<li>none</li>"]
    out = f'<section id="fixes"><h2>Suggested fixes</h2><ul>{"".join(items)}</ul>'
    warned = [
        f"<li>{escape(r.case_id)} {r.tag}: {escape(w)}</li>" for r in rows for w in r.warnings
    ]
    if warned:
        out += f"<h3>Warnings</h3><ul>{''.join(warned)}</ul>"
    table = phase_table([r.phases_ms for r in rows if r.phases_ms])
    if table:
        cells = "".join(
            f"<tr><td>{n}</td><td>{fmt(med, 0)}</td><td>{fmt(mx, 0)}</td>"
            f"<td>{sh * 100:.0f} %</td></tr>"
            for n, med, mx, sh in table
        )
        out += (
            "<h3>Where the attempts' time went</h3><table><tr><th>phase</th>"
            f"<th>median ms</th><th>max ms</th><th>share</th></tr>{cells}</table>"
        )
    drops = [f"<li>{escape(line)}</li>" for line in dropped_lines(rows)]
    out += f"<h3>Messages dropped</h3><ul>{''.join(drops) or f'<li>{NO_DROPS}</li>'}</ul>"
    not_ok = [r for r in rows if r.status_reason]
    if not_ok:
        out += (
            "<h3>Attempts not measured, and why</h3><ul>"
            + "".join(
                f"<li>{escape(r.case_id)} {r.tag}: {_v(r.capture_status)}: "
                f"{escape(r.status_reason or '')}</li>"
                for r in not_ok
            )
            + "</ul>"
        )
    nulls = [(r.case_id, r.attempt, k, v) for r in rows for k, v in r.null_reasons.items()]
    if nulls:
        out += (
            "<h3>Figures without a value, and why</h3><ul>"
            + "".join(
                f"<li>{escape(c)} a{a}: <code>{escape(k)}</code> — {escape(v)}</li>"
                for c, a, k, v in nulls
            )
            + "</ul>"
        )
    return out + "</section>"


def latency_block(summary: SuiteSummary, rows: Sequence[AttemptRow]) -> str:
    vals = [
        (r.case_id, float(v))
        for r in final_attempts(rows)
        if (v := r.get(PRIMARY_KPI_METRIC)) is not None
    ]
    thr = summary.gates_config.eot_to_first_audio_p95_ms
    svg = latency_svg(vals, p95_ms=summary.PRIMARY_KPI_VALUE, threshold_ms=thr)
    return (
        f'<section id="latency"><h2>Latency distribution: {PRIMARY_KPI_METRIC.name} '
        f"(final attempts)</h2>{svg}<p>P95 (PRIMARY_KPI, P0 only) in red, gate threshold "
        f"{fmt(thr)} ms in black; one dot per case.</p></section>"
    )


def case_block(view: CaseView) -> str:
    cid = escape(view.case_id)
    r = view.row
    out = [
        f'<section class="case" id="case-{cid}"><h3>{cid} (attempt {view.attempt}) — '
        f"{_v(r.capture_status)}</h3>",
        f"<p>eot→first audio {fmt(r.get(PRIMARY_KPI_METRIC))} ms; slice source "
        f"{escape(str(r.slice_source))}; reply samples {r.reply_start_sample}…"
        f"{r.reply_end_sample}; onset sample {r.get(M.ONSET_SAMPLE)}</p>",
    ]
    out += [f'<p class="note">{escape(n)}</p>' for n in view.notes]
    if view.tracks:
        out.append(waveform_svg(view.tracks, view.markers, title=f"{view.case_id} waveforms"))
        out.append(
            '<div class="legend">'
            + "".join(
                f'<span style="color:{c}">┆ {escape(k)}</span>'
                for k, c in (
                    ("EoT", "#d62728"),
                    ("reply_start", "#2ca02c"),
                    ("reply_end", "#9467bd"),
                    ("first audio", "#ff7f0e"),
                )
            )
            + '<span style="background:#ffe9a8">reply slice</span></div>'
        )
    else:
        out.append('<p class="note">no waveform: no audio files in this attempt directory</p>')
    clips = []
    for c in view.clips:
        body = (
            f'<audio controls preload="none" src="{escape(c.src)}"></audio>'
            if c.src
            else '<span class="note">missing</span>'
        )
        clips.append(
            f'<div class="clip"><div><b>{escape(c.label)}</b> {escape(c.note)}</div>{body}</div>'
        )
    out.append(f'<div class="clips">{"".join(clips)}</div></section>')
    return "".join(out)


def render_html(
    summary: SuiteSummary, rows: Sequence[AttemptRow], views: Sequence[CaseView]
) -> str:
    """The whole page. `views` are the final attempts' case views (may be empty)."""
    s = summary
    title = f"AutoRTC report: {s.suite} — {s.verdict}"
    details = "".join(case_block(v) for v in views) or "<p>no case attempts</p>"
    incomplete = (
        f"<p><b>INCOMPLETE</b>: {escape(s.incomplete)}. This report covers the "
        f"{s.n_attempts} attempts that finished.</p>"
        if s.incomplete
        else ""
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1>{incomplete}{kpi_block(s)}{gates_table(s.gates)}"
        f"{latency_block(s, rows)}{cases_table(rows)}{fixes_block(s, rows)}"
        f'<section id="case-details"><h2>Case details (final attempts)</h2>{details}</section>'
        "</body></html>\n"
    )
