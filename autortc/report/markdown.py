"""report.md: the KPI and its baseline first, then gates, cases and suggested fixes. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def fmt(v: Any, nd: int = 1) -> str:
    if v is None:
        return "–"  # noqa: RUF001 (an en dash reads as "no value" in tables)
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{nd}f}" if abs(v) >= 0.01 or v == 0 else f"{v:.2e}"
    return str(v)


def kpi_lines(s: Mapping[str, Any]) -> list[str]:
    ci = s.get("PRIMARY_KPI_DELTA_CI95")
    ci_s = f" (95 % CI {fmt(ci[0])} … {fmt(ci[1])} ms)" if ci else ""
    base = s.get("BASELINE_VERSION")
    lines = [
        f"- **PRIMARY_KPI** `{s['PRIMARY_KPI_NAME']}` = **{fmt(s.get('PRIMARY_KPI_VALUE'))} ms** "
        f"over {s.get('PRIMARY_KPI_N', 0)} P0 first replies",
    ]
    if base:
        lines.append(f"- **Baseline** `{base}`: {fmt(s.get('BASELINE_PRIMARY_KPI'))} ms")
        lines.append(
            f"- **Delta**: {fmt(s.get('PRIMARY_KPI_DELTA_MS'), 1)} ms{ci_s}; "
            f"regression above +{fmt(s.get('PRIMARY_KPI_REGRESSION_MS'))} ms"
        )
    else:
        lines.append("- **Baseline**: none given (`--baseline golden/<name>/summary.json`)")
    return lines


def render_report(summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> str:
    s = summary
    out = [f"# AutoRTC report: {s.get('suite')} — {s['verdict']}", ""]
    out += kpi_lines(s)
    out += [
        f"- Verdict **{s['verdict']}** (exit {s['exit_code']}); run `{s.get('run_id')}` on the "
        f"{s.get('transport')} transport; {s.get('n_cases')} cases, {s.get('n_attempts')} attempts, "
        f"retry rate {fmt((s.get('retry_rate') or 0) * 100, 0)} %; wall time {fmt(s.get('wall_s'))} s",
        "",
        "## Gates",
        "",
        "| gate | scope | observed | threshold | verdict | detail |",
        "|---|---|---|---|---|---|",
    ]
    for g in s.get("gates", []):
        out.append(
            f"| {g['name']} | {g['scope']} | {fmt(g['observed'], 3)} | {fmt(g['threshold'], 3)} | "
            f"**{g['verdict']}** | {g.get('detail', '')} |"
        )
    out += [
        "",
        "## Cases",
        "",
        "| case | prio | attempt | status | slice | eot→first audio ms | agent eot→publish ms | "
        "max gap ms | added gap ms | dropouts | clipping | inter-arrival p95 ms | mel dist dB | "
        "hf drop | barge-in stop ms | interrupted |",
        "|---" * 16 + "|",
    ]
    for r in rows:
        interrupted = [rep.get("interrupted") for rep in (r.get("replies") or [])]
        out.append(
            f"| {r['case_id']} | {r['priority']} | {r['attempt']} | {r.get('capture_status')} | "
            f"{r.get('slice_source')} | {fmt(r.get('eot_to_first_audio_ms'))} | "
            f"{fmt(r.get('agent_eot_to_first_audio_ms'))} | {fmt(r.get('max_gap_ms'))} | "
            f"{fmt(r.get('added_gap_ms'))} | {fmt(r.get('audible_dropout'))} | "
            f"{fmt(r.get('clipping_ratio'), 4)} | {fmt(r.get('inter_arrival_p95_ms'))} | "
            f"{fmt(r.get('mel_distance'), 2)} | {fmt(r.get('hf_ratio_drop'), 3)} | "
            f"{fmt(r.get('barge_in_stop_ms'))} | {interrupted} |"
        )
    fixes = [
        g for g in s.get("gates", []) if g["verdict"] in ("FAIL", "WARN", "INFRA") and g.get("fix")
    ]
    out += ["", "## Suggested fixes", ""]
    out += [f"- **{g['name']}** ({g['scope']}, {g['verdict']}): {g['fix']}" for g in fixes] or [
        "- none"
    ]
    nulls = [
        (r["case_id"], r["attempt"], k, v)
        for r in rows
        for k, v in (r.get("null_reasons") or {}).items()
    ]
    if nulls:
        out += ["", "## Figures without a value, and why", ""]
        out += [f"- {cid} a{a}: `{k}` — {v}" for cid, a, k, v in nulls]
    out.append("")
    return "\n".join(out)
