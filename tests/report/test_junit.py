"""junit.xml: one test case per gate and per case, counts consistent with the verdicts."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from autortc.report.junit import render_junit


def _suites(xml_text: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml_text)
    assert root.tag == "testsuites"
    return {s.get("name"): s for s in root.findall("testsuite")}


def test_junit_gate_suite_counts_match_gate_verdicts(mixed_run):
    run_dir, outcome = mixed_run
    suites = _suites((run_dir / "junit.xml").read_text())
    gates = suites["gates"]
    verdicts = [g.verdict for g in outcome.gates]
    assert int(gates.get("tests")) == len(outcome.gates) == len(gates.findall("testcase"))
    assert int(gates.get("failures")) == verdicts.count("FAIL") == 3  # latency, unanswered, valid
    assert int(gates.get("errors")) == verdicts.count("INFRA") == 1
    skipped = sorted(f"{g.name}[{g.scope}]" for g in outcome.gates if g.verdict == "SKIP")
    assert int(gates.get("skipped")) == verdicts.count("SKIP") == len(skipped)
    assert skipped == [  # the network and model gates: no network, no model figures
        "barge_in_stop[P0]",
        "barge_in_stop[P1]",
        "conceal_rate[P0]",
        "conceal_rate[P1]",
        "false_interruption[P0]",
        "false_interruption[P1]",
        "fp_heard_wer[all]",
        "fp_visqol_floor[all]",
        "primary_kpi_regression[vs baseline]",
    ]
    names = [tc.get("name") for tc in gates.findall("testcase")]
    assert "eot_to_first_audio_p95[P0]" in names
    assert "eot_to_first_audio_p95[P1]" in names


def test_junit_failure_carries_observed_threshold_and_fix(mixed_run):
    run_dir, _ = mixed_run
    gates = _suites((run_dir / "junit.xml").read_text())["gates"]
    tc = next(t for t in gates.findall("testcase") if t.get("name") == "eot_to_first_audio_p95[P0]")
    fail = tc.find("failure")
    assert fail is not None
    assert "observed 875.0" in fail.get("message")
    assert "threshold 800.0" in fail.get("message")
    assert "fix: Find the slow stage" in fail.text


def test_junit_warn_is_a_pass_with_a_system_out_note(mixed_run):
    run_dir, _ = mixed_run
    gates = _suites((run_dir / "junit.xml").read_text())["gates"]
    tc = next(t for t in gates.findall("testcase") if t.get("name") == "eot_to_first_audio_p95[P1]")
    assert tc.find("failure") is None
    assert tc.find("error") is None
    assert tc.find("skipped") is None
    assert tc.find("system-out").text.startswith("WARN: ")


def test_junit_case_suite_fails_final_attempts_not_ok(mixed_run):
    run_dir, _outcome = mixed_run
    cases = _suites((run_dir / "junit.xml").read_text())["cases"]
    tcs = {t.get("name"): t for t in cases.findall("testcase")}
    assert int(cases.get("tests")) == 7 == len(tcs)  # final attempts only
    # blackbox PRE_MISSING, silent POST_SILENT, infra BARRIER_TIMEOUT
    assert int(cases.get("failures")) == 3
    assert tcs["retried_ok[a2]"].find("failure") is None
    fail = tcs["infra_case[a2]"].find("failure")
    assert fail.get("message") == "capture_status BARRIER_TIMEOUT"
    assert "mel_distance: capture_status BARRIER_TIMEOUT" in fail.text


def test_junit_root_totals_are_sums_and_text_is_pure(mixed_run):
    _, outcome = mixed_run
    text = render_junit(outcome.summary, outcome.rows)
    root = ET.fromstring(text)
    for attr in ("tests", "failures", "errors", "skipped"):
        assert int(root.get(attr)) == sum(int(s.get(attr)) for s in root.findall("testsuite"))
    assert text == render_junit(outcome.summary, outcome.rows)
