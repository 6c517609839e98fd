"""The reference agent's pure units: turn model, defects, after-tee faults, noise gate,
and the faulty messenger. Known answers, no session, no sleeps."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest

from agent.defects import DEFECTS, NO_DEFECT, Defect, parse_defect
from agent.fault_messenger import MALFORMED, STALE_TRACE_ID, FaultyMessenger
from agent.noise_gate import NoiseGate
from agent.output_faults import GAP_START_FRAME, STOP_AFTER_FRAMES, AfterTee
from agent.turn_model import UNLIKELY_THRESHOLD, SpeechMeter, end_of_turn_probability
from autortc.errors import InputError

SR = 48_000


# -- turn model ----------------------------------------------------------------------


def test_speech_meter_removes_the_vads_start_and_hangover_delays():
    m = SpeechMeter(start_delay_s=0.05, end_delay_s=0.35)
    m.speech_started(10.05)  # speech began at 10.00
    m.speech_ended(12.35)  # and ended at 12.00
    assert m.heard_s == pytest.approx(2.0)
    m.speech_started(12.65)  # a second segment, still open
    assert m.heard_at(13.35) == pytest.approx(2.0 + 0.4)
    m.turn_committed()
    assert m.heard_at(20.0) == 0.0


def test_the_turn_is_over_once_most_of_the_utterance_was_heard():
    # a 600 ms pause after 2 s of a 4 s utterance: not over; at the end: over
    assert end_of_turn_probability(1.75, 3.98, ratio=0.75) < UNLIKELY_THRESHOLD
    assert end_of_turn_probability(3.5, 3.98, ratio=0.75) == 1.0
    assert end_of_turn_probability(0.2, None, ratio=0.75) == 1.0  # no script: VAD-only


# -- defects --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("gap_ms=400", "gap_ms", 400.0),
        ("delay_ms", "delay_ms", 200.0),
        ("silent", "silent", None),
        ("", "none", None),
        ("none", "none", None),
    ],
)
def test_defects_parse(text, kind, value):
    d = parse_defect(text)
    assert (d.kind, d.value) == (kind, value)


@pytest.mark.parametrize("bad", ["gapms=4", "silent=1", "gap_ms=abc", "gap_ms=-3"])
def test_a_bad_defect_is_an_input_error(bad):
    with pytest.raises(InputError, match="defect"):
        parse_defect(bad)


def test_every_defect_parses_with_and_without_its_default():
    for name, (needs_value, _) in DEFECTS.items():
        assert parse_defect(name).kind == name
        if needs_value:
            assert parse_defect(f"{name}=7").value == 7.0


# -- after the tee --------------------------------------------------------------------


def _tone(n: int, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    return (amp * 32767 * np.sin(2 * np.pi * freq * np.arange(n) / SR)).astype(np.int16)


def test_no_defect_hands_over_exactly_what_was_meant():
    t = AfterTee(NO_DEFECT)
    chunk = _tone(480)
    assert t.samples_to_take() == 480
    assert np.array_equal(t.transform(3, chunk), chunk)
    assert t.stall_s(10) == 0.0
    assert t.hold_frames() == 0
    assert not t.stops_at(10_000)
    assert AfterTee(Defect("delay_ms", 200.0)).hold_frames() == 20


def test_gap_replaces_400_ms_half_a_second_in_with_silence():
    t = AfterTee(Defect("gap_ms", 400.0))
    chunk = _tone(480)
    silent = [k for k in range(200) if not np.any(t.transform(k, chunk))]
    assert silent == list(range(GAP_START_FRAME, GAP_START_FRAME + 40))


def test_lowpass_keeps_the_low_band_and_removes_the_high_band():
    t = AfterTee(Defect("lowpass_hz", 3500.0))
    t.new_reply()
    low = np.concatenate([t.transform(k, _tone(480, 500.0)) for k in range(20)])
    t.new_reply()
    high = np.concatenate([t.transform(k, _tone(480, 7000.0)) for k in range(20)])
    assert np.std(low[4800 // 2 :]) > 0.8 * 0.3 * 32767 / np.sqrt(2)
    assert np.std(high[4800 // 2 :]) < 0.05 * 0.3 * 32767 / np.sqrt(2)


def test_speed_takes_5_percent_more_input_per_frame():
    t = AfterTee(Defect("speed", 1.05))
    taken = 0
    for k in range(100):
        n = t.samples_to_take()
        out = t.transform(k, _tone(n))
        t.took(n)
        taken += n
        assert len(out) == 480
    assert taken == pytest.approx(100 * 480 * 1.05, abs=1)


def test_silent_jitter_and_stop_mid_reply():
    assert not np.any(AfterTee(Defect("silent")).transform(0, _tone(480)))
    jitter = AfterTee(Defect("pace_jitter_ms", 50.0))
    assert [k for k in range(31) if jitter.stall_s(k) > 0] == [10, 20, 30]
    assert jitter.stall_s(10) == pytest.approx(0.05)
    stop = AfterTee(Defect("stop_mid_reply"))
    assert not stop.stops_at(STOP_AFTER_FRAMES - 1)
    assert stop.stops_at(STOP_AFTER_FRAMES)


# -- noise gate -------------------------------------------------------------------------


def test_the_gate_attenuates_stationary_noise_and_passes_speech_and_clean_audio():
    rng = np.random.default_rng(1)
    gate = NoiseGate()
    noise = [(rng.standard_normal(480) * 0.01 * 32767).astype(np.int16) for _ in range(100)]
    for frame in noise[:60]:
        gate.process(frame)  # learn the floor
    speech = _tone(480, amp=0.1)
    assert np.array_equal(gate.process(speech), speech)
    for _ in range(10):
        gate.process(noise[0])  # past the hold after the loud frame
    quieted = gate.process(noise[70])
    assert np.std(quieted) < 0.05 * np.std(noise[70])
    clean = NoiseGate()
    for _ in range(50):
        out = clean.process(np.zeros(480, np.int16))
    tone = _tone(480, amp=0.001)
    assert np.array_equal(clean.process(tone), tone)  # over digital silence nothing is gated
    assert np.count_nonzero(out) == 0


# -- the faulty messenger ---------------------------------------------------------------


class _Inner:
    metadata = ""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def send(self, topic: str, payload: bytes) -> None:
        self.sent.append((topic, payload))

    async def receive(self, on_message: Callable[[str, bytes, str | None], None]) -> None:
        return None

    def own_audio_published(self) -> bool:
        return True

    def connected(self) -> bool:
        return True


def _msg(type_: str) -> bytes:
    body = {"type": type_, "trace_id": "t", "case_id": "c", "msg_id": "m1", "t_ns": 1}
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("defect", "sent_types_for_reply_end"),
    [("no_reply_end", []), ("stop_mid_reply", []), ("dup_msg_id", ["reply_end", "reply_end"])],
)
async def test_message_defects_drop_or_repeat(defect, sent_types_for_reply_end):
    inner = _Inner()
    m = FaultyMessenger(inner, parse_defect(defect))
    await m.send("autortc.reply", _msg("reply_end"))
    assert [json.loads(p)["type"] for _, p in inner.sent] == sent_types_for_reply_end


async def test_stale_bad_and_dead_messengers():
    inner = _Inner()
    await FaultyMessenger(inner, parse_defect("stale_trace")).send(
        "autortc.reply", _msg("reply_start")
    )
    assert json.loads(inner.sent[1][1])["trace_id"] == STALE_TRACE_ID
    inner = _Inner()
    await FaultyMessenger(inner, parse_defect("bad_json")).send(
        "autortc.reply", _msg("reply_start")
    )
    assert inner.sent[1][1] == MALFORMED
    inner = _Inner()
    dead = FaultyMessenger(inner, parse_defect("crash_mid_reply"))
    dead.dead = True
    await dead.send("autortc.reply", _msg("reply_end"))
    assert inner.sent == []
    inner = _Inner()
    await FaultyMessenger(inner, parse_defect("no_agent_ready")).send(
        "autortc.agent", _msg("agent_ready")
    )
    assert inner.sent == []
