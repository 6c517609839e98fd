"""When the EoT sample left the user bot: from the frame's real send time where the
transport reports it, else estimated from the queue level."""

from __future__ import annotations

from autortc.bots.jobspec import TurnJob
from autortc.bots.user_bot import _turn_timing

SPF = 480


def _frames(n: int, first_global_frame: int) -> list[tuple[int, int, float, int]]:
    """(idx in turn, capture-return t_ns, queued s after it, global start sample)."""
    return [
        (i, 1_000_000_000 + i * 10_000_000, 0.04, (first_global_frame + i) * SPF) for i in range(n)
    ]


def test_the_eot_leaves_with_its_frames_real_send_time() -> None:
    turn = TurnJob(
        turn_index=0, audio_path="x.wav", eot_sample=2 * SPF + 100, speech_start_sample=0
    )
    sent = {7 + 2: 5_000_000_000}  # the EoT's frame is the 10th frame the bot captured

    res = _turn_timing(turn, _frames(4, first_global_frame=7), sent.get)
    # sample 100 of its frame leaves 379 samples before the frame's send
    assert res.eot_left_t_ns == 5_000_000_000 - 379 * 1_000_000_000 // 48_000
    assert res.eot_sample_in_input == 7 * SPF + 2 * SPF + 100
    assert res.eot_left_source == "sent"
    assert res.eot_left_estimate_t_ns == 1_060_000_000 - 380 * 1_000_000_000 // 48_000


def test_without_send_times_it_is_estimated_from_the_queue() -> None:
    turn = TurnJob(
        turn_index=0, audio_path="x.wav", eot_sample=2 * SPF + 100, speech_start_sample=0
    )
    res = _turn_timing(turn, _frames(4, first_global_frame=7))
    # frame 2 returned at 1.02 s with 40 ms queued behind it: its end leaves at 1.06 s
    assert res.eot_left_t_ns == 1_060_000_000 - 380 * 1_000_000_000 // 48_000
    assert res.eot_left_source == "estimated"
