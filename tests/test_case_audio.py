"""Case audio: byte-identical regeneration, exact EoT, SNR and spikes with known answers."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from autortc.audio import SAMPLE_RATE_HZ, read_wav, to_float
from autortc.case_audio import (
    AUDIO_DIR,
    LEAD_SILENCE_MS,
    TRAIL_SILENCE_MS,
    generate_turn_audio,
    load_turn_audio,
    render_turn,
    split_at_middle,
    write_case_audio,
)
from autortc.case_schema import Case, Noise, Spike, Turn, load_suite
from autortc.errors import CaseError

MS = SAMPLE_RATE_HZ // 1000


def _case(**turn: object) -> Case:
    return Case.model_validate(
        {"id": "t", "priority": "P0", "turns": [turn], "agent": {"reply_text": "ok"}}
    )


def test_regenerating_mini_is_byte_identical_to_committed_files(tmp_path: Path) -> None:
    cases = load_suite("mini")
    paths = write_case_audio(cases, tmp_path)
    assert len(paths) == 5  # interrupt_once has two turns
    for path in paths:
        for f in (path, path.with_suffix(".json")):
            committed = AUDIO_DIR / f.name
            assert committed.is_file(), f"{committed} missing: run scripts/make_case_audio.py"
            assert f.read_bytes() == committed.read_bytes(), f"{f.name} differs"


def test_every_suite_turn_has_fresh_committed_audio() -> None:
    for name in ("fast", "calibration", "nightly"):
        for case in load_suite(name):
            for i in range(len(case.turns)):
                pcm, sidecar = load_turn_audio(case, i)
                assert len(pcm) == sidecar["duration_samples"]
                assert sidecar["sample_rate_hz"] == 48_000


def test_eot_is_the_end_of_speech_in_the_clean_signal() -> None:
    render = render_turn(Turn(say="Hello, can you hear me?"))
    clean = render.clean
    eot = render.eot_sample
    assert np.max(np.abs(clean[eot:])) < 0.003  # silent after EoT
    assert np.max(np.abs(clean[eot - 10 * MS : eot])) > 0.003  # speech just before
    assert len(clean) - eot == pytest.approx(TRAIL_SILENCE_MS * MS, abs=5 * MS)
    assert render.speech_segments[0][0] == pytest.approx(LEAD_SILENCE_MS * MS, abs=5 * MS)
    assert render.speech_segments[-1][1] == eot


def test_eot_ignores_noise_and_scales_with_gain() -> None:
    quiet = render_turn(Turn(say="Turn off the lights.", gain_db=-20))
    noisy = render_turn(
        Turn(say="Turn off the lights.", gain_db=-20, noise=Noise(kind="white", snr_db=5, seed=3))
    )
    loud = render_turn(Turn(say="Turn off the lights."))
    assert quiet.eot_sample == noisy.eot_sample == loud.eot_sample
    assert np.max(np.abs(noisy.mixed[quiet.eot_sample :])) > 0.001  # the noise is there


def test_pause_case_has_a_600_ms_internal_gap() -> None:
    text = "I want to cancel my subscription because I am moving abroad next month."
    assert split_at_middle(text) == (
        "I want to cancel my subscription",
        "because I am moving abroad next month.",
    )
    segments = render_turn(Turn(say=text, pause_ms=600)).speech_segments
    gaps_ms = [(b[0] - a[1]) / MS for a, b in itertools.pairwise(segments)]
    assert max(gaps_ms) == pytest.approx(600, abs=30)
    no_pause = render_turn(Turn(say=text)).speech_segments
    assert len(no_pause) == 1  # without pause_ms the natural gaps are merged


@pytest.mark.parametrize(("kind", "snr_db"), [("white", 10.0), ("pink", 10.0), ("brown", 0.0)])
def test_mixed_noise_snr_is_within_half_a_db(kind: str, snr_db: float) -> None:
    case = _case(
        say="What time does the pharmacy close?", noise={"kind": kind, "snr_db": snr_db, "seed": 7}
    )
    pcm, sidecar = generate_turn_audio(case, 0)
    clean = render_turn(Turn(say="What time does the pharmacy close?")).clean
    noise = to_float(pcm).astype(np.float64) - clean  # measured from the int16 output
    speech = np.concatenate([clean[s:e] for s, e in sidecar["speech_segments"]])
    measured_db = 10 * np.log10(np.mean(speech**2) / np.mean(noise**2))
    assert measured_db == pytest.approx(snr_db, abs=0.5)


def test_noise_is_seeded() -> None:
    a = render_turn(Turn(say="Hello there.", noise=Noise(kind="pink", snr_db=10, seed=1)))
    b = render_turn(Turn(say="Hello there.", noise=Noise(kind="pink", snr_db=10, seed=1)))
    c = render_turn(Turn(say="Hello there.", noise=Noise(kind="pink", snr_db=10, seed=2)))
    assert np.array_equal(a.mixed, b.mixed)
    assert not np.array_equal(a.mixed, c.mixed)


def test_spikes_are_at_the_requested_positions_with_the_requested_peak() -> None:
    spikes = [Spike(at_ms=150, peak=0.95), Spike(at_ms=700, peak=-0.9)]
    case = _case(say="Can you play some music?", spikes=[s.model_dump() for s in spikes])
    pcm, _ = generate_turn_audio(case, 0)
    x = to_float(pcm)
    for spike in spikes:
        idx = spike.at_ms * MS
        assert x[idx] == pytest.approx(spike.peak, abs=1e-4)
    assert np.max(np.abs(x[: 150 * MS])) < 0.01  # leading silence is clean before the spike


def test_spike_past_the_end_names_the_field() -> None:
    case = _case(say="Hi.", spikes=[{"at_ms": 60_000, "peak": 0.9}])
    with pytest.raises(CaseError, match=r"turns\[0\]\.spikes\[0\]\.at_ms"):
        generate_turn_audio(case, 0)


def test_speed_shortens_the_speech_by_its_factor() -> None:
    base = render_turn(Turn(say="Tell me a fun fact about the ocean."))
    fast = render_turn(Turn(say="Tell me a fun fact about the ocean.", speed=1.25))
    base_ms = base.eot_sample - LEAD_SILENCE_MS * MS
    fast_ms = fast.eot_sample - LEAD_SILENCE_MS * MS
    assert fast_ms == pytest.approx(base_ms / 1.25, rel=0.01)


def test_sidecar_records_params_and_hash(tmp_path: Path) -> None:
    case = load_suite("mini")[0]
    (path,) = write_case_audio([case], tmp_path)
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["params"]["text"] == case.turns[0].say
    assert sidecar["params"]["rate_wpm"] == 175
    assert sidecar["espeak_version"]
    pcm, rate_hz = read_wav(path)
    assert rate_hz == 48_000
    assert sidecar["duration_samples"] == len(pcm)


def test_missing_audio_names_the_wav_and_the_fix(tmp_path: Path) -> None:
    case = load_suite("mini")[0]
    with pytest.raises(CaseError, match=r"endpoint_short_hello__t0.wav.*make_case_audio.py"):
        load_turn_audio(case, 0, tmp_path)


def test_stale_audio_is_detected(tmp_path: Path) -> None:
    case = load_suite("mini")[0]
    write_case_audio([case], tmp_path)
    changed = case.model_copy(
        update={"turns": [case.turns[0].model_copy(update={"say": "Something else."})]}
    )
    with pytest.raises(CaseError, match=r"stale.*make_case_audio.py"):
        load_turn_audio(changed, 0, tmp_path)
    load_turn_audio(case, 0, tmp_path)  # the original still loads


def test_make_audio_check_fails_on_a_missing_or_changed_dir(tmp_path: Path) -> None:
    from autortc.case_audio import main

    assert main(["--check", "--audio-dir", str(tmp_path)]) == 1
    assert main(["--audio-dir", str(tmp_path)]) == 0
    assert main(["--check", "--audio-dir", str(tmp_path)]) == 0
