"""`ToneEngine`: a deterministic stand-in TTS for tests (pure numpy, no I/O).

Each syllable of the text becomes one tone burst whose pitch is a stable hash of the
syllable, so the same text always gives the same samples, on any machine, and
different syllables sound different:

- a CJK character is one syllable; a Latin word has one syllable per vowel group
  ("hello" -> "he", "llo"; a word with no vowel, or a number, is one syllable);
- a burst is `SYLLABLE_MS` long: two partials (`f1` 180-770 Hz, `f2` 900-2480 Hz,
  both from the syllable's SHA-256) under raised-cosine ramps of `RAMP_MS`;
- whitespace adds `SPACE_GAP_MS` of silence, punctuation `PUNCT_GAP_MS`; other
  characters are silent. Leading gaps are dropped, trailing ones kept.

`stream()` yields one chunk per syllable (its burst and the silence after it);
the chunks concatenate to exactly `synthesize()`'s output.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from agent.tts_engines import check_language
from agent.tts_regress_registry import StreamTolerance

SAMPLE_RATE_HZ = 48_000
SYLLABLE_MS = 120
RAMP_MS = 10
SPACE_GAP_MS = 40
PUNCT_GAP_MS = 200
AMPLITUDE = 0.3  # of full scale, for the sum of both partials
F1_LOW_HZ, F1_STEP_HZ, F1_STEPS = 180, 10, 60
F2_LOW_HZ, F2_STEP_HZ, F2_STEPS = 900, 20, 80

_TOKEN = re.compile(
    r"(?P<cjk>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])"
    r"|(?P<word>(?:(?![\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])[^\W_])+)"
    r"|(?P<space>\s+)"
    r"|(?P<punct>[^\w\s])"
)
_VOWEL_GROUP = re.compile(r"[^aeiouy]*[aeiouy]+", re.IGNORECASE)


@dataclass(frozen=True)
class Burst:
    syllable: str


@dataclass(frozen=True)
class Gap:
    ms: int


def syllables_of_word(word: str) -> list[str]:
    """A Latin word's syllables, one per vowel group; trailing consonants join the last."""
    parts = _VOWEL_GROUP.findall(word)
    if not parts:
        return [word]
    tail = word[sum(len(p) for p in parts) :]
    return [*parts[:-1], parts[-1] + tail]


def plan(text: str) -> list[Burst | Gap]:
    """The text as bursts and gaps, in order (leading gaps dropped)."""
    out: list[Burst | Gap] = []
    for m in _TOKEN.finditer(text):
        if m.group("cjk"):
            out.append(Burst(m.group("cjk")))
        elif m.group("word"):
            out.extend(Burst(s) for s in syllables_of_word(m.group("word")))
        elif out:
            out.append(Gap(SPACE_GAP_MS if m.group("space") else PUNCT_GAP_MS))
    return out


def partials_hz(syllable: str) -> tuple[int, int]:
    """The burst's two frequencies, from the SHA-256 of the lower-cased syllable."""
    h = hashlib.sha256(syllable.lower().encode("utf-8")).digest()
    f1 = F1_LOW_HZ + F1_STEP_HZ * (int.from_bytes(h[0:2], "big") % F1_STEPS)
    f2 = F2_LOW_HZ + F2_STEP_HZ * (int.from_bytes(h[2:4], "big") % F2_STEPS)
    return f1, f2


def burst(syllable: str, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """One syllable's tone burst: int16, `SYLLABLE_MS` long, raised-cosine ramps."""
    n = sample_rate_hz * SYLLABLE_MS // 1000
    ramp = sample_rate_hz * RAMP_MS // 1000
    t = np.arange(n) / sample_rate_hz
    f1, f2 = partials_hz(syllable)
    wave = (np.sin(2 * np.pi * f1 * t) + 0.5 * np.sin(2 * np.pi * f2 * t)) / 1.5
    env = np.ones(n)
    rise = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    env[:ramp] = rise
    env[n - ramp :] = rise[::-1]
    return np.round(wave * env * AMPLITUDE * 32767).astype(np.int16)


class ToneEngine:
    """A `TtsEngine` of tone bursts (see the module docstring). Cheap; no state."""

    name = "tone"
    version = "tone-1"
    languages: tuple[str, ...] = ("en", "zh")

    def __init__(self, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> None:
        self.sample_rate_hz = sample_rate_hz

    def synthesize(self, text: str, *, language: str) -> np.ndarray:
        chunks = list(self.stream(text, language=language))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def stream(self, text: str, *, language: str) -> Iterator[np.ndarray]:
        check_language(self, language)
        return self._chunks(plan(text))

    def stream_tolerance(self, text: str, *, language: str) -> StreamTolerance:
        """What tts-regress holds the stream to: `synthesize` is the stream joined."""
        return StreamTolerance(0, "bit for bit: the offline output is the stream's chunks joined")

    def _chunks(self, items: list[Burst | Gap]) -> Iterator[np.ndarray]:
        pending: list[np.ndarray] = []  # one burst and the gaps after it
        for item in items:
            if isinstance(item, Burst):
                if pending:
                    yield np.concatenate(pending)
                pending = [burst(item.syllable, sample_rate_hz=self.sample_rate_hz)]
            else:
                pending.append(np.zeros(self.sample_rate_hz * item.ms // 1000, dtype=np.int16))
        if pending:
            yield np.concatenate(pending)
