"""report.md: the KPI and its baseline first, then gates, cases and suggested fixes. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from autortc.metrics import registry as M
from autortc.metrics.rows import AttemptRow
from autortc.phases import phase_table
from autortc.repeats import repeat_stats, repeats_lines
from autortc.report.outcome import SuiteSummary


def fmt(v: object, nd: int = 1) -> str:
    if v is None:
        return "–"  # noqa: RUF001 (an en dash reads as "no value" in tables)
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{nd}f}" if abs(v) >= 0.01 or v == 0 else f"{v:.2e}"
    return str(v)


def kpi_lines(s: SuiteSummary) -> list[str]:
    ci = s.PRIMARY_KPI_DELTA_CI95
    ci_s = f" (95 % CI {fmt(ci[0])} … {fmt(ci[1])} ms)" if ci else ""
    lines = [
        f"- **PRIMARY_KPI** `{s.PRIMARY_KPI_NAME}` = **{fmt(s.PRIMARY_KPI_VALUE)} ms** "
        f"over {s.PRIMARY_KPI_N} P0 first replies",
    ]
    if s.kpi_error:
        lines.append(f"- **Measured error** of `eot_to_first_audio_ms`: {s.kpi_error}")
    if s.BASELINE_VERSION:
        lines.append(f"- **Baseline** `{s.BASELINE_VERSION}`: {fmt(s.BASELINE_PRIMARY_KPI)} ms")
        lines.append(
            f"- **Delta**: {fmt(s.PRIMARY_KPI_DELTA_MS, 1)} ms{ci_s}; "
            f"regression above +{fmt(s.PRIMARY_KPI_REGRESSION_MS)} ms"
        )
    else:
        lines.append("- **Baseline**: none given (`--baseline golden/<name>/summary.json`)")
    return lines


def case_cells(r: AttemptRow) -> list[str]:
    """The case table's figure cells of one row, in `registry.CASE_TABLE` order."""
    return [fmt(r.get(m), m.shown_digits) for m in M.CASE_TABLE]


DROPS = (M.DROPPED_STALE, M.DROPPED_DUPLICATE, M.DROPPED_BAD, M.DROPPED_WRONG_SENDER)
NO_DROPS = (
    "none: every message the probe got was of this attempt, new, well-formed and from its "
    "rightful sender"
)


def dropped_lines(rows: Sequence[AttemptRow]) -> list[str]:
    """One line per attempt whose probe dropped messages (stale, duplicate, bad)."""
    out = []
    for r in rows:
        counts = [
            (m.name.removeprefix("dropped_"), r.get(m)) for m in DROPS if r.get(m) is not None
        ]
        if any(n for _, n in counts):
            out.append(f"{r.case_id} {r.tag}: " + ", ".join(f"{k} {n}" for k, n in counts))
    return out


OPUS_NOTE = (
    "Opus below 64 kbps alone takes about half of an espeak voice's 4-8 kHz share: "
    "hf_ratio_drop 0.41-0.55 at 24-48 kbps against -0.01-0.01 at 64 kbps, measured "
    "offline through libopus (scripts/bench_opus_hf.py). A distortion WARN at those "
    "bitrates is the codec, not the network."
)


def codec_lines(rows: Sequence[AttemptRow]) -> list[str]:
    """How the agent's track travelled, per distinct setting, with the cases it covers;
    Ring 1 (mel_distance, hf_ratio_drop) is measured through it."""
    if not rows:
        return []
    by_codec: dict[str, list[str]] = {}
    for r in rows:
        cases = by_codec.setdefault(r.codec or "not reported", [])
        if r.case_id not in cases:
            cases.append(r.case_id)
    out = [f"- {codec}: {', '.join(cases)}" for codec, cases in by_codec.items()]
    if any("opus" in c for c in by_codec):
        out.append(f"- {OPUS_NOTE}")
    return out


def phase_lines(rows: Sequence[AttemptRow]) -> list[str]:
    """Where the attempts' wall time went: one table row per phase."""
    table = phase_table([r.phases_ms for r in rows if r.phases_ms])
    if not table:
        return []
    out = ["| phase | median ms | max ms | share |", "|---|---|---|---|"]
    out += [
        f"| {n} | {fmt(med, 0)} | {fmt(mx, 0)} | {sh * 100:.0f} % |" for n, med, mx, sh in table
    ]
    return out


def render_report(s: SuiteSummary, rows: Sequence[AttemptRow]) -> str:
    out = [f"# AutoRTC report: {s.suite} — {s.verdict}", ""]
    if s.incomplete:
        out += [
            f"**INCOMPLETE**: {s.incomplete}. This report covers the "
            f"{s.n_attempts} attempts that finished.",
            "",
        ]
    out += kpi_lines(s)
    out += [
        f"- Verdict **{s.verdict}** (exit {s.exit_code}); run `{s.run_id}` on the "
        f"{s.transport} transport{f' (network: {s.network})' if s.network else ''}; "
        f"{s.n_cases} cases, {s.n_attempts} attempts, "
        f"retry rate {fmt((s.retry_rate or 0) * 100, 0)} %; wall time {fmt(s.wall_s)} s "
        f"(stack start-up {fmt(s.startup_s)} s; real-time floor {fmt(s.realtime_floor_s)} s "
        f"at --jobs {s.jobs})",
        f"- Model figures: {s.model_figures or 'none asked for'}",
        "",
        "## Gates",
        "",
        "| gate | scope | observed | threshold | verdict | detail |",
        "|---|---|---|---|---|---|",
    ]
    for g in s.gates:
        out.append(
            f"| {g.name} | {g.scope} | {fmt(g.observed, 3)} | {fmt(g.threshold, 3)} | "
            f"**{g.verdict}** | {g.detail} |"
        )
    repeated = repeats_lines(repeat_stats(rows, s.gates_config))
    if repeated:
        out += ["", "## Repeats: pass rate, flips and spread per case", "", *repeated]
    headers = ["case", "prio", "attempt", "status", "slice", *(m.header for m in M.CASE_TABLE)]
    headers.append("interrupted")
    out += ["", "## Cases", "", "| " + " | ".join(headers) + " |", "|---" * len(headers) + "|"]
    for r in rows:
        interrupted = [rep.interrupted for rep in r.replies]
        cells = [r.case_id, r.priority, r.tag, r.capture_status, str(r.slice_source)]
        cells += [*case_cells(r), str(interrupted)]
        out.append("| " + " | ".join(cells) + " |")
    codecs = codec_lines(rows)
    if codecs:
        out += ["", "## Codec (Ring 1 is measured through it)", "", *codecs]
    out += ["", "## Suggested fixes", ""]
    out += [f"- **{g.name}** ({g.scope}, {g.verdict}): {g.fix}" for g in s.gates_with_fixes()] or [
        "- none"
    ]
    warned = [(r, w) for r in rows for w in r.warnings]
    if warned:
        out += ["", "## Warnings", ""]
        out += [f"- {r.case_id} {r.tag}: {w}" for r, w in warned]
    phases = phase_lines(rows)
    if phases:
        out += ["", "## Where the attempts' time went", "", *phases]
    out += ["", "## Messages dropped", ""]
    out += [f"- {line}" for line in dropped_lines(rows)] or [f"- {NO_DROPS}"]
    not_ok = [r for r in rows if r.status_reason]
    if not_ok:
        out += ["", "## Attempts not measured, and why", ""]
        out += [f"- {r.case_id} {r.tag}: {r.capture_status}: {r.status_reason}" for r in not_ok]
    nulls = [(r.case_id, r.tag, k, v) for r in rows for k, v in r.null_reasons.items()]
    if nulls:
        out += ["", "## Figures without a value, and why", ""]
        out += [f"- {cid} {tag}: `{k}` — {v}" for cid, tag, k, v in nulls]
    out.append("")
    return "\n".join(out)
