"""The reference agent's turn model: when has the caller finished?

livekit-agents decides a turn in two steps: its VAD reports the end of speech after a
hangover, then a turn detector says how likely the turn is over; when it says
"unlikely", the session waits `max_delay` (the caller may go on) instead of
`min_delay`.

Measured on this project's case audio, livekit-agents' own offline detector (the
`v1-mini` audio model in livekit-local-inference, English threshold 0.36) cannot tell
espeak-ng's pauses from its ends: P(end) is 0.11-0.60 at real ends and 0.23-0.45 at a
600 ms mid-sentence pause or between digit groups (README, "Turn detection"). So by
default the reference agent uses a *scripted* turn model, in the same spirit as its
scripted STT and LLM: the room metadata tells it how much speech each utterance holds
(`utterance_speech_ms`), and the model says "over" once the caller has spoken that
much (`ratio` of it, since a VAD's spans run short). It is a timing-faithful stand-in for a semantic turn
model, not a recogniser; without the hint it says "over" at every VAD end (VAD-only).

`SpeechMeter` is pure: fed the VAD's state changes (with the VAD's own start and
hangover delays), it knows how much the caller has said in the open turn.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

logger = logging.getLogger(__name__)

TurnDetectorName = Literal["scripted", "vad", "livekit-eot"]
TURN_DETECTORS: tuple[TurnDetectorName, ...] = ("scripted", "vad", "livekit-eot")
UNLIKELY_THRESHOLD = 0.5


@dataclass
class SpeechMeter:
    """Speech heard in the open user turn, from VAD start / end times (seconds, any clock).

    A VAD reports speech `start_delay_s` after it began (its minimum speech duration)
    and its end `end_delay_s` after it ended (the hangover); both are taken back out.
    """

    start_delay_s: float
    end_delay_s: float
    heard_s: float = 0.0
    speaking_since_s: float | None = None
    segments: list[tuple[float, float]] = field(default_factory=list)

    def speech_started(self, t_s: float) -> None:
        if self.speaking_since_s is None:
            self.speaking_since_s = t_s - self.start_delay_s

    def speech_ended(self, t_s: float) -> None:
        if self.speaking_since_s is None:
            return
        end = max(self.speaking_since_s, t_s - self.end_delay_s)
        self.segments.append((self.speaking_since_s, end))
        self.heard_s += end - self.speaking_since_s
        self.speaking_since_s = None

    def heard_at(self, now_s: float) -> float:
        """Speech heard by `now_s`, counting a segment still open as ended by now (the
        turn detector may be asked before the VAD's end reaches the meter)."""
        if self.speaking_since_s is None:
            return self.heard_s
        return self.heard_s + max(0.0, now_s - self.end_delay_s - self.speaking_since_s)

    def turn_committed(self) -> None:
        self.heard_s = 0.0
        self.speaking_since_s = None
        self.segments.clear()


def end_of_turn_probability(heard_s: float, expected_s: float | None, *, ratio: float) -> float:
    """1.0 once the caller has said `ratio` of what the utterance holds, else below the
    unlikely threshold; 1.0 without an expectation (VAD-only). The VAD's spans run short
    of the utterance's own segments, and vary: measured 0.75-0.88 of them at real ends,
    0.32-0.44 at a mid-sentence pause or between digit groups; the default 0.6 sits
    between."""
    if expected_s is None or expected_s <= 0:
        return 1.0
    if heard_s >= ratio * expected_s:
        return 1.0
    return max(0.0, min(heard_s / expected_s, 0.99 * UNLIKELY_THRESHOLD))


class ScriptedTurnDetector:
    """livekit-agents' `_TurnDetector` protocol over a `SpeechMeter` and the script.

    `expected_s(turn)` gives the utterance's speech for a turn index; `turn_index()`
    the open turn's index (the scripted engines' counter).
    """

    def __init__(
        self,
        meter: SpeechMeter,
        *,
        expected_s: Any,
        turn_index: Any,
        now_s: Any,
        ratio: float = 0.6,
    ) -> None:
        self._now_s = now_s
        self._meter = meter
        self._expected_s = expected_s
        self._turn_index = turn_index
        self._ratio = ratio
        self.predictions: list[float] = []

    @property
    def model(self) -> str:
        return "scripted-turn"

    @property
    def provider(self) -> str:
        return "autortc"

    async def unlikely_threshold(self, language: Any) -> float | None:
        return UNLIKELY_THRESHOLD

    async def supports_language(self, language: Any) -> bool:
        return True

    async def predict_end_of_turn(
        self,
        chat_ctx: Any,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - livekit-agents' protocol
    ) -> float:
        heard = self._meter.heard_at(self._now_s())
        expected = self._expected_s(self._turn_index())
        p = end_of_turn_probability(heard, expected, ratio=self._ratio)
        self.predictions.append(p)
        logger.info(
            "turn model",
            extra={"heard_s": round(heard, 3), "expected_s": expected, "p_end": round(p, 3)},
        )
        return p
