"""Scripted STT and LLM for the reference agent: the room metadata is the script.

The orchestrator's room metadata (autortc.protocol.RoomMeta) carries, per case,
what the user says and what the agent replies:

- `agent.utterance_text` / `agent.reply_text`: the first user turn and its reply;
- optional `agent.utterance_texts` / `agent.reply_texts` (RoomMeta.extra): one
  per user turn. Turn k (0-based count of committed user turns, barge-in turns
  included) uses `*_texts[k]` when present, else the single text.

`ScriptedLLM` learns k from the chat context it is asked to continue (k = number
of user messages - 1) and publishes it on the shared `ScriptState`;
`ScriptedSTT` reads it there (a transcript for turn k is made before turn k is
committed, so its index is the number of turns committed so far). Neither one
looks at the audio: they are timing-faithful stand-ins, not recognisers.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import llm, stt, utils
from livekit.agents.language import LanguageCode
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)

from autortc.protocol import RoomMeta

logger = logging.getLogger(__name__)

TraceMark = Callable[[str, int], None]

DEFAULT_UTTERANCE_TEXT = "Hello there."
DEFAULT_REPLY_TEXT = "Hello. This is the AutoRTC reference agent."
_TOKEN_RE = re.compile(r"\S+\s*|\s+")


def _pick(texts: tuple[str, ...], k: int, fallback: str) -> str:
    if 0 <= k < len(texts) and texts[k].strip():
        return texts[k]
    return fallback


@dataclass
class ScriptState:
    """Per-room script and turn counter shared by the scripted engines."""

    meta: RoomMeta | None
    committed_turns: int = 0
    llm_requests: list[int] = field(default_factory=list)  # turn index of each request

    def utterance_text(self, k: int) -> str:
        if self.meta is None:
            return DEFAULT_UTTERANCE_TEXT
        fallback = self.meta.utterance_text or DEFAULT_UTTERANCE_TEXT
        return _pick(self.meta.utterance_texts, k, fallback)

    def expected_speech_s(self, k: int) -> float | None:
        """How much speech turn k's utterance holds (the turn model's script), if known."""
        if self.meta is None or not 0 <= k < len(self.meta.utterance_speech_ms):
            return None
        return self.meta.utterance_speech_ms[k] / 1000.0

    def reply_text(self, k: int) -> str:
        if self.meta is None:
            return DEFAULT_REPLY_TEXT
        fallback = self.meta.reply_text or DEFAULT_REPLY_TEXT
        return _pick(self.meta.reply_texts, k, fallback)


def split_tokens(text: str) -> list[str]:
    """Word-sized chunks with their trailing whitespace; joining them gives `text`."""
    return _TOKEN_RE.findall(text)


class ScriptedSTT(stt.STT[None]):
    """Non-streaming STT: each VAD speech segment is "recognised" as turn k's utterance.

    The session wraps it in livekit-agents' `stt.StreamAdapter` with its VAD.
    """

    def __init__(self, script: ScriptState, *, language: str = "en") -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        self._script = script
        self._language = language
        self.recognitions = 0

    @property
    def model(self) -> str:
        return "scripted"

    @property
    def provider(self) -> str:
        return "autortc"

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        k = self._script.committed_turns
        text = self._script.utterance_text(k)
        self.recognitions += 1
        logger.debug("scripted transcript", extra={"turn_index": k})
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=uuid.uuid4().hex[:12],
            alternatives=[
                stt.SpeechData(language=LanguageCode(self._language), text=text, confidence=1.0)
            ],
        )


class ScriptedLLM(llm.LLM[None]):
    """Streaming LLM: yields turn k's reply text in word-sized chunks.

    `first_token_delay_ms` and `inter_token_delay_ms` shape the stream (default 0).
    `trace_mark` receives `llm_request` and `llm_first_token`.
    """

    def __init__(
        self,
        script: ScriptState,
        *,
        first_token_delay_ms: float = 0.0,
        inter_token_delay_ms: float = 0.0,
        trace_mark: TraceMark | None = None,
        silent: bool = False,
    ) -> None:
        super().__init__()
        self.silent = silent  # the no_reply defect: the model answers with nothing
        self._script = script
        self.first_token_delay_ms = first_token_delay_ms
        self.inter_token_delay_ms = inter_token_delay_ms
        self._trace_mark = trace_mark

    @property
    def model(self) -> str:
        return "scripted"

    @property
    def provider(self) -> str:
        return "autortc"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> ScriptedLLMStream:
        user_turns = sum(
            1
            for item in chat_ctx.items
            if isinstance(item, llm.ChatMessage) and item.role == "user"
        )
        k = max(user_turns - 1, 0)
        self._script.committed_turns = max(self._script.committed_turns, k + 1)
        self._script.llm_requests.append(k)
        if self._trace_mark is not None:
            self._trace_mark("llm_request", time.monotonic_ns())
        return ScriptedLLMStream(
            self,
            text=self._script.reply_text(k),
            chat_ctx=chat_ctx,
            tools=tools or [],
            conn_options=conn_options,
        )


class ScriptedLLMStream(llm.LLMStream):
    def __init__(
        self,
        scripted: ScriptedLLM,
        *,
        text: str,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(scripted, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._scripted = scripted
        self._text = text

    async def _run(self) -> None:
        request_id = uuid.uuid4().hex[:12]
        if self._scripted.first_token_delay_ms > 0:
            await asyncio.sleep(self._scripted.first_token_delay_ms / 1000.0)
        tokens = [] if self._scripted.silent else split_tokens(self._text)
        for i, token in enumerate(tokens):
            if i > 0 and self._scripted.inter_token_delay_ms > 0:
                await asyncio.sleep(self._scripted.inter_token_delay_ms / 1000.0)
            if i == 0 and self._scripted._trace_mark is not None:
                self._scripted._trace_mark("llm_first_token", time.monotonic_ns())
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id=request_id,
                    delta=llm.ChoiceDelta(role="assistant", content=token),
                )
            )
