"""tts-regress's opt-in engine gates: the stream against offline to the LSB, CUDA graphs
on against off, and the engine's counters. Pure tables first, then end to end on fakes
built from the tone engine (which states bit-for-bit and has no graphs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent import tts_regress
from agent.tts_engines import make_tts_engine
from agent.tts_regress_engine import EngineRuns, counters_since, evaluate_engine
from agent.tts_regress_registry import TTS_GATES, StreamTolerance
from agent.tts_regress_signal import pcm_sha256
from agent.tts_tone import ToneEngine
from autortc import cli
from autortc.errors import InputError
from autortc.gates import Verdict

TEXT = "Hello, how can I help you today?"


@pytest.fixture(scope="module")
def pcm() -> np.ndarray:
    return ToneEngine().synthesize(TEXT, language="en")


def _nudged(pcm: np.ndarray, at: int, by: int) -> np.ndarray:
    out = pcm.copy()
    out[at] += by
    return out


def _runs(
    offline: np.ndarray,
    streamed: np.ndarray,
    tolerance: StreamTolerance | None,
    variant: tuple[np.ndarray, np.ndarray] | None = None,
) -> EngineRuns:
    hashes = (pcm_sha256(offline), pcm_sha256(streamed))
    return EngineRuns(
        text_id="t",
        offline=offline,
        streamed=streamed,
        tolerance=tolerance,
        variant_note="CUDA graphs on" if variant else "no CUDA device here",
        variant_hashes=None
        if variant is None
        else (pcm_sha256(variant[0]), pcm_sha256(variant[1])),
        hashes=hashes,
    )


BIT_EXACT = StreamTolerance(0, "bit for bit")
ONE_LSB = StreamTolerance(1, "float32 rounding")


@pytest.mark.parametrize(
    ("case", "tolerance", "verdict", "observed"),
    [
        ("same", BIT_EXACT, Verdict.PASS, 0.0),
        ("one_sample_2_lsb", BIT_EXACT, Verdict.FAIL, 2.0),
        ("one_sample_1_lsb", ONE_LSB, Verdict.PASS, 1.0),
        ("one_sample_2_lsb", ONE_LSB, Verdict.FAIL, 2.0),
        ("one_sample_short", ONE_LSB, Verdict.FAIL, None),
        ("one_sample_2_lsb", None, Verdict.SKIP, None),
    ],
)
def test_the_stream_gate_holds_the_engine_to_its_stated_tolerance(
    pcm: np.ndarray,
    case: str,
    tolerance: StreamTolerance | None,
    verdict: Verdict,
    observed: float | None,
) -> None:
    streamed = {
        "same": pcm.copy(),
        "one_sample_1_lsb": _nudged(pcm, 12_345, -1),
        "one_sample_2_lsb": _nudged(pcm, 12_345, 2),
        "one_sample_short": pcm[:-1],
    }[case]
    figures, (gate, _) = evaluate_engine(_runs(pcm, streamed, tolerance))
    assert gate.name == "stream_vs_offline_lsb"
    assert (gate.verdict, gate.observed) == (verdict, observed)
    assert (gate.fix is not None) == (verdict == Verdict.FAIL)
    if observed:
        assert figures.stream_differing_samples == 1
        assert f"1 of {len(pcm)} samples differ; stated: {tolerance.reason}" == gate.detail  # type: ignore[union-attr]
    if tolerance is None:
        assert gate.detail == "the engine states no tolerance"


def test_the_graphs_gate_fails_on_a_changed_mode_and_skips_without_a_variant(
    pcm: np.ndarray,
) -> None:
    other = _nudged(pcm, 100, 1)
    cases = [
        (None, Verdict.SKIP, None, "no CUDA device here"),
        ((pcm, pcm), Verdict.PASS, 0.0, "against CUDA graphs on: same"),
        ((pcm, other), Verdict.FAIL, 1.0, "against CUDA graphs on: streamed differ"),
        ((other, other), Verdict.FAIL, 2.0, "against CUDA graphs on: offline, streamed differ"),
    ]
    for variant, verdict, observed, detail in cases:
        _, (_, gate) = evaluate_engine(_runs(pcm, pcm, BIT_EXACT, variant))
        assert (gate.name, gate.verdict, gate.observed, gate.detail) == (
            "graphs_on_vs_off",
            verdict,
            observed,
            detail,
        )


def test_both_gates_are_in_the_one_registry_and_counters_report_increases() -> None:
    names = [g.name for g in TTS_GATES]
    assert {"stream_vs_offline_lsb", "graphs_on_vs_off"} <= set(names)
    assert len(names) == len(set(names))
    before = {"decoder_shape": 3, "code_predictor_shape": 1}
    after = {"decoder_shape": 40, "code_predictor_shape": 1, "new": 2}
    assert counters_since(before, after) == {"decoder_shape": 37, "new": 2}


# -- end to end on fakes -----------------------------------------------------------------


class _DriftingTone(ToneEngine):
    """Claims bit for bit, but its stream is 3 LSB off at one sample."""

    def synthesize(self, text: str, *, language: str) -> np.ndarray:
        return ToneEngine().synthesize(text, language=language)  # offline is right

    def stream(self, text: str, *, language: str) -> Iterator[np.ndarray]:
        joined = np.concatenate(list(super().stream(text, language=language)))
        return iter([_nudged(joined, len(joined) // 2, 3)])


class _GraphedTone(ToneEngine):
    """A tone engine with a 'graphs' variant (clean or off by one sample) and a counter."""

    def __init__(self, variant: ToneEngine | None) -> None:
        super().__init__()
        self._variant = variant
        self.calls = 0

    def stream(self, text: str, *, language: str) -> Iterator[np.ndarray]:
        self.calls += 1
        return super().stream(text, language=language)

    def graphs_variant(self) -> tuple[ToneEngine | None, str]:
        if self._variant is None:
            return None, "CUDA graphs need a CUDA device; this engine runs on cpu"
        return self._variant, "CUDA graphs on"

    def counters(self) -> dict[str, int]:
        return {"stream_calls": self.calls}


class _OffByOneTone(ToneEngine):
    def synthesize(self, text: str, *, language: str) -> np.ndarray:
        return _nudged(super().synthesize(text, language=language), 0, 1)


def _regress(tmp_path: Path, engine: ToneEngine) -> tts_regress.TtsRegressSummary:
    return tts_regress.run_tts_regress(
        "tone", tmp_path, runs=2, use_baseline=False, engine=engine, progress=lambda _: None
    )


def _verdicts(result: tts_regress.TtsRegressSummary, name: str) -> set[str]:
    return {g["verdict"] for t in result.summary["texts"] for g in t["gates"] if g["name"] == name}


def test_a_stream_off_by_3_lsb_from_a_bit_exact_claim_fails_only_that_gate(
    tmp_path: Path,
) -> None:
    result = _regress(tmp_path, _DriftingTone())
    assert result.exit_code == 1
    failed = {
        g["name"] for t in result.summary["texts"] for g in t["gates"] if g["verdict"] == "FAIL"
    }
    assert failed == {"stream_vs_offline_lsb"}  # SNR, duration and the rest miss 3 LSB
    assert {t["engine"]["stream_max_lsb"] for t in result.summary["texts"]} == {3}
    assert "FAIL stream_vs_offline_lsb [en_short]: observed 3, threshold 0" in result.table


def test_a_graphs_variant_that_differs_fails_a_clean_one_passes_and_none_skips(
    tmp_path: Path,
) -> None:
    differing = _regress(tmp_path / "a", _GraphedTone(_OffByOneTone()))
    assert differing.exit_code == 1
    assert _verdicts(differing, "graphs_on_vs_off") == {"FAIL"}
    clean = _regress(tmp_path / "b", _GraphedTone(ToneEngine()))
    assert clean.exit_code == 0
    assert _verdicts(clean, "graphs_on_vs_off") == {"PASS"}
    none = _regress(tmp_path / "c", _GraphedTone(None))
    assert none.exit_code == 0
    skipped = [g for t in none.summary["texts"] for g in t["gates"] if g["verdict"] == "SKIP"]
    assert {g["detail"] for g in skipped} == {
        "CUDA graphs need a CUDA device; this engine runs on cpu"
    }
    # each text's counters: what its own runs added (2 runs x offline and streamed:
    # the tone engine's synthesize joins its own stream)
    assert [t["engine"]["counters"] for t in none.summary["texts"]] == [{"stream_calls": 4}] * 4
    assert "engine [en_short]: stream vs offline max 0 LSB; counters: stream_calls 4" in none.table


def test_engine_options_are_typed_and_a_bad_one_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opts = tts_regress.parse_engine_opts(
        ["size=full", "cuda_graphs=true", "max_frames=90", "x=0.5"]
    )
    assert opts == {"size": "full", "cuda_graphs": True, "max_frames": 90, "x": 0.5}
    with pytest.raises(InputError, match="expected KEY=VALUE"):
        tts_regress.parse_engine_opts(["cuda"])
    with pytest.raises(
        InputError, match=r"TTS engine 'tone': .*unexpected keyword argument 'size'"
    ):
        make_tts_engine("tone", size="full")
    argv = ["tts-regress", "--engine", "tone", "--out", str(tmp_path), "--engine-opt", "size=full"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "unexpected keyword argument 'size'" in err[0]
    kept: dict[str, Any] = {"sample_rate_hz": 24_000}
    assert make_tts_engine("tone", **kept).sample_rate_hz == 24_000
