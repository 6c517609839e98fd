"""The figures that need models, after a run's attempts: listening quality (ViSQOL,
STOI, DNSMOS, PLCMOS: listening.py, `--listening`) and what the caller heard (heard
WER: heard.py, `--heard-wer`).

They cost seconds of CPU per reply, so they run once every attempt has ended, never
beside a room's real-time audio (which they would slow, and so its latencies), in a
pool of worker processes, one reply per task. Each attempt's first reply goes in as a
16 kHz pair (its pre_rtc aligned onto the slice, and what the probe heard) with its
text; the figures come back into the attempt's row and its metrics.json.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from autortc.metrics import registry as M
from autortc.metrics.rows import AttemptRow

RATE_HZ = 16_000


@dataclass(frozen=True)
class ReplyPair:
    """An attempt's first reply at 16 kHz: what the probe heard and, when the agent
    recorded it, its pre_rtc aligned onto the same samples; and the reply's text."""

    post: np.ndarray  # float32
    pre: np.ndarray | None  # float32, same length
    text: str
    # an interrupted reply said only part of its text: no heard WER against all of it
    interrupted: bool = False


def to_16k(x: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    y = np.asarray(x, dtype=np.float64)
    if sample_rate_hz != RATE_HZ:
        g = gcd(sample_rate_hz, RATE_HZ)
        y = resample_poly(y, RATE_HZ // g, sample_rate_hz // g)
    return np.clip(y, -1.0, 1.0).astype(np.float32)


def reply_pair(
    post: np.ndarray,
    pre_on_slice: np.ndarray | None,
    *,
    sample_rate_hz: int,
    text: str,
    interrupted: bool = False,
) -> ReplyPair:
    return ReplyPair(
        post=to_16k(post, sample_rate_hz),
        pre=None if pre_on_slice is None else to_16k(pre_on_slice, sample_rate_hz),
        text=text,
        interrupted=interrupted,
    )


def skipped(listening: bool, heard: bool) -> list[str]:
    """Which asked-for families cannot run here, and why (for the report)."""
    out = []
    if listening:
        import autortc.quality.listening as lq

        out += [f"{family}: {why}" for family, why in lq.available().items() if why is not None]
    if heard:
        import autortc.quality.heard as hq

        if (why := hq.available()) is not None:
            out.append(f"heard WER: {why}")
    return out


def describe(listening: bool, heard: bool) -> str:
    """One line for the report: which model figures ran, with what, and what was skipped."""
    if not (listening or heard):
        return "none asked for (--listening, --heard-wer)"
    parts = []
    if listening:
        parts.append("ViSQOL (speech mode, 16 kHz), STOI, DNSMOS, PLCMOS (--listening)")
    if heard:
        import autortc.quality.heard as hq

        parts.append(f"heard WER by {hq.RECOGNISER}, English only (--heard-wer)")
    gone = skipped(listening, heard)
    return "; ".join(parts) + (f"; skipped: {'; '.join(gone)}" if gone else "")


def reply_figures(pair: ReplyPair, listening: bool, heard: bool) -> dict[str, float | None]:
    """Every asked-for figure of one reply (in a worker process)."""
    out: dict[str, float | None] = {}
    if listening:
        import autortc.quality.listening as lq

        if pair.pre is not None:
            out.update(lq.full_reference(pair.pre, pair.post, sample_rate_hz=RATE_HZ))
        out.update(lq.no_reference(pair.post, sample_rate_hz=RATE_HZ))
    if heard and not pair.interrupted:
        import autortc.quality.heard as hq

        if hq.available() is None:
            score = hq.score_reply(pair.pre, pair.post, text=pair.text, sample_rate_hz=RATE_HZ)
            out[M.HEARD_WER_PRE.name] = score.wer_pre
            out[M.HEARD_WER_POST.name] = score.wer_post
            out[M.HEARD_WER_DELTA.name] = score.wer_delta
            if score.wer_post is not None:
                out[M.HEARD_WORDS.name] = float(len(hq.normalise(pair.text).split()))
    return out


def with_figures(row: AttemptRow, figures: dict[str, float | None]) -> AttemptRow:
    known = {m.name: m for m in M.REGISTRY}
    rounded = {k: known[k].round(v) for k, v in figures.items() if k in known}
    return replace(row, figures={**row.figures, **rounded})


async def quality_pass(
    items: Sequence[tuple[AttemptRow, ReplyPair | None, Path]],
    *,
    listening: bool,
    heard: bool,
    echo: Callable[[str], object] = print,
) -> list[AttemptRow]:
    """The rows with their model figures added (and each metrics.json rewritten)."""
    todo = [(i, pair) for i, (_, pair, _) in enumerate(items) if pair is not None]
    rows = [row for row, _, _ in items]
    if not todo or not (listening or heard):
        return rows
    what = ", ".join(
        n for n, on in (("ViSQOL/STOI/DNSMOS/PLCMOS", listening), ("heard WER", heard)) if on
    )
    echo(f"autortc: {what} of {len(todo)} replies ...")
    loop = asyncio.get_running_loop()
    workers = max(1, min(len(todo), os.cpu_count() or 1))
    ctx = multiprocessing.get_context("spawn")  # never fork a process with threads
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futures = [
            loop.run_in_executor(pool, reply_figures, pair, listening, heard) for _, pair in todo
        ]
        results = await asyncio.gather(*futures, return_exceptions=True)
    for (i, _), got in zip(todo, results, strict=True):
        if isinstance(got, BaseException):
            echo(f"autortc: model figures of {rows[i].case_id} failed: {got!r}")
            continue
        rows[i] = with_figures(rows[i], got)
        write_metrics(items[i][2], rows[i])
    return rows


def write_metrics(attempt_dir: Path, row: AttemptRow) -> None:
    (attempt_dir / "metrics.json").write_text(json.dumps(row.to_dict(), indent=1, default=str))
