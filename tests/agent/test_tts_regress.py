"""tts-regress: the signal checks and gates on synthetic signals with known answers, then
end to end on the tone engine (against its committed baseline, and a changed one)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from agent import tts_regress
from agent.tts_regress_gates import (
    Baseline,
    TextFigures,
    TextRuns,
    compare_with_baseline,
    evaluate_text,
    make_baseline,
    parse_baseline,
)
from agent.tts_regress_registry import TtsThresholds
from agent.tts_regress_report import build_summary, render_table
from agent.tts_regress_signal import (
    align,
    audio_problem,
    find_repeated_segment,
    pcm_sha256,
)
from agent.tts_tone import ToneEngine
from autortc import cli
from autortc.errors import CaseError
from autortc.gates import Verdict

SR = 48_000
THR = TtsThresholds()
TEXT = "Hello, how can I help you today? Tell me what you need."


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """Tone-engine 'speech': syllable bursts and pauses, 3.6 s, no repeat in it."""
    return ToneEngine().synthesize(TEXT, language="en")


def _noise(n: int, rms: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n) * rms


def _dup(x: np.ndarray, start: int, length: int) -> np.ndarray:
    """`x` with x[start:start + length] played twice, back to back."""
    return np.concatenate([x[: start + length], x[start : start + length], x[start + length :]])


# -- signal checks ----------------------------------------------------------------------


def test_the_hash_is_sha256_of_the_int16_little_endian_bytes() -> None:
    pcm = np.array([1, -2, 300], dtype=np.int16)
    assert pcm_sha256(pcm) == hashlib.sha256(b"\x01\x00\xfe\xff\x2c\x01").hexdigest()
    assert pcm_sha256(pcm) != pcm_sha256(pcm[::-1])


@pytest.mark.parametrize(
    ("pcm", "problem"),
    [
        (np.zeros(0, dtype=np.int16), "empty"),
        (np.array([0.1, np.nan, 0.2]), "NaN or infinite samples"),
        (np.array([0.1, 0.2]), "dtype float64, expected int16"),
        (np.zeros(4800, dtype=np.int16), "all zero (silence)"),
        (np.array([0, 1, 0], dtype=np.int16), None),
    ],
)
def test_audio_problem_names_empty_nan_wrong_dtype_and_silence(
    pcm: np.ndarray, problem: str | None
) -> None:
    assert audio_problem(pcm) == problem


def test_alignment_finds_a_37_ms_delay_and_the_snr_of_noise_added_at_20_db(
    speech: np.ndarray,
) -> None:
    ref = speech.astype(np.float64)
    rms = np.sqrt(np.mean(ref**2))
    delayed = np.concatenate([np.zeros(37 * 48), ref]) + _noise(len(ref) + 37 * 48, rms / 10)
    aligned = align(ref, delayed, max_lag_samples=4800)
    assert aligned is not None
    assert aligned.lag_samples == 37 * 48
    assert aligned.snr_db == pytest.approx(20.0, abs=0.3)
    assert align(ref, ref, max_lag_samples=10).snr_db == 150.0  # type: ignore[union-attr]
    assert align(ref, np.zeros(100), max_lag_samples=10) is None


@pytest.mark.parametrize(("start_ms", "length_ms"), [(300.0, 300.0), (1234.5, 250.4), (700, 1000)])
def test_a_chunk_played_twice_is_a_repeated_segment_of_its_length(
    speech: np.ndarray, start_ms: float, length_ms: float
) -> None:
    start, length = round(start_ms * 48), round(length_ms * 48)
    found = find_repeated_segment(_dup(speech, start, length), SR)
    assert found is not None
    assert found.length_ms == pytest.approx(length_ms, abs=0.1)
    assert found.start_ms == pytest.approx(start_ms, abs=60)


def test_a_repeat_shorter_than_200_ms_or_no_repeat_is_not_flagged(speech: np.ndarray) -> None:
    assert find_repeated_segment(speech, SR) is None
    assert find_repeated_segment(_dup(speech, 500 * 48, 150 * 48), SR) is None
    assert find_repeated_segment(np.zeros(3 * SR, dtype=np.int16), SR) is None
    noise = (_noise(2 * SR, 3000.0)).astype(np.int16)
    assert find_repeated_segment(noise, SR) is None
    assert find_repeated_segment(_dup(noise, 20_000, 12_000), SR) is not None


def test_real_speech_with_a_repeated_chunk_is_flagged_and_without_it_is_not() -> None:
    from agent.tts_espeak_engine import EspeakEngine

    pcm = EspeakEngine().synthesize("Very, very good. The quick brown fox jumps.", language="en")
    assert find_repeated_segment(pcm, SR) is None  # "very, very" is not a copy
    found = find_repeated_segment(_dup(pcm, 13_337, 240 * 48 + 7), SR)
    assert found is not None
    assert found.length_ms == pytest.approx(240.15, abs=0.1)


# -- gates, table-tested -----------------------------------------------------------------


def _runs(
    offline: list[np.ndarray],
    streamed: list[np.ndarray],
    ttfa_ms: list[float | None] | None = None,
) -> TextRuns:
    return TextRuns(
        text_id="t",
        language="en",
        text=TEXT,
        sample_rate_hz=SR,
        offline=offline,
        streamed=streamed,
        chunks=[10] * len(offline),
        ttfa_ms=ttfa_ms or [5.0] * len(offline),
        offline_rtf=[0.01] * len(offline),
        stream_rtf=[0.01] * len(offline),
    )


def _failed(runs: TextRuns) -> set[str]:
    _, gates = evaluate_text(runs, THR)
    assert len(gates) == 6
    return {g.name for g in gates if g.verdict != Verdict.PASS}


def _defect(speech: np.ndarray, name: str) -> TextRuns:
    clean = speech
    rms = float(np.sqrt(np.mean(clean.astype(np.float64) ** 2)))
    if name == "clean":
        return _runs([clean] * 3, [clean] * 3)
    if name == "repeated":
        rep = _dup(clean, 300 * 48, 300 * 48)
        return _runs([rep] * 3, [rep] * 3)
    if name == "nan":
        bad = clean.astype(np.float64)
        bad[1000] = np.nan
        return _runs([bad] * 3, [clean] * 3)
    if name == "empty":
        return _runs([clean] * 3, [np.zeros(0, dtype=np.int16)] * 3, [None] * 3)
    if name == "silence":
        zeros = np.zeros_like(clean)
        return _runs([zeros] * 3, [zeros] * 3)
    if name == "snr_low":  # noise 10 dB under the signal: SNR 10 < 15
        noisy = (clean + _noise(len(clean), rms / np.sqrt(10))).astype(np.int16)
        return _runs([clean] * 3, [noisy] * 3)
    if name == "duration":  # 600 ms more when streamed
        longer = np.concatenate([clean, np.zeros(600 * 48, dtype=np.int16)])
        return _runs([clean] * 3, [longer] * 3)
    if name == "ttfa":  # P95 of 100, 200, 400 ms = 380 ms > 350
        return _runs([clean] * 3, [clean] * 3, [100.0, 200.0, 400.0])
    if name == "nondeterministic":
        other = clean.copy()
        other[5000] += 1
        return _runs([clean, other, clean], [clean] * 3)
    raise AssertionError(name)


@pytest.mark.parametrize(
    ("defect", "fails"),
    [
        ("clean", set()),
        ("repeated", {"repeated_segment_ms"}),
        ("nan", {"audio_ok", "stream_snr_db"}),
        ("empty", {"audio_ok", "stream_snr_db", "stream_duration_diff_ms", "ttfa_p95_ms"}),
        ("silence", {"audio_ok", "stream_snr_db"}),
        ("snr_low", {"stream_snr_db"}),
        ("duration", {"stream_duration_diff_ms"}),
        ("ttfa", {"ttfa_p95_ms"}),
        ("nondeterministic", {"deterministic"}),
    ],
)
def test_each_gate_fires_on_its_defect_and_stays_quiet_on_clean_audio(
    speech: np.ndarray, defect: str, fails: set[str]
) -> None:
    assert _failed(_defect(speech, defect)) == fails


def test_gate_observations_carry_the_measured_figures(speech: np.ndarray) -> None:
    figures, gates = evaluate_text(_defect(speech, "ttfa"), THR)
    by_name = {g.name: g for g in gates}
    assert by_name["ttfa_p95_ms"].observed == pytest.approx(380.0)
    assert by_name["ttfa_p95_ms"].threshold == 350.0
    assert by_name["ttfa_p95_ms"].fix
    figures, gates = evaluate_text(_defect(speech, "duration"), THR)
    assert figures.duration_diff_ms == pytest.approx(600.0)
    figures, _ = evaluate_text(_defect(speech, "repeated"), THR)
    assert figures.repeated_offline_ms == pytest.approx(300.0)


# -- baseline ---------------------------------------------------------------------------


def _figures(speech: np.ndarray) -> list[TextFigures]:
    figures, _ = evaluate_text(_defect(speech, "clean"), THR)
    return [figures]


def _baseline(figures: list[TextFigures], **changes: object) -> Baseline:
    base = make_baseline("tone", "tone-1", {"numpy": "1"}, 3, figures)
    text = base.texts["t"].model_copy(update=changes)
    return base.model_copy(update={"texts": {"t": text}})


def test_the_same_output_as_the_baseline_passes(speech: np.ndarray) -> None:
    figures = _figures(speech)
    gates = compare_with_baseline(figures, _baseline(figures), THR, environment={"numpy": "1"})
    assert [(g.name, g.verdict) for g in gates] == [
        ("hash_vs_baseline", Verdict.PASS),
        ("ttfa_vs_baseline", Verdict.PASS),
        ("rtf_vs_baseline", Verdict.PASS),
    ]


def test_a_changed_hash_fails_and_says_the_output_changed(speech: np.ndarray) -> None:
    figures = _figures(speech)
    base = _baseline(figures, stream_sha256="0" * 64)
    gate = compare_with_baseline(figures, base, THR, environment={"numpy": "2"})[0]
    assert gate.verdict == Verdict.FAIL
    assert gate.observed == 1.0
    assert "streamed sha256" in gate.detail
    assert "the output changed" in gate.detail
    assert "other numpy" in gate.detail  # the baseline was made with another numpy
    assert "--update-baseline" in (gate.fix or "")


def test_a_changed_text_fails_and_a_text_missing_from_the_baseline_is_skipped(
    speech: np.ndarray,
) -> None:
    figures = _figures(speech)
    changed = compare_with_baseline(figures, _baseline(figures, text="Other."), THR, environment={})
    assert changed[0].verdict == Verdict.FAIL
    assert "text changed" in changed[0].detail
    empty = _baseline(figures).model_copy(update={"texts": {}})
    assert compare_with_baseline(figures, empty, THR, environment={})[0].verdict == Verdict.SKIP


def test_ttfa_and_rtf_slower_than_the_baseline_only_warn(speech: np.ndarray) -> None:
    figures = _figures(speech)  # TTFA 5 ms, RTF 0.01
    base = _baseline(figures).model_copy(update={"ttfa_p95_ms": 1.0, "rtf_p50": 0.0001})
    gates = {g.name: g for g in compare_with_baseline(figures, base, THR, environment={})}
    assert gates["ttfa_vs_baseline"].verdict == Verdict.PASS  # 5 < 1 + 20 ms floor
    assert gates["rtf_vs_baseline"].verdict == Verdict.PASS  # 0.01 < 0.0001 + 0.02
    base = base.model_copy(update={"ttfa_p95_ms": 1.0, "rtf_p50": 0.0001})
    slow = TtsThresholds(ttfa_warn_floor_ms=1.0, rtf_warn_floor=0.001)
    gates = {g.name: g for g in compare_with_baseline(figures, base, slow, environment={})}
    assert gates["ttfa_vs_baseline"].verdict == Verdict.WARN
    assert gates["ttfa_vs_baseline"].threshold == pytest.approx(2.0)  # max(1 x 1.5, 1 + 1)
    assert gates["rtf_vs_baseline"].verdict == Verdict.WARN


def test_a_malformed_baseline_names_the_file_and_the_field() -> None:
    with pytest.raises(CaseError, match=r"b\.json: field 'texts\.t\.offline_sha256'"):
        parse_baseline(
            {
                "engine": "tone",
                "version": "v",
                "runs": 3,
                "texts": {
                    "t": {
                        "text": "x",
                        "language": "en",
                        "offline_sha256": "zz",
                        "stream_sha256": "",
                    }
                },
            },
            "b.json",
        )


def test_the_table_has_a_row_per_text_a_total_and_the_verdict(speech: np.ndarray) -> None:
    figures, gates = evaluate_text(_defect(speech, "ttfa"), THR)
    summary = build_summary(
        engine="tone",
        version="tone-1",
        environment={},
        runs=3,
        figures=[figures],
        text_gates={"t": gates},
        baseline_gates=[],
        baseline_path=None,
        thresholds=THR,
    )
    table = render_table(summary, [figures]).splitlines()
    assert table[1].split()[:3] == ["text", "lang", "audio_ms"]
    assert table[2].split()[0] == "t"
    assert table[2].split()[-1] == "FAIL"
    assert table[3].split()[0] == "all"
    assert any(line.startswith("FAIL ttfa_p95_ms [t]: observed 380") for line in table)
    assert table[-1] == "verdict: FAIL (exit 1)"


# -- end to end -------------------------------------------------------------------------


def test_tts_regress_on_the_tone_engine_passes_against_its_committed_baseline(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    result = tts_regress.run_tts_regress("tone", tmp_path / "out", progress=lines.append)
    assert result.exit_code == 0, result.table
    assert [line.split()[1] for line in lines] == ["en_short", "en_long", "zh_short", "zh_long"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["baseline"] == "golden/tts_regress/tone.json"
    assert summary["runs"] == 3
    assert summary["espeak_version"]
    assert summary["ttfa_p95_ms"] < 350
    for text in summary["texts"]:
        names = [g["name"] for g in text["gates"]]
        assert names[-1] == "hash_vs_baseline"
        by_name = {g["name"]: g for g in text["gates"]}
        graphs = by_name.pop("graphs_on_vs_off")  # the tone engine has none: SKIP, saying so
        assert (graphs["verdict"], graphs["detail"]) == ("SKIP", "engine 'tone' has no CUDA graphs")
        assert {g["verdict"] for g in by_name.values()} == {"PASS"}
        assert by_name["stream_vs_offline_lsb"]["observed"] == 0  # it states bit for bit
        assert (tmp_path / "out" / f"{text['text_id']}.stream.wav").exists()
    assert {g["name"] for g in summary["baseline_gates"]} == {"ttfa_vs_baseline", "rtf_vs_baseline"}


def test_autortc_tts_regress_with_a_changed_baseline_hash_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = json.loads(tts_regress.default_baseline_path("tone").read_text(encoding="utf-8"))
    base["texts"]["zh_short"]["offline_sha256"] = "0" * 64
    changed = tmp_path / "tone.json"
    changed.write_text(json.dumps(base), encoding="utf-8")
    argv = ["tts-regress", "--engine", "tone", "--out", str(tmp_path / "o"), "--runs", "1"]
    assert cli.main([*argv, "--baseline", str(changed)]) == 1
    out = capsys.readouterr().out
    assert "FAIL hash_vs_baseline [zh_short]" in out
    assert "the output changed" in out
    assert "verdict: FAIL (exit 1)" in out


def test_update_baseline_writes_one_the_next_run_matches(tmp_path: Path) -> None:
    path = tmp_path / "golden" / "tone.json"
    kw = {"runs": 1, "baseline_path": path, "progress": lambda _line: None}
    made = tts_regress.run_tts_regress("tone", tmp_path / "a", update_baseline=True, **kw)  # type: ignore[arg-type]
    assert made.baseline_written == path
    again = tts_regress.run_tts_regress("tone", tmp_path / "b", **kw)  # type: ignore[arg-type]
    assert again.exit_code == 0
    assert "hashes: 4 of 4 texts as in the baseline" in again.table


class _StutteringTone(ToneEngine):
    """A streaming bug: chunks 3 and 4 (320 ms: two syllables and their gaps) go out twice."""

    def synthesize(self, text: str, *, language: str) -> np.ndarray:
        return ToneEngine().synthesize(text, language=language)  # offline is right

    def stream(self, text: str, *, language: str) -> Iterator[np.ndarray]:
        chunks = list(super().stream(text, language=language))
        return iter([*chunks[:5], *chunks[3:5], *chunks[5:]])


def test_a_stream_that_repeats_chunks_fails_the_repeat_and_snr_gates(tmp_path: Path) -> None:
    result = tts_regress.run_tts_regress(
        "tone",
        tmp_path,
        runs=1,
        use_baseline=False,
        engine=_StutteringTone(),
        progress=lambda _line: None,
    )
    assert result.exit_code == 1
    failed = {
        (t["text_id"], g["name"])
        for t in result.summary["texts"]
        for g in t["gates"]
        if g["verdict"] == "FAIL"
    }
    assert ("en_short", "repeated_segment_ms") in failed
    assert ("en_short", "stream_snr_db") in failed


def test_an_injected_clock_past_350_ms_to_the_first_chunk_fails_ttfa(tmp_path: Path) -> None:
    ticks = iter(range(0, 10**15, 400_000_000))  # every read: 400 ms later
    result = tts_regress.run_tts_regress(
        "tone",
        tmp_path,
        runs=1,
        use_baseline=False,
        clock=lambda: next(ticks),
        progress=lambda _line: None,
    )
    assert result.exit_code == 1
    ttfa = [g for t in result.summary["texts"] for g in t["gates"] if g["name"] == "ttfa_p95_ms"]
    assert {(g["observed"], g["verdict"]) for g in ttfa} == {(400.0, "FAIL")}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("texts: []", "texts.yaml: field 'texts'"),
        ("texts:\n  - {id: a, language: english, text: hi}", "field 'texts.0.language'"),
        ("texts: [", "field '<file>': invalid YAML"),
    ],
)
def test_a_bad_text_set_exits_2_naming_the_file_and_field(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "texts.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CaseError, match=message):
        tts_regress.run_tts_regress("tone", tmp_path / "o", texts_path=path, use_baseline=False)


def test_a_missing_or_other_engines_baseline_or_bad_runs_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["tts-regress", "--engine", "tone", "--out", str(tmp_path)]
    assert cli.main([*argv, "--baseline", str(tmp_path / "none.json")]) == 2
    assert "none.json: field '<file>': cannot read" in capsys.readouterr().err
    espeak_baseline = str(tts_regress.default_baseline_path("espeak"))
    assert cli.main([*argv, "--baseline", espeak_baseline]) == 2
    assert "espeak.json: field 'engine': is 'espeak', not" in capsys.readouterr().err
    assert tts_regress.main(["--engine", "tone", "--out", str(tmp_path), "--runs", "0"]) == 2
    assert "--runs 0: must be >= 1" in capsys.readouterr().err
