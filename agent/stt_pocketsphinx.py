"""An offline recogniser for the reference agent: pocketsphinx (CMU Sphinx), English only.

`PocketsphinxSTT` is a non-streaming livekit-agents STT. In an `AgentSession` with a VAD,
livekit-agents wraps it in `stt.StreamAdapter` (voice/agent.py, `Agent.default.stt_node`):
each VAD speech segment is merged into one buffer and passed to `recognize`, and a
non-empty transcript comes back as a FINAL_TRANSCRIPT (an empty one is dropped there).

Model: the one inside the `pocketsphinx` wheel, `Decoder()`'s default: the en-us
continuous acoustic model, the trigram LM `en-us.lm.bin` and `cmudict-en-us.dict` (the
same as autortc.quality.heard). Nothing is downloaded; it needs no network.

Audio path: the frames are merged, downmixed to mono, resampled to 16 kHz (scipy
polyphase, `autortc.espeak.resample_pcm`) and given heard.py's fixed noise floor
(pocketsphinx's cepstral-mean normalisation breaks on runs of exact zeros); the feature
state is reset before each segment, so a transcript is a pure function of its audio.

Cost (measured on espeak-ng speech, one core): building the Decoder takes 0.25-0.5 s
(once per instance: lazily, or early through `prewarm`); decoding takes about 0.2-0.26 s
per second of audio with the full vocabulary, and 0.02-0.18 s with `vocabulary` (7 to 25
words: it grows with the word count). Decoding runs in a worker thread; one instance
decodes one segment at a time (a lock), so overlapping recognitions queue.

`vocabulary`: when given, only those words can be heard (a JSGF loop: any of them, any
order, any count; words the dictionary lacks are left out). That ranks audio paths
against a known script; it does not measure ASR accuracy.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import threading
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents import stt, utils
from livekit.agents.language import LanguageCode
from livekit.agents.types import NOT_GIVEN, APIConnectOptions, NotGivenOr

from autortc.errors import InfraError, InputError, UsageError, map_exceptions
from autortc.espeak import resample_pcm
from autortc.quality.heard import (
    INSTALL_HINT,
    NOISE_FLOOR_RMS_I16,
    NOISE_SEED,
    RECOGNISER_SAMPLE_RATE_HZ,
    normalise,
)

logger = logging.getLogger(__name__)

MODEL = "pocketsphinx/en-us"
_SEARCH = "vocabulary"
_LANGUAGE = LanguageCode("en")


def _vocabulary_words(vocabulary: Sequence[str] | None) -> tuple[str, ...] | None:
    """The normalised, sorted, unique words of `vocabulary` (entries may be phrases)."""
    if vocabulary is None:
        return None
    words = tuple(sorted({w for entry in vocabulary for w in normalise(entry).split()}))
    if not words:
        raise InputError("pocketsphinx vocabulary is empty: give at least one word, or None")
    return words


def _to_pcm16k(frame: rtc.AudioFrame) -> np.ndarray:
    """One merged rtc.AudioFrame -> mono int16 at 16 kHz with the fixed noise floor."""
    channels = max(int(frame.num_channels), 1)
    x = np.frombuffer(frame.data, dtype=np.int16).reshape(-1, channels)
    mono = np.round(x.astype(np.float64).mean(axis=1)).astype(np.int16)
    y = resample_pcm(mono, int(frame.sample_rate), RECOGNISER_SAMPLE_RATE_HZ).astype(np.float64)
    y += np.random.default_rng(NOISE_SEED).normal(0.0, NOISE_FLOOR_RMS_I16, y.shape[0])
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def _is_word(token: str) -> bool:
    """False for pocketsphinx's fillers: <s>, </s>, <sil>, [NOISE] and the like."""
    return bool(token) and token[0] not in "<["


class PocketsphinxSTT(stt.STT[None]):
    """Non-streaming offline STT: one VAD segment in, one final English transcript out.

    `confidence` is the mean posterior probability of the recognised words (0.0 for an
    empty transcript). Silent or empty audio gives an empty transcript, not an error.
    English only: the `language` asked for is ignored and "en" reported. Local CPU work
    has no connection to time out, so `conn_options` is not applied.
    """

    def __init__(self, *, vocabulary: Sequence[str] | None = None) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        if importlib.util.find_spec("pocketsphinx") is None:
            raise InputError(f"the pocketsphinx STT needs pocketsphinx ({INSTALL_HINT})")
        self._words = _vocabulary_words(vocabulary)
        self._lock = threading.Lock()  # guards the decoder: building it and every decode
        self._decoder: Any = None
        self._warming: asyncio.Future[Any] | None = None
        self.recognitions = 0

    @property
    def model(self) -> str:
        return MODEL

    @property
    def provider(self) -> str:
        return "pocketsphinx"

    @property
    def vocabulary(self) -> tuple[str, ...] | None:
        """The words a transcript is restricted to (normalised), or None for all."""
        return self._words

    def prewarm(self) -> None:
        """Start building the decoder in a worker thread (the session calls this early)."""
        if self._decoder is not None or self._warming is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._ensure_decoder()
            return
        self._warming = loop.run_in_executor(None, self._ensure_decoder)
        # a failure is raised again by the first recognition; here it is only retrieved
        self._warming.add_done_callback(lambda f: None if f.cancelled() else f.exception())

    async def aclose(self) -> None:
        """Drop the decoder (after a build or decode in progress). Idempotent."""
        warming, self._warming = self._warming, None
        if warming is not None:
            await asyncio.wait([warming])  # its failure, if any, was retrieved in prewarm
        await asyncio.to_thread(self._drop_decoder)

    def _drop_decoder(self) -> None:
        with self._lock:
            self._decoder = None

    def _ensure_decoder(self) -> Any:
        with self._lock:
            return self._decoder_locked()

    def _decoder_locked(self) -> Any:
        if self._decoder is not None:
            return self._decoder
        import pocketsphinx

        with map_exceptions(InfraError, "pocketsphinx decoder", catch=(RuntimeError, ValueError)):
            decoder = pocketsphinx.Decoder(loglevel="FATAL")
            if self._words is not None:
                known = [w for w in self._words if decoder.lookup_word(w) is not None]
                if not known:
                    raise InputError(
                        f"pocketsphinx vocabulary: no word is in its dictionary: {self._words}"
                    )
                if len(known) < len(self._words):
                    missing = sorted(set(self._words) - set(known))
                    logger.warning("vocabulary words not in dictionary", extra={"words": missing})
                grammar = "#JSGF V1.0;\ngrammar g;\npublic <s> = ( " + " | ".join(known) + " )* ;\n"
                decoder.add_jsgf_string(_SEARCH, grammar)
                decoder.activate_search(_SEARCH)
        self._decoder = decoder
        return decoder

    def _transcribe(self, frame: rtc.AudioFrame) -> tuple[str, float]:
        """Decode one merged frame: (lowercased transcript, confidence). Runs in a thread."""
        pcm = _to_pcm16k(frame)
        if pcm.size == 0:
            return "", 0.0
        with self._lock:
            decoder = self._decoder_locked()
            with map_exceptions(
                InfraError, "pocketsphinx decode", catch=(RuntimeError, ValueError)
            ):
                decoder.reinit_feat()  # fresh cepstral mean: nothing carried from the last segment
                decoder.start_utt()
                decoder.process_raw(pcm.tobytes(), False, True)
                decoder.end_utt()
                hyp = decoder.hyp()
                text = "" if hyp is None else " ".join(str(hyp.hypstr).lower().split())
                probs = (
                    [float(s.prob) for s in decoder.seg() if _is_word(str(s.word))] if text else []
                )
        return text, float(np.mean(probs)) if probs else 0.0

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        if isinstance(buffer, list) and not buffer:
            text, confidence = "", 0.0
        else:
            with map_exceptions(UsageError, "pocketsphinx STT: frames do not merge"):
                frame = utils.merge_frames(buffer)
            text, confidence = await asyncio.to_thread(self._transcribe, frame)
        self.recognitions += 1
        logger.debug("pocketsphinx transcript", extra={"words": len(text.split())})
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=uuid.uuid4().hex[:12],
            alternatives=[stt.SpeechData(language=_LANGUAGE, text=text, confidence=confidence)],
        )
