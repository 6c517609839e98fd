"""The Qwen3-TTS engine on CPU: tiny random weights (seed 42), CUDA graphs off.

Skipped (with the reason) where torch or qwen-tts is missing, as in the default
install; `make test-qwen` runs it in `.venv-qwen`. About 30 s on one CPU thread.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="the qwen engine needs torch: make qwen-venv && make test-qwen")
from agent.tts_qwen import shim

shim.apply()  # before qwen_tts, which imports torchaudio (stubbed where it cannot load)
pytest.importorskip("qwen_tts", reason="the qwen engine needs qwen-tts: make qwen-venv")

import torch  # noqa: E402

from agent import tts_regress  # noqa: E402
from agent.tts_engines import make_tts_engine  # noqa: E402
from agent.tts_qwen import graphs, launches  # noqa: E402
from agent.tts_qwen.codegen import build_prompt, eager_code_predictor, generate_frames  # noqa: E402
from agent.tts_qwen.decode import (  # noqa: E402
    CODEC_SAMPLES_PER_FRAME,
    FLOAT32_ROUNDING_LSB,
    WINDOWED_TOLERANCE_LSB,
    decode_offline,
    decode_packets_float,
    resample_like_stream,
    to_int16,
)
from agent.tts_qwen.engine import QwenEngine, QwenOptions  # noqa: E402
from agent.tts_qwen.model import DIMS, QwenSize, tts_config  # noqa: E402
from agent.tts_regress_signal import pcm_sha256  # noqa: E402
from autortc.errors import InputError  # noqa: E402
from autortc.gates import Verdict  # noqa: E402

torch.set_num_threads(1)
SHORT = "Hello, how can I help you today?"  # 32 bytes: 11 frames
FILLER = "Thanks for calling, I have found your booking for two people. "
TEXT_74 = (FILLER * 5)[:222]  # 74 frames: every packet's context reaches frame 0
TEXT_90 = (FILLER * 5)[:270]  # 90 frames: the last 16 see a 72-frame window only
CONTEXT_FRAMES = 72 + 2


@pytest.fixture(scope="module")
def engine() -> QwenEngine:
    return QwenEngine()


def _stream(engine: QwenEngine, text: str) -> np.ndarray:
    return np.concatenate(list(engine.stream(text, language="en")))


def _diff_lsb(a: np.ndarray, b: np.ndarray) -> int:
    assert a.shape == b.shape
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())


# -- what the engine says about itself ----------------------------------------------------


def test_the_version_metrics_and_log_lines_say_the_weights_are_random(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="agent.tts_qwen.engine")
    engine = QwenEngine(QwenOptions(warmup=False))
    assert engine.version.startswith("RANDOM WEIGHTS (seed 42, tiny): qwen-tts 0.1.1")
    engine.synthesize(SHORT, language="en")
    assert engine.last_metrics is not None
    assert engine.last_metrics.weights == "RANDOM WEIGHTS (seed 42, tiny)"
    messages = [r.getMessage() for r in caplog.records]
    assert messages
    assert all("RANDOM WEIGHTS" in m for m in messages), messages


def test_the_registry_makes_it_and_refuses_cuda_graphs_on_a_cpu() -> None:
    made = make_tts_engine("qwen", warmup=False)
    assert (made.name, made.sample_rate_hz, made.languages) == ("qwen", 48_000, ("en", "zh"))
    with pytest.raises(InputError, match="cuda_graphs=True needs a CUDA device"):
        make_tts_engine("qwen", cuda_graphs=True)
    with pytest.raises(InputError, match="unknown graphs"):
        make_tts_engine("qwen", graphs=True)


def test_a_model_dir_without_the_checkpoint_is_refused_not_downloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setenv("QWEN_TTS_MODEL_DIR", str(tmp_path))
    with pytest.raises(InputError, match=r"missing generation_config.json.*never does"):
        make_tts_engine("qwen")
    monkeypatch.setenv("QWEN_TTS_MODEL_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(InputError, match="not a directory"):
        make_tts_engine("qwen")


# -- codegen ----------------------------------------------------------------------------


def test_the_step_loop_makes_the_codes_of_the_package_generate(engine: QwenEngine) -> None:
    from qwen_tts.core.models import Qwen3TTSForConditionalGeneration

    package = Qwen3TTSForConditionalGeneration(tts_config(DIMS[QwenSize.TINY])).eval()
    package.talker = engine.model.talker
    n = 11
    ids = engine.model.tokenize(SHORT)
    codes, _ = package.generate(
        input_ids=[ids],
        languages=["english"],
        speakers=["vivian"],
        non_streaming_mode=False,
        max_new_tokens=n + 1,  # the last first-code never gets its code predictor run
        do_sample=False,
        subtalker_dosample=False,
        repetition_penalty=1.05,
    )
    ours = torch.stack(engine.frames(SHORT, language="en"))
    assert ours.shape == (n, 16)
    assert torch.equal(ours, codes[0])


def test_the_graph_ready_static_cache_code_predictor_equals_the_eager_one(
    engine: QwenEngine,
) -> None:
    model = engine.model
    prompt = build_prompt(model, TEXT_74[:90], language="en", speaker="vivian")
    counter = graphs.FallbackCounter()
    static = graphs.GraphedCodePredictor(model.talker, capture=False, counter=counter)
    runs = [
        torch.stack(list(generate_frames(model, prompt, max_frames=30, predict=p)))
        for p in (eager_code_predictor(model.talker), static)
    ]
    assert torch.equal(runs[0], runs[1])
    assert counter.snapshot() == {}


# -- streamed vs offline ----------------------------------------------------------------


def test_up_to_74_frames_streamed_differs_from_offline_by_float32_rounding_only(
    engine: QwenEngine,
) -> None:
    frames = engine.frames(TEXT_74, language="en")
    assert len(frames) == CONTEXT_FRAMES
    offline = engine.decode_frames(frames)
    packets = decode_packets_float(
        engine.decode_frames, frames, packet_tokens=2, left_context_tokens=72
    )
    assert float(np.abs(offline - packets).max()) < 1e-6  # measured 3.3e-7: rounding
    assert _diff_lsb(to_int16(offline), to_int16(packets)) <= FLOAT32_ROUNDING_LSB
    streamed, synthesized = _stream(engine, TEXT_74), engine.synthesize(TEXT_74, language="en")
    assert _diff_lsb(streamed, synthesized) <= FLOAT32_ROUNDING_LSB


def test_a_float64_decoder_streams_bit_identical_to_offline_while_context_reaches_frame_0() -> None:
    engine = QwenEngine(QwenOptions(decoder_dtype="float64", warmup=False))
    assert "decoder float64" in engine.version
    text = TEXT_74[:120]  # 40 frames: the same regime as 74, a third of the time
    streamed = _stream(engine, text)
    np.testing.assert_array_equal(streamed, engine.synthesize(text, language="en"))
    assert engine.last_metrics is not None
    assert engine.last_metrics.frames == 40


def test_past_74_frames_the_72_frame_window_stays_within_the_stated_tolerance(
    engine: QwenEngine,
) -> None:
    frames = engine.frames(TEXT_90, language="en")
    assert len(frames) == 90
    offline = engine.decode_frames(frames)
    packets = decode_packets_float(
        engine.decode_frames, frames, packet_tokens=2, left_context_tokens=72
    )
    diff = np.abs(offline - packets)
    first_beyond_rounding = int(np.argmax(diff > 1e-5)) // CODEC_SAMPLES_PER_FRAME
    assert first_beyond_rounding == CONTEXT_FRAMES  # the window starts to cut there
    assert float(diff.max()) < 1.1e-4  # measured 6.4e-5 at 90 frames, 1.1e-4 at 200
    pcm = [to_int16(x) for x in (offline, packets)]
    at_48k = [resample_like_stream(p, packet_tokens=2) for p in pcm]
    assert 0 < _diff_lsb(*at_48k) <= WINDOWED_TOLERANCE_LSB  # measured 3 at 90 frames


def test_offline_is_one_decode_of_the_same_codes_the_stream_decodes(engine: QwenEngine) -> None:
    frames = engine.frames(SHORT, language="en")
    pcm24 = decode_offline(engine.decode_frames, frames)
    np.testing.assert_array_equal(
        engine.synthesize(SHORT, language="en"), resample_like_stream(pcm24, packet_tokens=2)
    )


# -- determinism, metrics, early close --------------------------------------------------


def test_three_runs_give_one_hash_offline_and_one_streamed(engine: QwenEngine) -> None:
    offline = {pcm_sha256(engine.synthesize(SHORT, language="zh")) for _ in range(3)}
    streamed = {pcm_sha256(_stream(engine, SHORT)) for _ in range(3)}
    assert len(offline) == 1
    assert len(streamed) == 1


def test_each_call_leaves_its_metrics(engine: QwenEngine) -> None:
    pcm = _stream(engine, SHORT)
    m = engine.last_metrics
    assert m is not None
    assert (m.mode, m.completed, m.frames, m.packets) == ("stream", True, 11, 6)
    assert len(m.codegen_iter_wall_ms) == 11
    assert min(m.codegen_iter_wall_ms) > 0
    assert m.ttfa_ms is not None
    assert 0 < m.ttfa_ms < m.wall_ms
    assert m.audio_ms == pytest.approx(1000 * len(pcm) / 48_000)
    assert m.rtf is not None
    assert m.rtf > 0
    assert m.decode_wall_total_ms > 0
    assert m.glue_ms >= 0
    assert m.graph_fallbacks == {}
    engine.synthesize(SHORT, language="en")
    assert engine.last_metrics is not None
    assert engine.last_metrics.mode == "offline"
    assert engine.last_metrics.frames == 11


def test_closing_the_stream_early_stops_the_synthesis(engine: QwenEngine) -> None:
    chunks = engine.stream(TEXT_90, language="en")
    next(chunks)
    chunks.close()  # type: ignore[attr-defined]
    m = engine.last_metrics
    assert m is not None
    assert not m.completed
    assert m.frames < 10  # of 90


# -- tts-regress --------------------------------------------------------------------------


def test_tts_regress_passes_every_gate_against_the_committed_baseline(tmp_path: Path) -> None:
    texts = tmp_path / "texts.yaml"
    texts.write_text(
        "texts:\n"
        '  - {id: en_short, language: en, text: "Hello, how can I help you today?"}\n'
        '  - {id: zh_short, language: zh, text: "你好，请问有什么可以帮您？"}\n',  # noqa: RUF001
        encoding="utf-8",
    )
    lines: list[str] = []
    result = tts_regress.run_tts_regress(
        "qwen", tmp_path / "out", texts_path=texts, progress=lines.append
    )
    assert result.verdict == Verdict.PASS, result.table
    assert result.summary["version"].startswith("RANDOM WEIGHTS (seed 42, tiny)")
    gates = [g for t in result.summary["texts"] for g in t["gates"]]
    gates += result.summary["baseline_gates"]
    assert {g["name"] for g in gates} >= {"deterministic", "stream_snr_db", "ttfa_p95_ms"}
    skipped = [g for g in gates if g["verdict"] == "SKIP"]  # no CUDA here: said, not passed
    assert [(g["name"], g["detail"]) for g in skipped] == [
        ("graphs_on_vs_off", "CUDA graphs need a CUDA device; this engine runs on cpu")
    ] * 2
    assert not [g for g in gates if g["verdict"] not in ("PASS", "WARN", "SKIP")]
    hash_gates = [g["verdict"] for g in gates if g["name"] == "hash_vs_baseline"]
    assert hash_gates == ["PASS", "PASS"]
    lsb = [g for g in gates if g["name"] == "stream_vs_offline_lsb"]
    assert [(g["verdict"], g["threshold"]) for g in lsb] == [("PASS", FLOAT32_ROUNDING_LSB)] * 2
    assert all(g["observed"] <= FLOAT32_ROUNDING_LSB for g in lsb)
    assert all("every context reaches frame 0" in g["detail"] for g in lsb)
    assert [t["engine"]["counters"] for t in result.summary["texts"]] == [{}, {}]


def test_tts_regress_fails_a_stream_whose_packets_lack_the_context_the_engine_states(
    tmp_path: Path,
) -> None:
    texts = tmp_path / "texts.yaml"
    texts.write_text(f'texts:\n  - {{id: en_short, language: en, text: "{SHORT}"}}\n', "utf-8")
    starved = QwenEngine(QwenOptions(left_context_tokens=1, warmup=False))  # 11 frames > 3
    result = tts_regress.run_tts_regress(
        "qwen",
        tmp_path / "out",
        runs=1,
        texts_path=texts,
        use_baseline=False,
        engine=starved,
        progress=lambda _: None,
    )
    (lsb,) = [
        g for g in result.summary["texts"][0]["gates"] if g["name"] == "stream_vs_offline_lsb"
    ]
    assert (lsb["verdict"], lsb["threshold"]) == ("FAIL", WINDOWED_TOLERANCE_LSB)
    assert lsb["observed"] > 100 * WINDOWED_TOLERANCE_LSB
    assert result.exit_code == 1


# -- launches per step ---------------------------------------------------------------------


def test_the_launch_counter_counts_the_operators_python_dispatched() -> None:
    a, b = torch.ones(3), torch.ones(3)
    w = torch.ones(4, 3)

    def work() -> None:
        for _ in range(5):
            torch.add(a, b)
        torch.nn.functional.linear(a, w)  # its transpose and matmul inside are not counted

    count = launches.count_launches(work, cuda=False)
    assert (count.aten_ops, count.launch_calls, count.gpu_kernels) == (6, 0, 0)


def test_launches_per_step_are_counted_per_frame_and_per_packet(engine: QwenEngine) -> None:
    steps = launches.per_step(engine, short_frames=8, long_frames=10)  # the profiler is slow
    cp = steps["code_predictor_per_frame"]["aten_ops"]
    frame = steps["codegen_per_frame"]["aten_ops"]
    packet = steps["decoder_per_packet"]["aten_ops"]
    assert steps["codegen_frames_compared"] == [8, 10]
    assert cp > 15 * 2 * 5  # 15 steps x 2 tiny layers x several operators each
    assert frame > cp  # the talker's step comes on top of the code predictor
    assert frame == int(frame)  # the prefill cancels out: a whole number per frame
    assert packet > 0
    hidden = torch.zeros((1, 1, engine.model.talker.config.hidden_size))
    code = torch.zeros((1, 1), dtype=torch.long)
    again = launches.count_launches(lambda: engine.code_predictor(hidden, code), cuda=False)
    assert again.aten_ops == cp  # counts, not timings: the same every time
