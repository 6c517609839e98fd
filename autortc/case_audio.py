"""Deterministic case audio: text -> espeak-ng -> 48 kHz int16 wav + JSON sidecar.

For each turn (see `render_turn`):
  1. synthesize `say` at `rate` (with `pause_ms`: split at the word boundary nearest the
     middle, synthesize both halves, join them with exactly `pause_ms` of silence);
     espeak's own leading/trailing silence is trimmed;
  2. resample to 48 kHz (scipy polyphase), apply `gain_db`, then `speed` (resampling);
  3. pad 300 ms of silence before and 500 ms after;
  4. from this CLEAN signal: `eot_sample` (exclusive end of the last speech, 48 kHz index)
     and `speech_segments` ([start, end) pairs, gaps < 200 ms merged);
  5. mix seeded noise at `snr_db` (speech-segment power over noise power), set spikes,
     clip to [-1, 1], convert to int16.

Files: `<audio_dir>/<case.audio_id>__t<turn_index>.wav` and `.json` beside it.
Regenerate with `python scripts/make_case_audio.py`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import sys
import tempfile
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import resample_poly

from autortc.audio import SAMPLE_RATE_HZ, read_wav, to_float, to_int16
from autortc.case_schema import CASES_DIR, SUITE_NAMES, Case, Turn, load_suite
from autortc.errors import AutortcError, CaseError, InputError
from autortc.espeak import EspeakSynth, espeak_version, resample_to_48k

logger = logging.getLogger(__name__)

AUDIO_DIR = CASES_DIR / "audio"
GENERATOR_VERSION = 1
LEAD_SILENCE_MS = 300
TRAIL_SILENCE_MS = 500
SPEECH_THRESHOLD = 0.003  # |x| above this (before gain) counts as speech; ~ -50 dBFS
TRIM_THRESHOLD_I16 = 16  # espeak output below this at the edges is trimmed
MERGE_GAP_MS = 200
REGENERATE_HINT = "run `python scripts/make_case_audio.py` to regenerate"


@dataclass(frozen=True)
class TurnRender:
    """Float signals at 48 kHz (before int16 conversion) and the clean-signal landmarks."""

    clean: np.ndarray  # float64, speech only
    mixed: np.ndarray  # float64, clean + noise + spikes, clipped to [-1, 1]
    noise: np.ndarray  # float64, the scaled noise that was added (zeros if none)
    eot_sample: int
    speech_segments: list[list[int]]


def split_at_middle(text: str) -> tuple[str, str]:
    """Split at the space nearest the middle of the text (by characters)."""
    words = text.split()
    if len(words) < 2:
        raise InputError("pause_ms needs `say` with at least two words to split")
    best_k = min(
        range(1, len(words)),
        key=lambda k: (abs(len(" ".join(words[:k])) - len(text.strip()) / 2), k),
    )
    return " ".join(words[:best_k]), " ".join(words[best_k:])


def _trim_edges(pcm_i16: np.ndarray) -> np.ndarray:
    active = np.flatnonzero(np.abs(pcm_i16.astype(np.int32)) > TRIM_THRESHOLD_I16)
    if len(active) == 0:
        return pcm_i16[:0]
    return pcm_i16[active[0] : active[-1] + 1]


def _speak_48k(synth: EspeakSynth, text: str, turn: Turn) -> np.ndarray:
    raw = synth.synthesize(text, voice=turn.voice, rate_wpm=turn.rate_wpm)
    trimmed = _trim_edges(raw)
    return to_float(resample_to_48k(trimmed, synth.sample_rate_hz)).astype(np.float64)


def apply_speed(x: np.ndarray, speed: float) -> np.ndarray:
    """Play `x` `speed` times faster by resampling (duration / speed, pitch * speed)."""
    ratio = Fraction(speed).limit_denominator(1000)
    return np.asarray(resample_poly(x, ratio.denominator, ratio.numerator))


def speech_segments(
    x: np.ndarray, *, threshold: float, merge_gap_ms: int = MERGE_GAP_MS
) -> list[list[int]]:
    """[start, end) sample ranges where |x| > threshold, merging gaps shorter than merge_gap_ms."""
    active = np.flatnonzero(np.abs(x) > threshold)
    if len(active) == 0:
        return []
    max_gap = merge_gap_ms * SAMPLE_RATE_HZ // 1000
    breaks = np.flatnonzero(np.diff(active) > max_gap)
    starts = [int(active[0]), *(int(active[b + 1]) for b in breaks)]
    ends = [*(int(active[b]) + 1 for b in breaks), int(active[-1]) + 1]
    return [[s, e] for s, e in zip(starts, ends, strict=True)]


def make_noise(kind: str, n_samples: int, seed: int) -> np.ndarray:
    """Seeded unit-RMS noise: white, pink (1/f power) or brown (1/f^2 power)."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(n_samples)
    if kind == "white" or n_samples < 2:
        shaped = white
    else:
        exponent = {"pink": 0.5, "brown": 1.0}[kind]  # amplitude ~ 1 / f**exponent
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(n_samples, d=1.0 / SAMPLE_RATE_HZ)
        freqs[0] = freqs[1]
        shaped = np.fft.irfft(spectrum / freqs**exponent, n=n_samples)
        shaped -= shaped.mean()
    return np.asarray(shaped / np.sqrt(np.mean(shaped**2)))


def segments_power(x: np.ndarray, segments: list[list[int]]) -> float:
    parts = [x[s:e] for s, e in segments]
    return float(np.mean(np.concatenate(parts) ** 2)) if parts else 0.0


def render_turn(turn: Turn, *, synth: EspeakSynth | None = None) -> TurnRender:
    """Render one turn to float signals (pure given espeak's determinism)."""
    synth = synth or EspeakSynth()
    if turn.pause_ms:
        first, second = split_at_middle(turn.say)
        gap = np.zeros(turn.pause_ms * SAMPLE_RATE_HZ // 1000)
        speech = np.concatenate(
            [_speak_48k(synth, first, turn), gap, _speak_48k(synth, second, turn)]
        )
    else:
        speech = _speak_48k(synth, turn.say, turn)
    gain = 10.0 ** (turn.gain_db / 20.0)
    speech = speech * gain
    if turn.speed is not None and turn.speed != 1.0:
        speech = apply_speed(speech, turn.speed)
    lead = np.zeros(LEAD_SILENCE_MS * SAMPLE_RATE_HZ // 1000)
    trail = np.zeros(TRAIL_SILENCE_MS * SAMPLE_RATE_HZ // 1000)
    clean = np.concatenate([lead, speech, trail])

    segments = speech_segments(clean, threshold=SPEECH_THRESHOLD * gain)
    eot_sample = segments[-1][1] if segments else len(lead)

    noise = np.zeros_like(clean)
    if turn.noise is not None:
        unit = make_noise(turn.noise.kind, len(clean), turn.noise.seed)
        speech_power = segments_power(clean, segments)
        noise = unit * np.sqrt(speech_power / 10.0 ** (turn.noise.snr_db / 10.0))
    mixed = clean + noise
    for spike in turn.spikes or []:
        idx = spike.at_ms * SAMPLE_RATE_HZ // 1000
        if idx < len(mixed):
            mixed[idx] = spike.peak
    return TurnRender(clean, np.clip(mixed, -1.0, 1.0), noise, eot_sample, segments)


def turn_params(turn: Turn) -> dict[str, Any]:
    """The synthesis parameters recorded in the sidecar and compared for staleness."""
    return {
        "generator_version": GENERATOR_VERSION,
        "text": turn.say,
        "voice": turn.voice,
        "rate": turn.rate,
        "rate_wpm": turn.rate_wpm,
        "gain_db": turn.gain_db,
        "noise": turn.noise.model_dump() if turn.noise else None,
        "spikes": [s.model_dump() for s in turn.spikes] if turn.spikes else None,
        "pause_ms": turn.pause_ms,
        "speed": turn.speed,
        "lead_silence_ms": LEAD_SILENCE_MS,
        "trail_silence_ms": TRAIL_SILENCE_MS,
    }


def wav_bytes(pcm_i16: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE_HZ)
        w.writeframes(np.asarray(pcm_i16, dtype="<i2").tobytes())
    return buf.getvalue()


def generate_turn_audio(case: Case, turn_index: int) -> tuple[np.ndarray, dict[str, Any]]:
    """The turn's 48 kHz int16 PCM and its sidecar dict."""
    turn = case.turns[turn_index]
    render = render_turn(turn)
    for j, spike in enumerate(turn.spikes or []):
        if spike.at_ms * SAMPLE_RATE_HZ // 1000 >= len(render.mixed):
            duration_ms = len(render.mixed) * 1000 // SAMPLE_RATE_HZ
            raise CaseError(
                case.id,
                f"turns[{turn_index}].spikes[{j}].at_ms",
                f"{spike.at_ms} ms is past the end of the audio ({duration_ms} ms)",
            )
    pcm = to_int16(render.mixed)
    sidecar = {
        "case_id": case.audio_id,
        "turn_index": turn_index,
        "sample_rate_hz": SAMPLE_RATE_HZ,
        "duration_samples": len(pcm),
        "eot_sample": render.eot_sample,
        "speech_segments": render.speech_segments,
        "params": turn_params(turn),
        "espeak_version": espeak_version(),
        "wav_sha256": hashlib.sha256(wav_bytes(pcm)).hexdigest(),
    }
    return pcm, sidecar


def turn_audio_path(case: Case, turn_index: int, audio_dir: Path = AUDIO_DIR) -> Path:
    return Path(audio_dir) / f"{case.audio_id}__t{turn_index}.wav"


def write_case_audio(cases: list[Case], audio_dir: Path = AUDIO_DIR) -> list[Path]:
    """Write every turn's wav + sidecar; cases sharing audio (nightly) are written once."""
    written: list[Path] = []
    seen: set[str] = set()
    for case in cases:
        for i in range(len(case.turns)):
            wav_path = turn_audio_path(case, i, audio_dir)
            if wav_path.name in seen:
                continue
            seen.add(wav_path.name)
            pcm, sidecar = generate_turn_audio(case, i)
            wav_path.parent.mkdir(parents=True, exist_ok=True)
            wav_path.write_bytes(wav_bytes(pcm))
            wav_path.with_suffix(".json").write_text(
                json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
            written.append(wav_path)
            logger.info("case audio written", extra={"path": str(wav_path)})
    return written


def load_turn_audio(
    case: Case, turn_index: int, audio_dir: Path = AUDIO_DIR
) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a committed turn wav + sidecar; CaseError if missing or stale."""
    wav_path = turn_audio_path(case, turn_index, audio_dir)
    json_path = wav_path.with_suffix(".json")
    field = f"turns[{turn_index}]"
    if not wav_path.is_file() or not json_path.is_file():
        raise CaseError(str(wav_path), field, f"audio file missing: {REGENERATE_HINT}")
    sidecar = json.loads(json_path.read_text(encoding="utf-8"))
    if sidecar.get("params") != turn_params(case.turns[turn_index]):
        raise CaseError(
            str(wav_path), field, f"audio is stale (case parameters changed): {REGENERATE_HINT}"
        )
    data = wav_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sidecar.get("wav_sha256"):
        raise CaseError(str(wav_path), field, f"wav does not match its sidecar: {REGENERATE_HINT}")
    pcm, rate_hz = read_wav(wav_path)
    if rate_hz != SAMPLE_RATE_HZ:
        raise CaseError(str(wav_path), field, f"sample rate {rate_hz} Hz, expected 48000 Hz")
    return pcm, sidecar


def all_suite_cases() -> list[Case]:
    """Every case of every named suite, each id once (nightly cases reuse their source audio)."""
    cases: dict[str, Case] = {}
    for name in SUITE_NAMES:
        for case in load_suite(name):
            cases.setdefault(case.id, case)
    return list(cases.values())


def _changed_files(cases: list[Case], audio_dir: Path) -> tuple[int, list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_case_audio(cases, Path(tmp))
        changed = [
            f.name
            for p in paths
            for f in (p, p.with_suffix(".json"))
            if not (audio_dir / f.name).is_file()
            or (audio_dir / f.name).read_bytes() != f.read_bytes()
        ]
    return len(paths), changed


def main(argv: list[str] | None = None) -> int:
    """`make_case_audio`: regenerate (or `--check`) the committed audio of every suite."""
    parser = argparse.ArgumentParser(description="Regenerate the committed case audio.")
    parser.add_argument("--audio-dir", type=Path, default=AUDIO_DIR)
    parser.add_argument("--check", action="store_true", help="exit 1 if any file would change")
    args = parser.parse_args(argv)
    audio_dir: Path = args.audio_dir
    try:
        cases = all_suite_cases()
        if args.check:
            n_turns, changed = _changed_files(cases, audio_dir)
            for name in changed:
                print(f"differs: {name}")
            print(f"checked {n_turns} turn(s): {len(changed)} file(s) differ")
            return 1 if changed else 0
        paths = write_case_audio(cases, audio_dir)
        expected = {p.name for p in paths} | {p.with_suffix(".json").name for p in paths}
        for old in sorted(audio_dir.glob("*__t*.*")):
            if old.name not in expected:
                old.unlink()
                print(f"removed stale {old}")
        total_mb = sum(p.stat().st_size for p in audio_dir.iterdir()) / 1e6
        print(f"wrote {len(paths)} turn(s) to {audio_dir} ({total_mb:.2f} MB)")
        return 0
    except AutortcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
