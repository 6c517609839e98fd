"""The calibration agent's decisions, on synthetic streams with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from agent import calibration_core as core
from autortc.audio import SAMPLE_RATE_HZ, SAMPLES_PER_FRAME
from autortc.case_audio import render_turn
from autortc.case_schema import Turn

T0_NS = 5_000_000_000
PERIOD_NS = 1e9 / SAMPLE_RATE_HZ


@pytest.mark.parametrize("j", [0, 1, 240, 479])
def test_the_tone_offset_is_the_sample_that_leaves_at_the_target(j: int) -> None:
    sent = T0_NS
    target = core.departure_t_ns(sent, j)
    assert core.tone_offset(target, sent) == j
    assert target == round(sent - (479 - j) * PERIOD_NS)


def test_a_target_outside_the_frame_has_no_offset() -> None:
    assert core.tone_offset(T0_NS + 1_000_000, T0_NS) is None  # after the frame's last sample
    assert core.tone_offset(T0_NS - 10_000_000, T0_NS) is None  # before its first


def test_the_tone_starts_at_full_amplitude_and_lasts_300_ms() -> None:
    x = core.tone()
    assert len(x) == 300 * SAMPLE_RATE_HZ // 1000
    assert x[0] == round(0.5 * 32767)
    assert abs(int(x[-1])) < 200  # faded out


def _stream(signals: list[np.ndarray], lead: int) -> tuple[np.ndarray, list[int]]:
    """The signals one after another after `lead` samples of silence, in whole frames,
    each frame received 10 ms after the previous from T0."""
    x = np.concatenate([np.zeros(lead), *signals])
    x = np.concatenate([x, np.zeros(-len(x) % SAMPLES_PER_FRAME)])
    recv = [T0_NS + k * 10_000_000 for k in range(len(x) // SAMPLES_PER_FRAME)]
    return x, recv


def test_the_eot_arrival_is_predicted_before_it_comes_and_found_exactly_after() -> None:
    r = render_turn(Turn(say="Calibration check, one two three."))
    lead = 7_777  # not a whole number of frames
    x, recv = _stream([r.clean], lead)
    eot_idx = lead + r.eot_sample
    truth = round(recv[eot_idx // 480] - (479 - eot_idx % 480) * PERIOD_NS)
    loc = core.EotLocator(r.clean, r.eot_sample)
    # 0.2 s before the EoT sample comes in: predicted from the frames so far
    n_frames = (eot_idx - SAMPLE_RATE_HZ // 5) // SAMPLES_PER_FRAME
    part = x[: n_frames * SAMPLES_PER_FRAME]
    assert loc.arrival_t_ns(part, 0, recv[:n_frames]) is None  # not in yet
    predicted = loc.predicted_arrival_t_ns(part, 0, recv[:n_frames])
    assert predicted == truth
    assert loc.arrival_t_ns(x, 0, recv) == truth


def test_an_earlier_turn_saying_the_same_words_is_not_taken_for_the_next() -> None:
    r = render_turn(Turn(say="Calibration check, one two three."))
    lead = 4_800
    x, _ = _stream([r.clean, r.clean], lead)
    first = core.EotLocator(r.clean, r.eot_sample)
    first_idx = first.eot_index(x[: lead + len(r.clean)], 0)  # as it is heard: turn by turn
    assert first_idx == lead + r.eot_sample
    second = core.EotLocator(r.clean, r.eot_sample, start_index=first_idx + 1)
    assert second.eot_index(x, 0) == lead + len(r.clean) + r.eot_sample
    # the same from a tail of the stream that starts mid-way
    tail_start = 100 * SAMPLES_PER_FRAME
    again = core.EotLocator(r.clean, r.eot_sample, start_index=first_idx + 1)
    assert again.eot_index(x[tail_start:], tail_start) == lead + len(r.clean) + r.eot_sample


def test_nothing_is_found_in_silence() -> None:
    r = render_turn(Turn(say="Calibration check, one two three."))
    x, recv = _stream([np.zeros(len(r.clean))], 0)
    loc = core.EotLocator(r.clean, r.eot_sample)
    assert loc.predicted_arrival_t_ns(x, 0, recv) is None
