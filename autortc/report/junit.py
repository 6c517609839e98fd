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
from collections.abc import Mapping, Sequence
from typing import Any

from autortc.report.outcome import final_rows

OK_STATUS = "OK"


def _gate_message(g: Mapping[str, Any]) -> str:
    return (
        f"{g['name']} ({g['scope']}): {g['verdict']}: observed {g.get('observed')} "
        f"vs threshold {g.get('threshold')}"
    )


def _gate_body(g: Mapping[str, Any]) -> str:
    lines = [_gate_message(g)]
    if g.get("detail"):
        lines.append(f"detail: {g['detail']}")
    if g.get("fix"):
        lines.append(f"fix: {g['fix']}")
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


def gate_testcases(gates: Sequence[Mapping[str, Any]], *, suite_name: str) -> list[ET.Element]:
    out: list[ET.Element] = []
    for g in gates:
        tc = ET.Element(
            "testcase",
            {"classname": f"{suite_name}.gates", "name": f"{g['name']}[{g['scope']}]", "time": "0"},
        )
        verdict = g["verdict"]
        if verdict == "FAIL":
            ET.SubElement(
                tc, "failure", {"message": _gate_message(g), "type": "GateFailure"}
            ).text = _gate_body(g)
        elif verdict == "INFRA":
            ET.SubElement(
                tc, "error", {"message": _gate_message(g), "type": "Infrastructure"}
            ).text = _gate_body(g)
        elif verdict == "SKIP":
            ET.SubElement(tc, "skipped", {"message": g.get("detail") or "skipped"})
        elif verdict == "WARN":
            ET.SubElement(tc, "system-out").text = "WARN: " + _gate_body(g)
        out.append(tc)
    return out


def case_testcases(rows: Sequence[Mapping[str, Any]], *, suite_name: str) -> list[ET.Element]:
    out: list[ET.Element] = []
    for r in sorted(final_rows(rows), key=lambda r: str(r["case_id"])):
        tc = ET.Element(
            "testcase",
            {
                "classname": f"{suite_name}.cases",
                "name": f"{r['case_id']}[a{r['attempt']}]",
                "time": "0",
            },
        )
        status = str(r.get("capture_status"))
        lat = r.get("eot_to_first_audio_ms")
        note = f"priority {r.get('priority')}, capture_status {status}, eot_to_first_audio_ms {lat}"
        if status != OK_STATUS:
            reasons = r.get("null_reasons") or {}
            body = [note, "null reasons:"] + [f"  {k}: {v}" for k, v in reasons.items()]
            ET.SubElement(
                tc, "failure", {"message": f"capture_status {status}", "type": "CaptureStatus"}
            ).text = "\n".join(body)
        else:
            ET.SubElement(tc, "system-out").text = note
        out.append(tc)
    return out


def render_junit(summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> str:
    """The junit.xml text for one run."""
    suite_name = f"autortc.{summary.get('suite') or 'suite'}"
    root = ET.Element("testsuites", {"name": f"{suite_name} {summary.get('run_id')}"})
    gates = _suite(root, "gates", gate_testcases(summary.get("gates", []), suite_name=suite_name))
    props = ET.SubElement(ET.Element("x"), "properties")
    for k in (
        "run_id",
        "verdict",
        "PRIMARY_KPI_NAME",
        "PRIMARY_KPI_VALUE",
        "BASELINE_VERSION",
        "PRIMARY_KPI_DELTA_MS",
    ):
        v = summary.get(k)
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
