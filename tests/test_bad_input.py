"""Every bad input a new user tried ends in one line naming the file or option, exit 2,
and nothing started (no run directory, no process). In-process: `cli.main(argv)`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from autortc.cli import main

GOOD_CASE = "id: {id}\npriority: P0\nturns:\n  - say: Hello there\nagent:\n  reply_text: Hi.\n"


def _case_file(tmp: Path, text: str, name: str = "x.yaml") -> str:
    p = tmp / name
    p.write_text(text)
    return str(p)


def _binary(tmp: Path) -> str:
    p = tmp / "x.yaml"
    p.write_bytes(bytes(range(256)) * 4)
    return str(p)


def _baseline(tmp: Path, value: object) -> str:
    p = tmp / "golden" / "b" / "summary.json"
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps({"PRIMARY_KPI_VALUE": value, "PRIMARY_KPI_SAMPLES_MS": [1.0]}))
    return str(p)


def _gates(tmp: Path) -> str:
    p = tmp / "gates.yaml"
    p.write_text("max_gap_limit_ms: lots\n")
    return str(p)


def _a_file(tmp: Path) -> str:
    (tmp / "plain").write_text("not a directory")
    return str(tmp / "plain" / "out")


# (id, argv builder given tmp_path, text the one line must contain)
CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    (
        "suite_names_unknown_case",
        lambda t: ["--suite", _case_file(t, "suite: s\ncases: [no_such_case]\n")],
        "no case file",
    ),
    (
        "case_without_turns",
        lambda t: [
            "--suite",
            _case_file(t, "id: x\npriority: P0\nturns: []\nagent: {reply_text: hi}\n"),
        ],
        "field 'turns'",
    ),
    (
        "negative_rate",
        lambda t: [
            "--suite",
            _case_file(
                t, GOOD_CASE.format(id="x").replace("Hello there", "Hello there\n    rate: -5")
            ),
        ],
        "field 'turns[0].rate'",
    ),
    (
        "empty_say",
        lambda t: ["--suite", _case_file(t, GOOD_CASE.format(id="x").replace("Hello there", '""'))],
        "field 'turns[0].say'",
    ),
    ("binary_yaml", lambda t: ["--suite", _binary(t)], "x.yaml"),
    ("missing_case_file", lambda t: ["--suite", str(t / "none.yaml")], "case file not found"),
    (
        "malformed_yaml",
        lambda t: ["--suite", _case_file(t, "id: x\npriority: P0\n  bad: [\n")],
        "malformed YAML at line 3",
    ),
    ("unknown_suite_name", lambda t: ["--suite", "nope"], "unknown suite 'nope'"),
    (
        "id_with_dot_dot",
        lambda t: ["--suite", _case_file(t, GOOD_CASE.format(id="../evil"))],
        "field 'id'",
    ),
    ("non_numeric_gate", lambda t: ["--gates", _gates(t)], "field 'max_gap_limit_ms'"),
    ("missing_baseline", lambda t: ["--baseline", str(t / "none.json")], "baseline file not found"),
    (
        "non_numeric_baseline_kpi",
        lambda t: ["--baseline", _baseline(t, "fast")],
        "field 'PRIMARY_KPI_VALUE'",
    ),
    ("output_under_a_file", lambda t: ["--output", _a_file(t)], "--output"),
    ("output_not_writable", lambda t: ["--output", "/sys/autortc-out"], "--output"),
    ("negative_barrier_timeout", lambda t: ["--barrier-timeout-s", "-3"], "--barrier-timeout-s"),
    ("zero_vad_hangover", lambda t: ["--vad-hangover-ms", "0"], "--vad-hangover-ms"),
    ("bad_room_prefix", lambda t: ["--room-prefix", "bad/prefix!"], "--room-prefix"),
    ("no_start_agent_embedded", lambda t: ["--no-start-agent"], "--no-start-agent needs a LiveKit"),
    ("agent_dispatch_embedded", lambda t: ["--agent-dispatch", "mine"], "--agent-dispatch needs"),
]


@pytest.mark.parametrize(("name", "argv", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_starts_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    argv: Callable[[Path], list[str]],
    expected: str,
) -> None:
    out = tmp_path / "out"
    args = ["run", "--local", "--output", str(out), *argv(tmp_path)]
    t0 = time.monotonic()
    code = main(args)
    elapsed_s = time.monotonic() - t0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("autortc: error: ")
    assert expected in lines[0]
    assert "Traceback" not in err
    assert not list(out.glob("*")) if out.is_dir() else True  # no run directory
    assert elapsed_s < 5.0  # refused before the stack starts (it takes seconds)


def test_an_unexpected_error_is_one_line_and_exit_2_not_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import autortc.cli as cli

    def broken(args: object) -> int:
        raise RuntimeError("something nobody planned for\nsecond line")

    monkeypatch.setattr(cli, "_cmd_run", broken)
    code = main(["run", "--local", "--output", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [
        "autortc: error: internal error (RuntimeError: something nobody planned for); rerun with -v"
    ]
