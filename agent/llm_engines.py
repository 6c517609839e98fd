"""The reference agent's LLM engines: one registry of names, one factory.

- ``scripted`` (default): `agent.scripted.ScriptedLLM` streams the room script's reply
  for turn k, with a configurable first-token delay and inter-token delay.
- ``openai``: `agent.llm_openai.OpenAICompatLLM` streams from any OpenAI-compatible
  `/chat/completions` endpoint (vLLM, llama.cpp's server, OpenAI). Its base URL and
  model come from the agent's settings (`--llm-base-url`, `--llm-model`) or else the
  environment (AUTORTC_LLM_BASE_URL, AUTORTC_LLM_MODEL); the key only from the
  environment (AUTORTC_LLM_API_KEY, else OPENAI_API_KEY), and it is redacted in every
  repr, log line and error. Its request runs in the GPU fast lane (agent/gpu_lanes.py)
  until the first token, so `fast_lane_ttft_ms` includes any wait for the engine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from livekit.agents import llm

from agent.llm_openai import ENV_BASE_URL, ENV_MODEL, LaneFactory, OpenAICompatLLM
from agent.llm_openai import OpenAICompatSettings as OpenAICompatSettings
from agent.scripted import ScriptedLLM, ScriptState
from autortc.errors import InputError

LLM_ENGINES: tuple[str, ...] = ("scripted", "openai")

TraceMark = Callable[[str, int], None]


@dataclass(frozen=True)
class LlmChoice:
    """Which LLM the agent runs, and how (validated when the worker starts)."""

    name: str = "scripted"
    base_url: str | None = None  # openai: else $AUTORTC_LLM_BASE_URL
    model: str | None = None  # openai: else $AUTORTC_LLM_MODEL

    def __post_init__(self) -> None:
        if self.name not in LLM_ENGINES:
            raise InputError(
                f"unknown LLM engine '{self.name}': choose one of {', '.join(LLM_ENGINES)}"
            )

    def openai_settings(self, environ: Mapping[str, str] | None = None) -> OpenAICompatSettings:
        """The endpoint's settings: ours first, the environment for the rest."""
        env = dict(os.environ if environ is None else environ)
        if self.base_url:
            env[ENV_BASE_URL] = self.base_url
        if self.model:
            env[ENV_MODEL] = self.model
        return OpenAICompatSettings.from_env(env)


def make_llm(
    choice: LlmChoice,
    script: ScriptState,
    *,
    trace_mark: TraceMark | None = None,
    lane: LaneFactory | None = None,
    first_token_delay_ms: float = 0.0,
    inter_token_delay_ms: float = 0.0,
    silent: bool = False,
) -> llm.LLM[None]:
    """The LLM for one room. The scripted one's delays and `silent` (the no_reply
    defect) shape its stream; the OpenAI-compatible one answers what its server says."""
    if choice.name == "openai":
        return OpenAICompatLLM(choice.openai_settings(), trace_mark=trace_mark, lane=lane)
    return ScriptedLLM(
        script,
        first_token_delay_ms=first_token_delay_ms,
        inter_token_delay_ms=inter_token_delay_ms,
        trace_mark=trace_mark,
        silent=silent,
    )
