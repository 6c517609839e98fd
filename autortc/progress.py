"""Progress of a run: a live display on a terminal, one plain line per attempt elsewhere.

Off a terminal (CI, a pipe, a log file) every finished attempt prints one line, in
case order: `[3/16] interrupt_once a1: OK eot_to_first_audio=541 ms (14.2 s)`. On a
terminal the same lines scroll above a live bar (rich) that shows the attempts under
way, how many units are done, the running PRIMARY_KPI (P95 of the first replies so
far) and an ETA from the mean time per finished unit and the jobs.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Protocol

from autortc.metrics import stats

if TYPE_CHECKING:
    from rich.console import Console


def live_wanted() -> bool:
    """A live display only on an interactive terminal, never in CI."""
    return sys.stdout.isatty() and not os.environ.get("CI")


class Progress(Protocol):
    def started(self, key: str) -> None: ...

    def finished(self, key: str, kpi_ms: float | None) -> None: ...

    def unit_done(self) -> None: ...

    def close(self) -> None: ...


class PlainProgress:
    """No display beyond the attempt lines (printed by the run in case order)."""

    def started(self, key: str) -> None:
        pass

    def finished(self, key: str, kpi_ms: float | None) -> None:
        pass

    def unit_done(self) -> None:
        pass

    def close(self) -> None:
        pass


def eta_s(done: int, total: int, elapsed_s: float) -> float | None:
    """Seconds left at the mean pace so far (None before the first unit is done)."""
    if done <= 0:
        return None
    return max(0.0, elapsed_s / done * (total - done))


def status_text(
    in_flight: list[str], done: int, total: int, kpis: list[float], elapsed_s: float
) -> str:
    kpi = stats.p95(kpis)
    eta = eta_s(done, total, elapsed_s)
    parts = [
        f"{done}/{total} done",
        f"running KPI P95 {kpi:.0f} ms" if kpi is not None else "running KPI -",
        f"ETA {eta:.0f} s" if eta is not None else "ETA -",
        "now: " + (", ".join(in_flight) or "-"),
    ]
    return " | ".join(parts)


class LiveProgress:
    """A rich status line under the scrolling attempt lines (terminal only)."""

    def __init__(self, total: int, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = console or Console()
        self.total = total
        self.done = 0
        self.kpis: list[float] = []
        self.in_flight: list[str] = []
        self.t0 = time.monotonic()
        self._live = Live("", console=self.console, refresh_per_second=4, transient=True)
        self._live.start()

    def echo(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False)

    def _update(self) -> None:
        text = status_text(
            self.in_flight, self.done, self.total, self.kpis, time.monotonic() - self.t0
        )
        self._live.update(text)

    def started(self, key: str) -> None:
        self.in_flight.append(key)
        self._update()

    def finished(self, key: str, kpi_ms: float | None) -> None:
        if key in self.in_flight:
            self.in_flight.remove(key)
        if kpi_ms is not None:
            self.kpis.append(kpi_ms)
        self._update()

    def unit_done(self) -> None:
        self.done += 1
        self._update()

    def close(self) -> None:
        self._live.stop()
