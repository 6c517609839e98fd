from pathlib import Path

import pytest
import yaml

from autortc.errors import CaseError
from autortc.gates import (
    DEFAULT_GATES_PATH,
    GateResult,
    GatesConfig,
    evaluate_gates,
    load_gates,
    overall_verdict,
)
from autortc.metrics.rows import AttemptRow


def row(
    case_id,
    *,
    priority="P0",
    attempt=1,
    status="OK",
    eot=400.0,
    tts=50.0,
    ttft=40.0,
    dropout=0,
    gap=100.0,
    clip=0.0,
    ia=12.0,
    valid=True,
    **extra,
):
    r = {
        "case_id": case_id,
        "priority": priority,
        "attempt": attempt,
        "capture_status": status,
        "audio_valid": valid,
        "eot_to_first_audio_ms": eot,
        "replies": [
            {
                "audible_dropout": dropout,
                "max_gap_ms": gap,
                "clipping_ratio": clip,
                "inter_arrival_p95_ms": ia,
            }
        ],
        "turns": [{"tts_first_to_publish_ms": tts, "fast_lane_ttft_ms": ttft}],
        "input_spike_count": 0,
        "drift_ratio": 1.0,
        "hf_ratio_drop": 0.0,
    }
    r.update(extra)
    return AttemptRow.from_dict(r)


def by_name(results, name, scope="P0"):
    return next(g for g in results if g.name == name and g.scope in (scope, "all", "vs baseline"))


def test_default_yaml_equals_python_defaults():
    assert load_gates() == GatesConfig()
    assert load_gates(DEFAULT_GATES_PATH).max_gap_limit_ms == 350.0


def test_bad_gates_file_names_file_and_field(tmp_path: Path):
    p = tmp_path / "g.yaml"
    p.write_text(yaml.safe_dump({"max_gap_limit_ms": -1}))
    with pytest.raises(CaseError) as e:
        load_gates(p)
    assert e.value.field == "max_gap_limit_ms"
    assert str(p) in str(e.value)
    p.write_text(yaml.safe_dump({"max_gap": 300}))
    with pytest.raises(CaseError) as e2:
        load_gates(p)
    assert e2.value.field == "max_gap"
    with pytest.raises(CaseError):
        load_gates(tmp_path / "missing.yaml")


def test_all_good_suite_passes_with_exit_0():
    res = evaluate_gates([row("a"), row("b"), row("c")])
    assert all(g.verdict in ("PASS", "SKIP") for g in res)
    assert by_name(res, "primary_kpi_regression").verdict == "SKIP"
    assert overall_verdict(res) == ("PASS", 0)


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("eot_to_first_audio_p95", {"eot": 1000.0}),
        ("tts_first_to_publish_p95", {"tts": 200.0}),
        ("audible_dropout", {"dropout": 1}),
        ("max_gap", {"gap": 350.0}),
        ("clipping_ratio", {"clip": 0.001}),
        ("fast_lane_ttft_p95", {"ttft": 90.0}),  # P95 of [40, 90] = 87.5
        ("inter_arrival_p95", {"ia": 45.0}),
        ("audio_valid_rate", {"valid": False}),
    ],
)
def test_each_p0_gate_fails_with_a_fix_and_p1_only_warns(name, bad):
    res = evaluate_gates([row("a"), row("b", **bad)])
    g = by_name(res, name)
    assert g.verdict == "FAIL"
    assert g.fix
    assert "b" in g.detail
    assert overall_verdict(res) == ("FAIL", 1)
    res1 = evaluate_gates([row("a"), row("p1", priority="P1", **bad)])
    assert by_name(res1, name, "P0").verdict == "PASS"
    w = by_name(res1, name, "P1")
    assert w.verdict == "WARN"
    assert w.fix
    assert overall_verdict(res1) == ("PASS", 0)


def test_p95_gate_uses_numpy_linear_percentile():
    rows = [row(str(i), eot=float(v)) for i, v in enumerate([100, 200, 300, 400, 1100])]
    g = by_name(evaluate_gates(rows), "eot_to_first_audio_p95")
    assert g.observed == pytest.approx(960.0)  # 400 + 0.8 * 700
    assert g.verdict == "FAIL"


def test_fast_lane_skips_without_trace():
    res = evaluate_gates([row("a", ttft=None, tts=None)])
    g = by_name(res, "fast_lane_ttft_p95")
    assert g.verdict == "SKIP"
    assert "no trace" in g.detail


def test_infra_after_retry_is_infra_not_fail_and_only_last_attempt_counts():
    rows = [
        row("a"),
        row("b", status="BARRIER_TIMEOUT", valid=False),
        row("b", attempt=2, status="AGENT_NOT_JOINED", valid=False),
        row("c", status="POST_SILENT", valid=False),
        row("c", attempt=2),
    ]
    res = evaluate_gates(rows)
    assert by_name(res, "infrastructure").verdict == "INFRA"
    assert by_name(res, "audio_valid_rate").verdict == "PASS"  # b excluded, c recovered
    assert overall_verdict(res) == ("INFRA", 2)


def test_fail_outranks_infra():
    res = evaluate_gates([row("a", gap=500.0), row("b", status="TIMEOUT")])
    assert overall_verdict(res) == ("FAIL", 1)


def test_kpi_regression_gate():
    assert (
        by_name(evaluate_gates([row("a")], kpi_delta_ms=30.0), "primary_kpi_regression").verdict
        == "PASS"
    )
    g = by_name(evaluate_gates([row("a")], kpi_delta_ms=31.0), "primary_kpi_regression")
    assert g.verdict == "FAIL"
    assert g.fix


def test_fingerprints_only_warn():
    res = evaluate_gates(
        [
            row(
                "a",
                priority="P1",
                input_spike_count=3,
                replies=[{"drift_ratio": 0.96, "hf_ratio_drop": 0.8}],
            )
        ]
    )
    for name in ("fp_boom", "fp_speed_drift", "fp_distortion"):
        g = by_name(res, name)
        assert g.verdict == "WARN"
        assert g.fix
    assert by_name(res, "fp_speed_drift").observed == pytest.approx(0.04)
    assert overall_verdict(res) == ("PASS", 0)


def test_thresholds_come_from_config():
    cfg = GatesConfig(max_gap_limit_ms=600.0)
    assert by_name(evaluate_gates([row("a", gap=500.0)], config=cfg), "max_gap").verdict == "PASS"


def test_gate_result_is_data():
    g = GateResult("x", 1.0, 2.0, "PASS", None, "P0")
    assert g.to_dict()["verdict"] == "PASS"


def turn(**figs):
    base = {"tts_first_to_publish_ms": 50.0, "fast_lane_ttft_ms": 40.0}
    return {**base, **figs}


def test_turn_taking_gates_are_quiet_on_a_polite_agent():
    polite = [turn(false_endpoint=0, unanswered=0, overlap_ms=0.0, early_reply_ms=None)]
    barge = [turn(), turn(is_barge_in=True, barge_in_stop_ms=250.0, false_interruption=0)]
    res = evaluate_gates([row("a", turns=polite), row("b", turns=barge)])
    for name in ("false_endpoint", "unanswered", "overlap", "barge_in_stop", "false_interruption"):
        assert by_name(res, name).verdict == "PASS", name
    assert overall_verdict(res) == ("PASS", 0)


@pytest.mark.parametrize(
    ("name", "bad", "note"),
    [
        ("false_endpoint", {"false_endpoint": 1, "early_reply_ms": 1200.0}, "early_reply_ms 1200"),
        ("unanswered", {"unanswered": 1}, None),
        ("overlap", {"overlap_ms": 900.0}, None),
        ("false_interruption", {"false_interruption": 1}, None),
    ],
)
def test_each_turn_taking_gate_fires_on_its_defect(name, bad, note):
    res = evaluate_gates([row("a"), row("rude", turns=[turn(**bad)])])
    g = by_name(res, name)
    assert g.verdict == "FAIL"
    assert g.fix
    assert "rude" in g.detail
    if note:
        assert note in g.detail  # the offender says how early it answered
    assert overall_verdict(res) == ("FAIL", 1)


def test_overlap_during_a_barge_in_is_judged_by_barge_in_stop_not_overlap():
    slow_stop = [turn(is_barge_in=True, overlap_ms=900.0, barge_in_stop_ms=900.0)]
    res = evaluate_gates([row("a", turns=slow_stop)])
    assert by_name(res, "overlap").verdict == "SKIP"  # barge-in turns are not "talking over"
    assert by_name(res, "barge_in_stop").verdict == "FAIL"


def test_a_reply_without_its_end_fails_the_reply_complete_gate():
    res = evaluate_gates([row("a"), row("cut", status="REPLY_INCOMPLETE")])
    g = by_name(res, "reply_complete")
    assert g.verdict == "FAIL"
    assert "cut" in g.detail
    assert overall_verdict(res)[0] == "FAIL"
    assert by_name(evaluate_gates([row("a")]), "reply_complete").verdict == "PASS"


def test_the_concealment_gate_fails_a_lossy_reply_and_skips_without_a_network():
    res = evaluate_gates([row("a", conceal_rate_per_s=0.0), row("b", conceal_rate_per_s=3.3)])
    g = by_name(res, "conceal_rate")
    assert g.verdict == "FAIL"
    assert "b" in g.detail
    assert g.fix
    quiet = evaluate_gates([row("a", conceal_rate_per_s=0.0), row("b", conceal_rate_per_s=0.9)])
    assert by_name(quiet, "conceal_rate").verdict == "PASS"
    none = evaluate_gates([row("a"), row("b")])  # --network off, or LiveKit
    assert by_name(none, "conceal_rate").verdict == "SKIP"


@pytest.mark.parametrize(
    ("name", "bad", "good", "observed"),
    [
        ("fp_heard_wer", {"heard_wer_delta": 0.4}, {"heard_wer_delta": 0.25}, 0.4),
        ("fp_visqol_floor", {"visqol_moslqo": 2.9}, {"visqol_moslqo": 4.5}, 2.9),
    ],
)
def test_the_heard_and_listening_fingerprints_warn_on_a_degraded_reply_only(
    name, bad, good, observed
):
    res = evaluate_gates([row("a", **good), row("b", **bad)])
    g = by_name(res, name)
    assert g.verdict == "WARN"
    assert g.observed == pytest.approx(observed)  # the worst: a floor reports its minimum
    assert "b" in g.detail
    assert g.fix
    assert overall_verdict(res) == ("PASS", 0)
    assert by_name(evaluate_gates([row("a", **good)]), name).verdict == "PASS"
    assert by_name(evaluate_gates([row("a")]), name).verdict == "SKIP"  # not asked for
