"""junit.xml: gates and cases as JUnit test cases, for CI dashboards. Pure.

Two test suites:
- "gates": one test case per gate result, named "<gate>[<scope>]". FAIL -> <failure>
  (observed, threshold, fix), SKIP -> <skipped>, INFRA -> <error>, WARN -> a pass with
  a <system-out> note, PASS -> a pass.
- "cases": one test case per case's final attempt. A capture_status other than OK ->
  <failure> naming the status and the null reasons.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from autortc.gates import GateResult, Verdict
from autortc.kpi import PRIMARY_KPI_METRIC
from autortc.metrics.rows import AttemptRow, final_attempts
from autortc.metrics.status import OK
from autortc.report.outcome import SuiteSummary


def _gate_message(g: GateResult) -> str:
    return f"{g.name} ({g.scope}): {g.verdict}: observed {g.observed} vs threshold {g.threshold}"


def _gate_body(g: GateResult) -> str:
    lines = [_gate_message(g)]
    if g.detail:
        lines.append(f"detail: {g.detail}")
    if g.fix:
        lines.append(f"fix: {g.fix}")
    return "\n".join(lines)


def _suite(parent: ET.Element, name: str, cases: list[ET.Element]) -> ET.Element:
    def count(tag: str) -> int:
        return sum(1 for c in cases if c.find(tag) is not None)

    suite = ET.SubElement(
        parent,
        "testsuite",
        {
            "name": name,
            "tests": str(len(cases)),
            "failures": str(count("failure")),
            "errors": str(count("error")),
            "skipped": str(count("skipped")),
            "time": "0",
        },
    )
    suite.extend(cases)
    return suite


def gate_testcases(gates: Sequence[GateResult], *, suite_name: str) -> list[ET.Element]:
    out: list[ET.Element] = []
    for g in gates:
        tc = ET.Element(
            "testcase",
            {"classname": f"{suite_name}.gates", "name": f"{g.name}[{g.scope}]", "time": "0"},
        )
        verdict = g.verdict
        if verdict == Verdict.FAIL:
            ET.SubElement(
                tc, "failure", {"message": _gate_message(g), "type": "GateFailure"}
            ).text = _gate_body(g)
        elif verdict == Verdict.INFRA:
            ET.SubElement(
                tc, "error", {"message": _gate_message(g), "type": "Infrastructure"}
            ).text = _gate_body(g)
        elif verdict == Verdict.SKIP:
            ET.SubElement(tc, "skipped", {"message": g.detail or "skipped"})
        elif verdict == Verdict.WARN:
            ET.SubElement(tc, "system-out").text = "WARN: " + _gate_body(g)
        out.append(tc)
    return out


def case_testcases(rows: Sequence[AttemptRow], *, suite_name: str) -> list[ET.Element]:
    out: list[ET.Element] = []
    for r in sorted(final_attempts(rows), key=lambda r: r.case_id):
        tc = ET.Element(
            "testcase",
            {
                "classname": f"{suite_name}.cases",
                "name": f"{r.case_id}[{r.tag}]",
                "time": "0",
            },
        )
        status = r.capture_status
        lat = r.get(PRIMARY_KPI_METRIC)
        note = f"priority {r.priority}, capture_status {status}, {PRIMARY_KPI_METRIC.name} {lat}"
        if status != OK:
            body = [note, "null reasons:"] + [f"  {k}: {v}" for k, v in r.null_reasons.items()]
            ET.SubElement(
                tc, "failure", {"message": f"capture_status {status}", "type": "CaptureStatus"}
            ).text = "\n".join(body)
        else:
            ET.SubElement(tc, "system-out").text = note
        out.append(tc)
    return out


def render_junit(summary: SuiteSummary, rows: Sequence[AttemptRow]) -> str:
    """The junit.xml text for one run."""
    suite_name = f"autortc.{summary.suite or 'suite'}"
    root = ET.Element("testsuites", {"name": f"{suite_name} {summary.run_id}"})
    gates = _suite(root, "gates", gate_testcases(summary.gates, suite_name=suite_name))
    props = ET.SubElement(ET.Element("x"), "properties")
    for k in (
        "run_id",
        "verdict",
        "PRIMARY_KPI_NAME",
        "PRIMARY_KPI_VALUE",
        "BASELINE_VERSION",
        "PRIMARY_KPI_DELTA_MS",
    ):
        v = getattr(summary, k)
        ET.SubElement(
            props,
            "property",
            {"name": k, "value": "" if v is None else (v if isinstance(v, str) else json.dumps(v))},
        )
    gates.insert(0, props)
    _suite(root, "cases", case_testcases(rows, suite_name=suite_name))
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in root.findall("testsuite"))))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
