"""`tts-regress`'s summary.json and its printed table (pure: builds dicts and text).

The table's columns are declared once, in `COLUMNS`; summary.json carries every
field of `TextFigures`, each text's engine figures (`EngineFigures`: the stream's max
LSB against offline, the engine's counters) and its gates (name, observed, threshold,
verdict).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agent.tts_regress_engine import EngineFigures
from agent.tts_regress_gates import TextFigures
from agent.tts_regress_registry import HASH_VS_BASELINE, TtsThresholds
from autortc.gates import GateResult, Verdict, overall_verdict
from autortc.metrics import stats

_RANK = {Verdict.FAIL: 3, Verdict.WARN: 2, Verdict.SKIP: 1, Verdict.PASS: 0}


def worst(gates: Sequence[GateResult]) -> str:
    """The text's verdict: its worst gate (FAIL > WARN > PASS; SKIP alone is PASS)."""
    v = max((g.verdict for g in gates), key=lambda x: _RANK.get(Verdict(x), 0), default="PASS")
    return Verdict.PASS if v == Verdict.SKIP else str(v)


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[TextFigures], str]


COLUMNS = (
    Column("text", lambda f: f.text_id),
    Column("lang", lambda f: f.language),
    Column("audio_ms", lambda f: _num(f.duration_ms, ".0f")),
    Column("chunks", lambda f: str(f.chunks)),
    Column("ttfa_p50_ms", lambda f: _num(f.ttfa_p50_ms, ".2f")),
    Column("ttfa_p95_ms", lambda f: _num(f.ttfa_p95_ms, ".2f")),
    Column("rtf_p50", lambda f: _num(f.rtf_p50, ".4f")),
    Column("stream_rtf_p50", lambda f: _num(f.stream_rtf_p50, ".4f")),
    Column("snr_db", lambda f: _num(f.snr_db, ".1f")),
    Column("dur_diff_ms", lambda f: _num(f.duration_diff_ms, ".1f")),
    Column("repeat_ms", lambda f: _num(max(f.repeated_offline_ms, f.repeated_stream_ms), ".0f")),
)


def build_summary(
    *,
    engine: str,
    version: str,
    environment: dict[str, str],
    runs: int,
    figures: Sequence[TextFigures],
    text_gates: dict[str, list[GateResult]],
    baseline_gates: Sequence[GateResult],
    baseline_path: str | None,
    thresholds: TtsThresholds,
    engine_figures: dict[str, EngineFigures] | None = None,
) -> dict[str, Any]:
    """summary.json: the engine, each text's figures and gates, the totals and verdict."""
    every = [g for gs in text_gates.values() for g in gs] + list(baseline_gates)
    eng = engine_figures or {}
    verdict, exit_code = overall_verdict(every)
    ttfa = [t for f in figures for t in f.ttfa_ms]
    return {
        "engine": engine,
        "version": version,
        "espeak_version": environment.get("espeak_ng"),
        "environment": environment,
        "runs": runs,
        "verdict": str(verdict),
        "exit_code": exit_code,
        "ttfa_p50_ms": stats.median(ttfa),
        "ttfa_p95_ms": stats.p95(ttfa),
        "rtf_p50": stats.median([x for f in figures for x in f.rtf_runs]),
        "baseline": baseline_path,
        "thresholds": asdict(thresholds),
        "texts": [
            {
                **asdict(f),
                "engine": asdict(eng[f.text_id]) if f.text_id in eng else None,
                "verdict": worst(text_gates[f.text_id]),
                "gates": _dicts(text_gates, f),
            }
            for f in figures
        ],
        "baseline_gates": [g.to_dict() for g in baseline_gates],
    }


def _dicts(text_gates: dict[str, list[GateResult]], f: TextFigures) -> list[dict[str, Any]]:
    return [g.to_dict() for g in text_gates[f.text_id]]


def progress_line(i: int, n: int, f: TextFigures, gates: Sequence[GateResult]) -> str:
    """One line per text as it is done."""
    return (
        f"[{i}/{n}] {f.text_id} ({f.language}): {f.duration_ms / 1000:.2f} s audio, "
        f"{f.chunks} chunks, TTFA P95 {_num(f.ttfa_p95_ms, '.2f')} ms, "
        f"RTF {_num(f.rtf_p50, '.4f')}, SNR {_num(f.snr_db, '.1f')} dB: {worst(gates)}"
    )


def _gate_line(g: dict[str, Any]) -> str:
    obs = g["observed"]
    thr = g["threshold"]
    line = f"{g['verdict']} {g['name']} [{g['scope']}]: observed {_num(obs, '.4g')}"
    line += f", threshold {_num(thr, '.4g')}" if thr is not None else ""
    line += f" ({g['detail']})" if g["detail"] else ""
    return line + (f"; fix: {g['fix']}" if g["fix"] else "")


def _engine_line(text: dict[str, Any]) -> str:
    """The engine's own figures for one text: stream vs offline in LSB, its counters."""
    e = text["engine"]
    lsb = "not comparable" if e["stream_max_lsb"] is None else f"max {e['stream_max_lsb']} LSB"
    if e["stream_differing_samples"]:
        lsb += f" ({e['stream_differing_samples']} of {e['samples']} samples)"
    counted = ", ".join(f"{k} {v}" for k, v in e["counters"].items()) or "none"
    return f"engine [{text['text_id']}]: stream vs offline {lsb}; counters: {counted}"


def render_table(summary: dict[str, Any], figures: Sequence[TextFigures]) -> str:
    """The final table: one row per text, a totals row, then every per-text gate that
    did not pass and the run's figures against the baseline."""
    rows = [[c.header for c in COLUMNS] + ["verdict"]]
    by_id = {t["text_id"]: t for t in summary["texts"]}
    rows += [[c.cell(f) for c in COLUMNS] + [by_id[f.text_id]["verdict"]] for f in figures]
    total = dict.fromkeys((c.header for c in COLUMNS), "")
    total.update(
        text="all",
        ttfa_p50_ms=_num(summary["ttfa_p50_ms"], ".2f"),
        ttfa_p95_ms=_num(summary["ttfa_p95_ms"], ".2f"),
        rtf_p50=_num(summary["rtf_p50"], ".4f"),
    )
    rows.append([total[c.header] for c in COLUMNS] + [summary["verdict"]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        f"tts-regress: engine {summary['engine']} ({summary['version']}), {summary['runs']} runs, "
        f"baseline {summary['baseline'] or 'none'}"
    ]
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [cell.rjust(w) for cell, w in zip(r[2:-1], widths[2:-1], strict=True)]
        lines.append("  ".join([*cells, r[-1]]))
    per_text = [g for t in summary["texts"] for g in t["gates"]]
    hashes = [g for g in per_text if g["name"] == HASH_VS_BASELINE.name]
    if hashes:
        same = sum(g["verdict"] == Verdict.PASS for g in hashes)
        lines.append(f"hashes: {same} of {len(hashes)} texts as in the baseline")
    lines += [_engine_line(t) for t in summary["texts"] if t.get("engine")]
    lines += [_gate_line(g) for g in per_text if g["verdict"] != Verdict.PASS]
    lines += [_gate_line(g) for g in summary["baseline_gates"]]  # TTFA/RTF vs the baseline
    lines.append(f"verdict: {summary['verdict']} (exit {summary['exit_code']})")
    return "\n".join(lines)
