"""`autortc calibrate`'s pieces that need no run: the cases it makes, the report's note,
and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autortc.calibrate import calibration_cases, kpi_error_note, network_for, parse_list
from autortc.case_schema import CASES_DIR
from autortc.errors import InputError


def test_the_cases_share_the_calibration_audio_and_name_their_delay() -> None:
    cases = calibration_cases(CASES_DIR, [0, 150], 3)
    assert [c.id for c in cases][:4] == ["cal_d0_00", "cal_d0_01", "cal_d0_02", "cal_d150_00"]
    assert {c.source_case for c in cases} == {"calibration_eot"}
    assert [c.agent.calibration_delay_ms for c in cases] == [0, 0, 0, 150, 150, 150]


def test_the_network_sets_both_links_and_the_codec() -> None:
    net = network_for("opus", 40.0)
    assert net.codec == "opus"
    assert net.profile.uplink.one_way_delay_ms == net.profile.downlink.one_way_delay_ms == 40.0
    assert net.profile.playout_delay_ms == 40.0


def test_the_kpi_note_reads_the_committed_measurement(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    body = {
        "measured": "2026-12-02, 2 cores",
        "configs": {
            "pcm, 0 ms one way": {"n": 30, "bias_ms": 0.31, "p95_abs_ms": 1.2},
            "opus, 40 ms one way": {"n": 30, "bias_ms": -0.42, "p95_abs_ms": 1.9},
        },
    }
    path.write_text(json.dumps(body))
    note = kpi_error_note(path)
    assert note is not None
    assert note.startswith("bias -0.4 to +0.3 ms, P95 |error| <= 1.9 ms over 60 turns")
    assert "2026-12-02" in note
    assert "LiveKit" in (kpi_error_note(path, transport="livekit") or "")
    assert kpi_error_note(tmp_path / "missing.json") is None
    path.write_text("{not json")
    assert kpi_error_note(path) is None


def test_bad_lists_are_input_errors() -> None:
    assert parse_list("0, 150,400", "--delays-ms", int) == [0, 150, 400]
    with pytest.raises(InputError, match="--delays-ms"):
        parse_list("0,x", "--delays-ms", int)
    with pytest.raises(InputError, match="--one-way-ms"):
        parse_list("-5", "--one-way-ms", float)


def test_an_unknown_codec_or_a_livekit_server_is_refused_with_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from autortc.cli import main

    assert main(["calibrate", "--local", "--codecs", "pcm,amr"]) == 2
    assert "unknown codec 'amr'" in capsys.readouterr().err
    assert main(["calibrate", "--livekit-url", "ws://127.0.0.1:1"]) == 2
    assert "embedded transport" in capsys.readouterr().err


def test_the_transit_floors_come_from_the_probes_buffers_else_the_configured_delay(
    tmp_path: Path,
) -> None:
    from autortc.calibrate import transit_floors

    assert transit_floors(tmp_path, 40.0) == (40.0, 40.0)  # no probe_result.json
    body = {
        "user_track_network": {"min_transit_ms": 40.61},
        "agent_track_network": {"min_transit_ms": 40.27},
    }
    (tmp_path / "probe_result.json").write_text(json.dumps(body))
    assert transit_floors(tmp_path, 40.0) == (40.61, 40.27)
    (tmp_path / "probe_result.json").write_text(json.dumps({"agent_track_network": None}))
    assert transit_floors(tmp_path, 0.0) == (0.0, 0.0)
