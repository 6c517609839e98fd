"""The prepared GPU run of the Qwen bench (scripts/qwen_device/): its pins, its refusal
without the wheels, and the JSON check that reads what comes back. No torch needed."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parents[2] / "scripts" / "qwen_device"


def _check_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("qwen_device_check", HERE / "check.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _check_module()


def _pins() -> list[str]:
    lines = (HERE / "wheels.txt").read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


def test_every_wheel_is_pinned_once_and_transformers_is_the_one_qwen_tts_pins() -> None:
    pins = _pins()
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", p) for p in pins), pins
    names = [p.split("==")[0].lower().replace("_", "-") for p in pins]
    assert len(names) == len(set(names))
    assert {"qwen-tts==0.1.1", "transformers==4.57.3"} <= set(pins)
    assert "torch" not in names  # the device image's own CUDA torch is the one to use


def test_run_sh_refuses_with_exit_2_when_the_wheels_are_not_there(tmp_path: Path) -> None:
    env = {**os.environ, "WHEELS": str(tmp_path / "none.whl"), "OUT": str(tmp_path / "out")}
    done = subprocess.run(
        ["bash", str(HERE / "run.sh")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert f"0 wheels in {tmp_path / 'none.whl'} for {len(_pins())} pins" in done.stdout
    assert "make qwen-wheels" in (tmp_path / "out" / "run.log").read_text(encoding="utf-8")


def _mode(*, graphs: bool) -> dict[str, Any]:
    exact = {"within_stated": True}
    return {
        "version": "RANDOM WEIGHTS (seed 42, full): qwen-tts 0.1.1, transformers 4.57.3, "
        + ("CUDA graphs" if graphs else "eager"),
        "ttfa_short": {"ttfa_p95_ms": 70.0},
        "throughput_long": {"stream": {"rtf": 0.15}},
        "exactness_medium": dict(exact),
        "exactness_long": dict(exact),
        "determinism_medium": {"offline_distinct_hashes": 1, "stream_distinct_hashes": 1},
        "launches_per_step": {"code_predictor_per_frame": {"launch_calls": 1}},
        "hashes": {"short": {"offline": "a", "stream": "b"}},
    }


GOOD: dict[str, Any] = {
    "weights": "RANDOM WEIGHTS (seed 42, full)",
    "environment": {"livekit_imported": False, "gpu": "NVIDIA H200"},
    "modes": {"graphs_off": _mode(graphs=False), "graphs_on": _mode(graphs=True)},
    "graphs_on_vs_off": {"same_codes": True, "same_audio": {"short": True}},
    "goal": {},
}


def _broken(path: str, value: object) -> dict[str, Any]:
    r = copy.deepcopy(GOOD)
    *keys, last = path.split(".")
    node = r
    for k in keys:
        node = node[k]
    node[last] = value
    return r


@pytest.mark.parametrize(
    ("path", "value", "says"),
    [
        ("weights", "trained", "do not say RANDOM WEIGHTS"),
        ("environment.livekit_imported", True, "livekit_imported"),
        ("modes.graphs_on", {"error": "RuntimeError: capture failed"}, "capture failed"),
        ("modes.graphs_on", {"skipped": "CUDA graphs need a CUDA device"}, "modes that ran"),
        ("modes.graphs_off.exactness_long", {"within_stated": False}, "exactness_long"),
        ("modes.graphs_off.ttfa_short", {"skipped": "over the time budget"}, "time budget"),
        ("modes.graphs_on.determinism_medium", {"offline_distinct_hashes": 2}, "determinism"),
        ("modes.graphs_off.version", "transformers 5.17.0", "lacks transformers 4.57.3"),
        ("modes.graphs_on.launches_per_step", {"error": "x"}, "launches_per_step"),
        ("graphs_on_vs_off", {"same_codes": True, "same_audio": {"short": False}}, "graphs_on_vs"),
    ],
)
def test_the_check_names_each_defect_of_a_gpu_result(path: str, value: object, says: str) -> None:
    assert check.problems(GOOD, gpu=True) == []
    found = check.problems(_broken(path, value), gpu=True)
    assert found
    assert any(says in p for p in found), found


def test_a_cpu_result_needs_no_graphs_and_the_cli_exits_1_on_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cpu = _broken("modes.graphs_on", {"skipped": "CUDA graphs need a CUDA device"})
    del cpu["graphs_on_vs_off"]
    assert check.problems(cpu, gpu=False) == []
    path = tmp_path / "r.json"
    path.write_text(json.dumps(_broken("weights", "trained")), encoding="utf-8")
    assert check.main([str(path)]) == 1
    assert "check: FAIL (1 problems)" in capsys.readouterr().out
    assert check.main([str(tmp_path / "missing.json")]) == 2


def _summary(verdict: str, graphs: str) -> dict[str, Any]:
    gates = [
        {"name": "stream_vs_offline_lsb", "scope": "en_short", "verdict": verdict},
        {"name": "graphs_on_vs_off", "scope": "en_short", "verdict": graphs},
    ]
    return {"verdict": verdict, "texts": [{"gates": gates}]}


def test_the_tts_regress_summary_must_pass_and_on_a_gpu_compare_the_graphs() -> None:
    assert check.regress_problems(_summary("PASS", "PASS"), gpu=True) == []
    assert check.regress_problems(_summary("PASS", "SKIP"), gpu=False) == []
    assert check.regress_problems(_summary("PASS", "SKIP"), gpu=True) == [
        "tts-regress graphs_on_vs_off: ['SKIP']"
    ]
    (failed,) = check.regress_problems(_summary("FAIL", "PASS"), gpu=False)
    assert failed == "tts-regress verdict FAIL: stream_vs_offline_lsb [en_short]"


def test_tts_regress_records_an_espeak_that_cannot_load_and_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agent import tts_regress
    from agent.tts_tone import ToneEngine
    from autortc import espeak

    def cannot_load() -> str:
        raise OSError("libespeak-ng.so: cannot open shared object file")

    monkeypatch.setattr(espeak, "espeak_version", cannot_load)
    env = tts_regress.environment(ToneEngine())
    assert env["espeak_ng"] == "not loaded (OSError)"
    assert env["engine_version"] == "tone-1"
