"""The publishers' send schedule (pure), with known answers."""

from __future__ import annotations

from autortc.transport.pacing import EARLY_NS, FRAME_NS, MAX_CATCHUP_NS, schedule


def test_a_frame_waits_until_half_a_millisecond_before_its_time():
    # asyncio wakes up to 1 ms late: aiming half a millisecond early centres the sends
    assert schedule(100, 10_000_100, resumed=False) == (10_000_000 - EARLY_NS, 10_000_100)
    assert schedule(10_000_100 - EARLY_NS, 10_000_100, resumed=False) == (0, 10_000_100)
    assert schedule(10_000_100 - EARLY_NS - 1, 10_000_100, resumed=False)[0] == 1


def test_on_time_or_a_little_late_keeps_the_absolute_schedule():
    assert schedule(5_000, 5_000, resumed=False) == (0, 5_000)
    late = 3 * FRAME_NS  # the loop was busy: catch up without moving the schedule
    assert schedule(late, 0, resumed=False) == (0, 0)


def test_far_behind_or_after_an_empty_queue_the_schedule_restarts_now():
    assert schedule(MAX_CATCHUP_NS + 1, 0, resumed=False) == (0, MAX_CATCHUP_NS + 1)
    assert schedule(1, 0, resumed=True) == (0, 1)  # no burst after a pause
