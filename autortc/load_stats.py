"""`autortc load`: the figures of a concurrency ramp, and the capacity estimate. Pure.

Each level runs N rooms at once (the same case, N repeats at `--jobs N`). Per level:
EoT -> first audio P50 / P95 over the rooms' first replies, false endpoints, errors
(attempts not OK), the agent's CPU per room and the harness's own CPU (orchestrator,
bots and, on the embedded transport, the room server).

Capacity (the sizing note this project grew out of, seed 002):

    required workers = target concurrency x per-stream RTF / target utilisation

where a worker is one CPU core running agent sessions, and the per-stream real-time
factor (RTF) is the agent's CPU seconds per second of call, measured at the largest
level whose P95 stays within `flat_ms` (50 ms) of the single-room value: the load at
which the agent still answers as fast as alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from autortc.metrics import stats

FLAT_MS = 50.0


@dataclass(frozen=True)
class LevelResult:
    rooms: int
    latencies_ms: tuple[float, ...]  # one per room that answered (its first reply)
    false_endpoints: int
    errors: int  # attempts whose final status is not OK
    agent_cpu_s: float | None  # the agent worker's CPU over the level (None: not seen)
    harness_cpu_s: float
    call_s: float  # the rooms' summed recording time (seconds of call)
    wall_s: float

    @property
    def p50_ms(self) -> float | None:
        return stats.median(self.latencies_ms)

    @property
    def p95_ms(self) -> float | None:
        return stats.p95(self.latencies_ms)

    @property
    def agent_cpu_per_room_s(self) -> float | None:
        return None if self.agent_cpu_s is None else self.agent_cpu_s / self.rooms

    @property
    def rtf(self) -> float | None:
        """The agent's CPU seconds per second of call."""
        if self.agent_cpu_s is None or self.call_s <= 0:
            return None
        return self.agent_cpu_s / self.call_s


@dataclass(frozen=True)
class Capacity:
    flat_level: int | None  # the largest level within FLAT_MS of one room's P95
    rtf: float | None
    target_concurrency: int
    utilisation: float
    required_workers: int | None
    how: str = field(default="")


def flat_level(levels: Sequence[LevelResult], flat_ms: float = FLAT_MS) -> int | None:
    """The largest level whose P95 is within `flat_ms` of the single-room P95 (levels in
    ramp order; the first level is the single-room reference)."""
    if not levels or levels[0].p95_ms is None:
        return None
    ref = levels[0].p95_ms
    best = None
    for lv in levels:
        if lv.p95_ms is not None and lv.p95_ms - ref <= flat_ms and lv.errors == 0:
            best = lv.rooms
    return best


def capacity(
    levels: Sequence[LevelResult],
    *,
    target_concurrency: int,
    utilisation: float,
    flat_ms: float = FLAT_MS,
) -> Capacity:
    level = flat_level(levels, flat_ms)
    at = next((lv for lv in levels if lv.rooms == level), None)
    rtf = at.rtf if at is not None else None
    if rtf is None:
        return Capacity(
            level,
            None,
            target_concurrency,
            utilisation,
            None,
            "no estimate: no level kept its P95 flat with the agent's CPU measured",
        )
    required = math.ceil(target_concurrency * rtf / utilisation)
    how = (
        f"required = {target_concurrency} rooms x RTF {rtf:.3f} (the agent's CPU s per s of "
        f"call at {level} rooms, the largest level within {flat_ms:g} ms of one room's P95) "
        f"/ utilisation {utilisation:g} = {target_concurrency * rtf / utilisation:.2f}, "
        f"rounded up: {required} workers of one core each"
    )
    return Capacity(level, rtf, target_concurrency, utilisation, required, how)


def p95_svg(levels: Sequence[LevelResult], *, width_px: int = 640, height_px: int = 260) -> str:
    """P95 (and P50) against rooms, as inline SVG (log2 x axis)."""
    pts = [(lv.rooms, lv.p95_ms, lv.p50_ms) for lv in levels if lv.p95_ms is not None]
    if not pts:
        return '<p class="note">no level answered: nothing to plot</p>'
    pad = 40
    xs = [math.log2(r) for r, _, _ in pts]
    ys = [v for _, p95, p50 in pts for v in (p95, p50) if v is not None]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = 0.0, max(ys) * 1.15

    def sx(x: float) -> float:
        return pad + (x - x0) / (x1 - x0) * (width_px - 2 * pad)

    def sy(y: float) -> float:
        return height_px - pad - (y - y0) / (y1 - y0) * (height_px - 2 * pad)

    def line(idx: int, color: str) -> str:
        coords = " ".join(
            f"{sx(math.log2(p[0])):.1f},{sy(float(v)):.1f}"
            for p in pts
            if (v := p[idx]) is not None
        )
        return f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>'

    ticks = "".join(
        f'<text x="{sx(math.log2(r)):.1f}" y="{height_px - pad + 16}" font-size="11" '
        f'text-anchor="middle">{r}</text>'
        for r, _, _ in pts
    )
    return (
        f'<svg class="load" width="{width_px}" height="{height_px}" '
        ">"
        f'<line x1="{pad}" y1="{height_px - pad}" x2="{width_px - pad}" y2="{height_px - pad}" '
        f'stroke="#888"/><line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height_px - pad}" '
        f'stroke="#888"/>{ticks}'
        f'<text x="{pad}" y="{pad - 10}" font-size="11">ms (P95 red, P50 blue); rooms</text>'
        f'<text x="4" y="{sy(y1 * 0.95):.1f}" font-size="10">{y1:.0f}</text>'
        f"{line(1, '#d62728')}{line(2, '#1f77b4')}</svg>"
    )
