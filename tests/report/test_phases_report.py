"""The attempts' phase timings travel with the row (metrics.json, metrics.csv) and
show in both reports."""

from __future__ import annotations

from autortc.metrics.rows import AttemptRow
from autortc.report.markdown import phase_lines
from autortc.report.write import metrics_frame

PHASES = {"room_create": 12.0, "agent_join": 1800.0, "barrier": 400.0, "analyze": None}


def _row(case_id: str, phases: dict[str, float | None]) -> AttemptRow:
    return AttemptRow.from_dict(
        {
            "case_id": case_id,
            "priority": "P0",
            "attempt": 1,
            "capture_status": "OK",
            "phases_ms": phases,
        }
    )


def test_the_phases_survive_metrics_json_and_the_csv_cell() -> None:
    row = _row("a", PHASES)
    assert AttemptRow.from_dict(row.to_dict()).phases_ms == PHASES
    cell = metrics_frame([row]).iloc[0]["phases_ms"]
    assert isinstance(cell, str)
    assert AttemptRow.from_dict({**row.to_dict(), "phases_ms": cell}).phases_ms == PHASES


def test_the_report_table_names_where_the_time_went() -> None:
    rows = [_row("a", PHASES), _row("b", {**PHASES, "agent_join": 3800.0})]
    lines = phase_lines(rows)
    assert lines[0] == "| phase | median ms | max ms | share |"
    join = next(line for line in lines if line.startswith("| agent_join "))
    assert join == "| agent_join | 2800 | 3800 | 87 % |"  # 5600 of 6424 ms
    assert not any(line.startswith("| analyze ") for line in lines)  # never measured
    assert phase_lines([_row("c", {})]) == []  # rows without timings: no section


def test_the_codec_is_shown_with_its_cases_and_the_opus_note() -> None:
    from autortc.artifacts import codec_description
    from autortc.protocol import AudioPublishInfo
    from autortc.report.markdown import OPUS_NOTE, codec_lines

    opus = codec_description(
        AudioPublishInfo(codec="opus", max_bitrate_bps=64_000, dtx=False, red=True),
        "audio/red",
    )
    assert opus == "agent sent opus max 64 kbps, DTX off, RED on, mono; probe got audio/red"
    pcm = codec_description(AudioPublishInfo(codec="pcm"), "audio/L16")
    assert pcm == "agent sent pcm 16-bit 48 kHz, mono, lossless; probe got audio/L16"
    assert codec_description(None, None) is None  # black-box on an old probe: unknown
    rows = [
        AttemptRow.from_dict({"case_id": c, "capture_status": "OK", "codec": codec})
        for c, codec in (("a", pcm), ("b", pcm), ("c", None))
    ]
    assert codec_lines(rows) == [f"- {pcm}: a, b", "- not reported: c"]
    opus_rows = [AttemptRow.from_dict({"case_id": "a", "capture_status": "OK", "codec": opus})]
    assert codec_lines(opus_rows)[-1] == f"- {OPUS_NOTE}"
