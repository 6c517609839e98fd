"""What the caller heard: an offline transcript of a reply's audio, scored against its text.

Recogniser: pocketsphinx (CMU Sphinx) with the model that ships inside its wheel and is its
`Decoder()` default: the en-us continuous acoustic model, the trigram LM `en-us.lm.bin` and
the dictionary `cmudict-en-us.dict` (`pocketsphinx.get_model_path()`; pocketsphinx 5.1.1's
model folder holds `en-us/` only: en-us, cmudict-en-us.dict, en-us.lm.bin,
en-us-phone.lm.bin). Nothing is downloaded. English only.

Definitions:

- ``transcribe``: the samples (mono, float in [-1, 1] or int16) are resampled to 16 kHz by
  scipy's polyphase filter (up/down factors reduced by their gcd), scaled to int16, given a
  fixed noise floor (white Gaussian, `NOISE_FLOOR_RMS_I16` = 100 LSB rms, about -50 dBFS,
  drawn from a generator seeded with `NOISE_SEED`) and decoded as one utterance. The noise
  floor is there because pocketsphinx's cepstral-mean normalisation breaks on digital
  silence (runs of exact zeros, as synthesised or DTX-filled audio has): on espeak-ng
  speech the mean WER of 12 sentences went from 0.85 without it to 0.3-0.4 with it. The
  feature state (cepstral mean) is re-initialised before every utterance, so a transcript
  is a pure function of the samples: the same audio gives the same words, whatever was
  decoded before. The hypothesis is lowercased; '' when there is none.
- ``normalise``: applied to both sides before scoring. Lowercase; thousands separators
  dropped ("1,500" -> "1500"); each standalone run of digits that is an integer 0-9999 is
  spelled out in American English without "and" (42 -> "forty two", 1999 -> "one thousand
  nine hundred ninety nine"; longer runs stay digits); hyphens and every other punctuation
  mark become spaces, except apostrophes between two word characters ("don't", "o'clock");
  typographic apostrophes count as "'"; whitespace collapsed.
- ``error_rate``: word error rate (substitutions + deletions + insertions) / reference
  words, by jiwer, on the normalised texts. Unbounded above (insertions). None when the
  normalised reference is empty; 1.0 when the normalised hypothesis is empty.
- ``score_reply``: ``wer_post`` = error_rate(text, transcribe(post)); ``wer_pre`` the same
  for `pre` when given. Both transcripts are restricted to the reply's own words
  (`RESTRICTED_VOCABULARY`: a JSGF loop grammar over them, any order, any count; words
  the dictionary lacks are left out and so always count as errors). With the general
  trigram LM the transcript of espeak-ng speech moved by +-0.15 WER between a reply's
  pre_rtc and its lossless copy, as much as 20 % packet loss moved it; restricted, a
  lossless copy scores the same as pre_rtc and lossy_20 about 0.3 worse. The figure
  then ranks degradations: it is not an ASR accuracy; ``wer_delta`` = wer_post - wer_pre (what the path cost in words,
  positive is worse). ``cpu_s`` is the process CPU time (time.process_time) the call took.
"""

from __future__ import annotations

import functools
import itertools
import re
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from math import gcd
from typing import Any

import numpy as np
from scipy.signal import resample_poly

RECOGNISER_SAMPLE_RATE_HZ = 16_000
NOISE_FLOOR_RMS_I16 = 100.0
NOISE_SEED = 0
INSTALL_HINT = "pip install 'autortc[heard]'"
CJK_SKIP_REASON = (
    "no offline Mandarin recogniser ships in a package (pocketsphinx has English only)"
)
_MODEL = "en-us (default acoustic model, en-us.lm.bin, cmudict-en-us.dict)"


def _recogniser_name() -> str:
    try:
        return f"pocketsphinx {metadata.version('pocketsphinx')}, {_MODEL}"
    except metadata.PackageNotFoundError:
        return f"pocketsphinx (not installed), {_MODEL}"


# score_reply restricts what can be heard to the reply's own words: with the general
# trigram LM, pocketsphinx's transcript of espeak-ng speech changed by +-0.15 WER between
# a reply's pre_rtc and its lossless copy, as much as 20 % packet loss moved it; with a
# loop over the reply's words a lossless copy scores 0.0 and lossy_20 about +0.3. The
# figure then ranks degradations: it is not an ASR accuracy.
RESTRICTED_VOCABULARY = True
MAX_REPLY_S = 20.0  # longer replies are skipped, with the reason
RECOGNISER: str = _recogniser_name() + ", vocabulary restricted to each reply's own words"

_LOCK = threading.Lock()
_SEARCH_IDS = itertools.count()
_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEENS = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


@dataclass(frozen=True)
class HeardScore:
    """One reply scored: WERs before/after the path, transcripts, or why it was skipped."""

    wer_pre: float | None
    wer_post: float | None
    wer_delta: float | None
    hyp_pre: str
    hyp_post: str
    skipped: str | None
    cpu_s: float


def available() -> str | None:
    """None when pocketsphinx and jiwer import; otherwise the reason they don't."""
    for name in ("pocketsphinx", "jiwer"):
        try:
            __import__(name)
        except ImportError:
            return f"{name} not installed ({INSTALL_HINT})"
    return None


@functools.lru_cache(maxsize=1)
def _decoder() -> Any:
    """The process's one pocketsphinx Decoder (default en-us model), logging off."""
    import pocketsphinx

    return pocketsphinx.Decoder(loglevel="FATAL")


def _to_i16_16k(samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim > 1:
        x = x.reshape(x.shape[0], -1).mean(axis=1)
    scale = 1.0 if np.issubdtype(x.dtype, np.integer) else 32767.0
    y = np.nan_to_num(x.astype(np.float64) * scale, nan=0.0, posinf=0.0, neginf=0.0)
    if sample_rate_hz != RECOGNISER_SAMPLE_RATE_HZ:
        g = gcd(RECOGNISER_SAMPLE_RATE_HZ, sample_rate_hz)
        y = resample_poly(y, RECOGNISER_SAMPLE_RATE_HZ // g, sample_rate_hz // g)
    y = y + np.random.default_rng(NOISE_SEED).normal(0.0, NOISE_FLOOR_RMS_I16, y.shape[0])
    return np.asarray(np.clip(np.round(y), -32768, 32767).astype(np.int16))


@functools.lru_cache(maxsize=1)
def _restricted_decoder() -> Any:
    """A second Decoder whose searches are vocabulary loops (`_vocabulary_search`)."""
    import pocketsphinx

    return pocketsphinx.Decoder(loglevel="FATAL")


@functools.lru_cache(maxsize=256)
def _vocabulary_search(words: tuple[str, ...]) -> str:
    """A JSGF loop over `words` (any of them, in any order, any number of times) added to
    the restricted decoder; its search name. Words the dictionary lacks are left out."""
    decoder = _restricted_decoder()
    known = [w for w in words if decoder.lookup_word(w) is not None] or ["a"]
    name = f"vocabulary{next(_SEARCH_IDS)}"
    grammar = "#JSGF V1.0;\ngrammar g;\npublic <s> = ( " + " | ".join(known) + " )* ;\n"
    decoder.add_jsgf_string(name, grammar)
    return name


def vocabulary(text: str) -> tuple[str, ...]:
    """The words a reply's transcript is restricted to: its own, normalised."""
    return tuple(sorted(set(normalise(text).split())))


def transcribe(
    samples: np.ndarray, *, sample_rate_hz: int, words: tuple[str, ...] | None = None
) -> str:
    """The words pocketsphinx hears in mono `samples`, lowercased ('' for none); with
    `words`, only those words can be heard (`RESTRICTED_VOCABULARY`)."""
    if sample_rate_hz <= 0:
        raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
    if np.asarray(samples).size == 0:
        return ""
    pcm = _to_i16_16k(samples, sample_rate_hz)
    with _LOCK:
        if words:
            decoder = _restricted_decoder()
            decoder.activate_search(_vocabulary_search(words))
        else:
            decoder = _decoder()
        decoder.reinit_feat()  # fresh cepstral mean: no state carried from the last reply
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), False, True)
        decoder.end_utt()
        hyp = decoder.hyp()
    return str(hyp.hypstr).strip().lower() if hyp is not None else ""


def number_words(n: int) -> str:
    """American English words for 0 <= n <= 9999, no "and" (42 -> "forty two")."""
    if not 0 <= n <= 9999:
        raise ValueError(f"number_words covers 0-9999, got {n}")
    if n < 10:
        return _ONES[n]
    if n < 20:
        return _TEENS[n - 10]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = "" if n % 100 == 0 else " " + number_words(n % 100)
        return f"{_ONES[n // 100]} hundred{rest}"
    rest = "" if n % 1000 == 0 else " " + number_words(n % 1000)
    return f"{_ONES[n // 1000]} thousand{rest}"


def _spell(match: re.Match[str]) -> str:
    digits = match.group(0)
    return f" {number_words(int(digits))} " if len(digits) <= 4 else digits


def normalise(text: str) -> str:
    """Lowercase, numbers 0-9999 spelled out, punctuation and hyphens to spaces."""
    s = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    s = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", s)
    s = re.sub(r"(?<![^\W\d_])\d+(?![^\W\d_])", _spell, s)
    s = re.sub(r"[^\w\s']|_", " ", s)
    s = re.sub(r"(?<!\w)'|'(?!\w)", " ", s)
    return " ".join(s.split())


def is_cjk(text: str) -> bool:
    """True when `text` holds a CJK ideograph (unified, extension A-F, compatibility)."""
    return any(
        0x3400 <= o <= 0x4DBF
        or 0x4E00 <= o <= 0x9FFF
        or 0xF900 <= o <= 0xFAFF
        or 0x20000 <= o <= 0x2FA1F
        for o in map(ord, text)
    )


def error_rate(reference: str, hypothesis: str) -> float | None:
    """WER of `hypothesis` against `reference`, both normalised; None for an empty reference."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return None
    if not hyp:
        return 1.0
    import jiwer

    return float(jiwer.wer(ref, hyp))


def score_reply(
    pre: np.ndarray | None, post: np.ndarray, *, text: str, sample_rate_hz: int
) -> HeardScore:
    """Transcribe `post` (and `pre` when given) and score both against `text`. Never raises
    on bad audio: what cannot be scored comes back with `skipped` saying why."""
    t0 = time.process_time()

    def done(
        skipped: str | None = None,
        wer_pre: float | None = None,
        wer_post: float | None = None,
        hyp_pre: str = "",
        hyp_post: str = "",
    ) -> HeardScore:
        delta = None if wer_pre is None or wer_post is None else wer_post - wer_pre
        cpu_s = time.process_time() - t0
        return HeardScore(wer_pre, wer_post, delta, hyp_pre, hyp_post, skipped, cpu_s)

    if not normalise(text):
        return done("reply text is empty (nothing to score against)")
    if is_cjk(text):
        return done(CJK_SKIP_REASON)
    reason = available()
    if reason is not None:
        return done(reason)
    if sample_rate_hz > 0 and len(post) > MAX_REPLY_S * sample_rate_hz:
        return done(
            f"reply longer than {MAX_REPLY_S:g} s: the restricted search grows with its "
            "length (a 30 s reply took minutes of CPU)"
        )
    words = vocabulary(text) if RESTRICTED_VOCABULARY else None
    try:
        hyp_post = transcribe(post, sample_rate_hz=sample_rate_hz, words=words)
        hyp_pre = "" if pre is None else transcribe(pre, sample_rate_hz=sample_rate_hz, words=words)
    except (ValueError, TypeError, RuntimeError) as exc:
        return done(f"audio could not be transcribed: {type(exc).__name__}: {exc}")
    wer_pre = None if pre is None else error_rate(text, hyp_pre)
    return done(None, wer_pre, error_rate(text, hyp_post), hyp_pre, hyp_post)
