"""The GC guard of the real-time processes (agent worker, bots)."""

from __future__ import annotations

import gc
import logging

import pytest

from autortc.gc_pauses import GcPauseLog, freeze_startup_heap


class FakeNs:
    def __init__(self) -> None:
        self.t = 0

    def __call__(self) -> int:
        return self.t


def test_a_long_collection_is_logged_with_its_length_and_a_short_one_is_not(caplog):
    clock = FakeNs()
    log = GcPauseLog(threshold_ms=50.0, now_ns=clock)
    with caplog.at_level(logging.WARNING, logger="autortc.gc_pauses"):
        log("start", {"generation": 0})
        clock.t += 3_000_000
        log("stop", {"generation": 0})
        log("start", {"generation": 2})
        clock.t += 170_000_000
        log("stop", {"generation": 2})
    assert log.pauses_ms == [pytest.approx(170.0)]
    assert len(caplog.records) == 1
    assert "170 ms (generation 2)" in caplog.records[0].getMessage()


def test_a_stop_without_its_start_is_ignored():
    log = GcPauseLog(now_ns=FakeNs())
    log("stop", {"generation": 2})
    assert log.pauses_ms == []


def test_freezing_moves_the_live_heap_out_of_the_collector():
    try:
        frozen = freeze_startup_heap()
        assert frozen > 10_000  # pytest, numpy and autortc are all alive here
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
