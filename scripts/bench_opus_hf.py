"""How much of Ring 1's hf_ratio_drop and mel_distance Opus alone explains.

Synthesizes the reference agent's replies of a suite with espeak-ng (as the agent
does), passes each through libopus (PyAV) at several bitrates and both
applications, and measures the round trip with Ring 1's own functions. No network,
no packet loss: the codec's share only. Writes JSON (default
output/bench/opus_hf.json) and prints a table.

    .venv/bin/python scripts/bench_opus_hf.py [--suite fast] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from autortc.attempt import reply_texts
from autortc.case_schema import load_suite
from autortc.espeak import EspeakSynth, resample_to_48k
from autortc.metrics import align, ring1
from autortc.opus_roundtrip import opus_roundtrip

BITRATES_BPS = (16_000, 24_000, 32_000, 48_000, 64_000, 96_000)
APPLICATIONS = ("voip", "audio")
SR = 48_000


def measure(x_i16: np.ndarray, bitrate_bps: int, application: str) -> tuple[float, float]:
    y = opus_roundtrip(x_i16, bitrate_bps=bitrate_bps, application=application)
    x, yf = x_i16 / 32768.0, y / 32768.0
    lag = align.find_lag(x, yf, sample_rate_hz=SR) or 0
    ref, sig, _ = align.aligned_pair(x, yf, lag)
    hf = ring1.hf_ratio_drop(ref, sig, sample_rate_hz=SR)
    mel = ring1.mel_distance_db(ref, sig, sample_rate_hz=SR)
    return float(hf if hf is not None else np.nan), float(mel if mel is not None else np.nan)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", default="fast")
    ap.add_argument("--out", type=Path, default=Path("output/bench/opus_hf.json"))
    args = ap.parse_args()
    synth = EspeakSynth()
    replies = []
    for case in load_suite(args.suite):
        voice = case.agent.voice or case.turns[0].voice or "en-us"
        for text in dict.fromkeys(reply_texts(case)):
            replies.append((case.id, text, voice))
    results = []
    for app in APPLICATIONS:
        for br in BITRATES_BPS:
            hfs, mels = [], []
            for _, text, voice in replies:
                pcm = synth.synthesize(text, voice=voice)
                x = resample_to_48k(pcm, synth.sample_rate_hz)
                hf, mel = measure(x, br, app)
                hfs.append(hf)
                mels.append(mel)
            row = {
                "application": app,
                "bitrate_bps": br,
                "n_replies": len(hfs),
                "hf_ratio_drop_min": round(float(np.nanmin(hfs)), 3),
                "hf_ratio_drop_max": round(float(np.nanmax(hfs)), 3),
                "mel_distance_db_min": round(float(np.nanmin(mels)), 2),
                "mel_distance_db_max": round(float(np.nanmax(mels)), 2),
            }
            results.append(row)
            print(
                f"{app:5s} {br // 1000:3d} kbps: hf_ratio_drop "
                f"{row['hf_ratio_drop_min']:.3f}..{row['hf_ratio_drop_max']:.3f}, "
                f"mel_distance {row['mel_distance_db_min']:.2f}..{row['mel_distance_db_max']:.2f} dB"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"suite": args.suite, "results": results}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
