"""Progress: the live status line's text, its ETA, and the attempt lines in case order."""

from __future__ import annotations

import io

from rich.console import Console

from autortc.progress import LiveProgress, eta_s, status_text
from autortc.schedule import OrderedEcho


def test_eta_is_the_mean_pace_times_what_is_left() -> None:
    assert eta_s(0, 10, 5.0) is None
    assert eta_s(4, 10, 20.0) == 30.0
    assert eta_s(10, 10, 50.0) == 0.0


def test_status_text_names_the_running_kpi_eta_and_attempts_under_way() -> None:
    text = status_text(["a a1", "b r2a1"], 2, 8, [400.0, 500.0], 10.0)
    assert text == "2/8 done | running KPI P95 495 ms | ETA 30 s | now: a a1, b r2a1"
    assert status_text([], 0, 8, [], 0.0) == "0/8 done | running KPI - | ETA - | now: -"


def test_attempt_lines_come_out_in_case_order_whatever_order_they_finish() -> None:
    out: list[str] = []
    echo = OrderedEcho(out.append)
    echo.done(2, ["[2/3] b"])
    echo.done(3, ["[3/3] c"])
    assert out == []
    echo.done(1, ["[1/3] a", "[1/3] a retry"])
    assert out == ["[1/3] a", "[1/3] a retry", "[2/3] b", "[3/3] c"]


def test_the_live_display_prints_lines_and_ends_clean() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    live = LiveProgress(2, console=console)
    live.started("a a1")
    live.echo("[1/2] a a1: OK eot_to_first_audio=500 ms (9.0 s)")
    live.finished("a a1", 500.0)
    live.unit_done()
    assert live.in_flight == []
    assert (live.done, live.kpis) == (1, [500.0])
    live.close()
    assert "[1/2] a a1: OK" in buf.getvalue()
