"""A streaming LLM for the reference agent that talks to any OpenAI-compatible server.

`OpenAICompatLLM` posts the chat context to `{base_url}/chat/completions` with
`"stream": true` (vLLM, OpenAI, llama.cpp server, ...) and turns the server-sent events
into `llm.ChatChunk`s. Tools are not forwarded: the reference agent has none.

Timing, on the injected clock (`time.monotonic_ns()` in production):

- `llm_request` is marked just before the request is sent; when a `lane` factory is
  given (the agent's GPU fast lane, `GpuLanes.fast`), just before the lane is asked for,
  so a wait for the engine counts in the time to first token;
- `llm_first_token` is marked when the first non-empty content delta arrives;
- `last_ttft_ms` (on the LLM and `ttft_ms` on the stream) is their difference, and
  `last_lane_wait_ms` the part of it spent waiting for the lane. The lane is held from
  sending until the first token (or the end of a reply with no content).

The API key never leaves `OpenAICompatSettings.headers()`: the settings' repr and str,
log lines and error messages show it as `***`.

Errors enter livekit-agents' hierarchy here: a refused or broken connection and a
malformed stream are `APIConnectionError` (a timeout `APITimeoutError`), an HTTP status
>= 400 is `APIStatusError` with that status.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import logging
import math
import os
import re
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from livekit.agents import APIConnectionError, APIStatusError, APITimeoutError, llm
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)

from autortc.clock import MONOTONIC, Clock
from autortc.errors import InputError

logger = logging.getLogger(__name__)

TraceMark = Callable[[str, int], None]
LaneFactory = Callable[[str], contextlib.AbstractAsyncContextManager[object]]

REDACTED = "***"
LANE_NAME = "llm"
ENV_BASE_URL = "AUTORTC_LLM_BASE_URL"
ENV_MODEL = "AUTORTC_LLM_MODEL"
ENV_API_KEY = "AUTORTC_LLM_API_KEY"
ENV_API_KEY_FALLBACK = "OPENAI_API_KEY"
_ERROR_BODY_MAX_BYTES = 4096
_ERROR_DETAIL_MAX_CHARS = 300


def redact(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` replaced by `***`."""
    return text.replace(secret, REDACTED) if secret else text


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _has_space(text: str) -> bool:
    return any(c.isspace() for c in text)


def _invalid(field: str, problem: str) -> InputError:
    return InputError(f"LLM setting '{field}': {problem}")


@dataclass(frozen=True, repr=False)
class OpenAICompatSettings:
    """Where and how to ask for completions. Validates itself (`InputError` naming the field)."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 30.0
    temperature: float | None = None
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        url = self.base_url.strip() if isinstance(self.base_url, str) else ""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or _has_space(url):
            raise _invalid(
                "base_url", f"must be an http(s) URL such as http://127.0.0.1:8000/v1, got {url!r}"
            )
        object.__setattr__(self, "base_url", url.rstrip("/"))
        if not isinstance(self.model, str) or not self.model.strip():
            raise _invalid("model", "must name the served model (e.g. the name vLLM serves)")
        key = self.api_key
        if key is not None and (not isinstance(key, str) or not key or _has_space(key)):
            raise _invalid(
                "api_key", f"must be non-empty text with no whitespace (value {REDACTED})"
            )
        if not (_is_number(self.timeout_s) and self.timeout_s > 0):
            raise _invalid("timeout_s", f"must be a number of seconds > 0, got {self.timeout_s!r}")
        t = self.temperature
        if t is not None and not (_is_number(t) and 0 <= t <= 2):
            raise _invalid("temperature", f"must be between 0 and 2, got {t!r}")
        n = self.max_tokens
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise _invalid("max_tokens", f"must be an integer >= 1, got {n!r}")

    def __repr__(self) -> str:
        key = None if self.api_key is None else REDACTED
        return (
            f"OpenAICompatSettings(base_url={self.base_url!r}, model={self.model!r}, "
            f"api_key={key!r}, timeout_s={self.timeout_s!r}, "
            f"temperature={self.temperature!r}, max_tokens={self.max_tokens!r})"
        )

    __str__ = __repr__

    @property
    def chat_url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def headers(self) -> dict[str, str]:
        """The request headers; `Authorization: Bearer` only when a key is set."""
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OpenAICompatSettings:
        """Settings from AUTORTC_LLM_BASE_URL, AUTORTC_LLM_MODEL and AUTORTC_LLM_API_KEY
        (else OPENAI_API_KEY; unset or empty means no key)."""
        env = os.environ if environ is None else environ
        base_url = env.get(ENV_BASE_URL, "").strip()
        if not base_url:
            raise _invalid("base_url", f"{ENV_BASE_URL} is not set (e.g. http://127.0.0.1:8000/v1)")
        model = env.get(ENV_MODEL, "").strip()
        if not model:
            raise _invalid("model", f"{ENV_MODEL} is not set (the served model's name)")
        key = env.get(ENV_API_KEY, "").strip() or env.get(ENV_API_KEY_FALLBACK, "").strip()
        return cls(base_url=base_url, model=model, api_key=key or None)

    def request_body(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        return body


def chat_messages(chat_ctx: llm.ChatContext) -> list[dict[str, Any]]:
    """The chat context as OpenAI chat messages (`developer` sent as `system`, which every
    OpenAI-compatible server accepts)."""
    messages, _ = chat_ctx.to_provider_format("openai")
    for message in messages:
        if message.get("role") == "developer":
            message["role"] = "system"
    return messages


class OpenAICompatLLM(llm.LLM[None]):
    """Streams replies from an OpenAI-compatible `/chat/completions` endpoint."""

    def __init__(
        self,
        settings: OpenAICompatSettings,
        *,
        trace_mark: TraceMark | None = None,
        lane: LaneFactory | None = None,
        clock: Clock = MONOTONIC,
        http_session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self._trace_mark = trace_mark
        self._lane = lane
        self._clock = clock
        self._http_session = http_session
        self._owns_session = http_session is None
        self.requests = 0
        self.last_ttft_ms: float | None = None
        self.last_lane_wait_ms: float | None = None

    def __repr__(self) -> str:
        return f"OpenAICompatLLM({self.settings!r})"

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def provider(self) -> str:
        return "openai-compatible"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> OpenAICompatLLMStream:
        return OpenAICompatLLMStream(
            self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
        )

    async def aclose(self) -> None:
        """Close the HTTP session this LLM opened (idempotent; a given one is left open)."""
        try:
            await super().aclose()
        finally:
            session, self._http_session = self._http_session, None
            if session is not None and self._owns_session:
                await session.close()

    def _session(self) -> aiohttp.ClientSession:
        if self._http_session is None:
            t = self.settings.timeout_s
            self._http_session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, connect=t, sock_read=t)
            )
            self._owns_session = True
        return self._http_session

    def _mark(self, point: str) -> int:
        t_ns = self._clock.now_ns()
        if self._trace_mark is not None:
            self._trace_mark(point, t_ns)
        return t_ns


class OpenAICompatLLMStream(llm.LLMStream):
    """One streamed reply. `ttft_ms` is its time to first token once that has arrived."""

    def __init__(
        self,
        owner: OpenAICompatLLM,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(owner, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._owner = owner
        self._retry_on_chunk_sent = False  # a retry after text went out would repeat it
        self.ttft_ms: float | None = None

    async def _run(self) -> None:
        owner, s = self._owner, self._owner.settings
        body = s.request_body(chat_messages(self._chat_ctx))
        session = owner._session()
        owner.requests += 1
        owner.last_ttft_ms = owner.last_lane_wait_ms = None  # never a previous request's
        async with contextlib.AsyncExitStack() as lane:
            t_request_ns = owner._mark("llm_request")
            if owner._lane is not None:
                await lane.enter_async_context(owner._lane(LANE_NAME))
                owner.last_lane_wait_ms = (owner._clock.now_ns() - t_request_ns) / 1e6
            logger.debug(
                "llm request",
                extra={
                    "llm_url": s.chat_url,
                    "llm_model": s.model,
                    "n_messages": len(body["messages"]),
                },
            )
            first = True
            async with contextlib.aclosing(self._deltas(session, body)) as deltas:
                async for chunk_id, content in deltas:
                    if first:
                        first = False
                        ttft_ms = (owner._mark("llm_first_token") - t_request_ns) / 1e6
                        self.ttft_ms = owner.last_ttft_ms = ttft_ms
                        logger.debug("llm first token", extra={"ttft_ms": ttft_ms})
                        await lane.aclose()  # the fast lane is for the time to first token
                    self._event_ch.send_nowait(
                        llm.ChatChunk(
                            id=chunk_id, delta=llm.ChoiceDelta(role="assistant", content=content)
                        )
                    )

    async def _deltas(
        self, session: aiohttp.ClientSession, body: dict[str, Any]
    ) -> AsyncGenerator[tuple[str, str], None]:
        """(chunk id, text) for each non-empty content delta, until `[DONE]` or the end."""
        s = self._owner.settings
        parser = SseParser()
        finished = False
        fallback_id = uuid.uuid4().hex[:12]
        try:
            async with session.post(s.chat_url, json=body, headers=s.headers()) as resp:
                if resp.status >= 400:
                    raise await _status_error(resp, s)
                async with contextlib.aclosing(_events(resp, parser)) as events:
                    async for data in events:
                        if data.strip() == "[DONE]":
                            return
                        delta = _checked(data, s)
                        finished = finished or delta.finish_reason is not None
                        if delta.content:
                            yield delta.id or fallback_id, delta.content
        except TimeoutError as e:
            raise APITimeoutError(
                f"the LLM server at {s.chat_url} sent nothing for {s.timeout_s} s"
            ) from e
        except aiohttp.ClientConnectorError as e:
            raise APIConnectionError(f"cannot connect to the LLM server at {s.chat_url}") from e
        except aiohttp.ClientError as e:
            raise APIConnectionError(
                f"the connection to the LLM server at {s.chat_url} broke"
            ) from e
        if not finished:
            raise APIConnectionError(
                f"the LLM server at {s.chat_url} ended the stream before [DONE] or a finish_reason"
            )


async def _events(resp: aiohttp.ClientResponse, parser: SseParser) -> AsyncGenerator[str, None]:
    """Each SSE event's data, as the bytes arrive in reads of any size."""
    async for raw in resp.content.iter_any():
        for data in parser.feed(raw):
            yield data
    for data in parser.close():
        yield data


def _checked(data: str, s: OpenAICompatSettings) -> StreamDelta:
    """One event's chunk; a malformed one or an error object raises."""
    try:
        delta = decode_chunk(data)
    except ValueError as e:
        raise APIConnectionError(
            f"the LLM server at {s.chat_url} sent a malformed stream chunk: "
            f"{redact(str(e), s.api_key)}",
            retryable=False,
        ) from None
    if delta.error is not None:
        raise APIStatusError(
            f"the LLM server at {s.chat_url} failed mid-stream: {redact(delta.error, s.api_key)}",
            status_code=delta.error_code or 500,
        )
    return delta


async def _status_error(resp: aiohttp.ClientResponse, s: OpenAICompatSettings) -> APIStatusError:
    try:
        raw = await resp.content.read(_ERROR_BODY_MAX_BYTES)
    except aiohttp.ClientError:
        raw = b""
    text = redact(raw.decode("utf-8", errors="replace"), s.api_key)
    detail = " ".join(_error_detail(text).split())[:_ERROR_DETAIL_MAX_CHARS]
    logger.debug("llm http error", extra={"llm_url": s.chat_url, "http_status": resp.status})
    return APIStatusError(
        f"the LLM server at {s.chat_url} answered HTTP {resp.status}: {detail or resp.reason}",
        status_code=resp.status,
        request_id=resp.headers.get("x-request-id"),
        body=text or None,
    )


def _error_detail(text: str) -> str:
    """The message of an OpenAI/vLLM error body, else the body itself."""
    try:
        body = json.loads(text)
    except ValueError:
        return text
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str):
            return err
    return text


# -- server-sent events ------------------------------------------------------------------
_LINE_END = re.compile(r"\r\n|\r|\n")


class SseParser:
    """Incremental server-sent-events decoder: `feed` bytes as they arrive, in reads of
    any size (a line, a UTF-8 character or a CRLF may be split), and get back the data
    of each complete event. Comment lines (`: keepalive`) and the `event`, `id` and
    `retry` fields are dropped; the lines of a multi-line `data` are joined with newlines."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._data: list[str] = []

    def feed(self, raw: bytes) -> list[str]:
        self._buf += self._decoder.decode(raw)
        return self._drain(final=False)

    def close(self) -> list[str]:
        """The events still pending at the end of the stream (a last one without its
        blank line is delivered too)."""
        self._buf += self._decoder.decode(b"", final=True)
        events = self._drain(final=True)
        if self._buf:
            self._line(self._buf, events)
            self._buf = ""
        self._line("", events)
        return events

    def _drain(self, *, final: bool) -> list[str]:
        events: list[str] = []
        pos = 0
        while (m := _LINE_END.search(self._buf, pos)) is not None:
            if m.group() == "\r" and m.end() == len(self._buf) and not final:
                break  # a CR at the end of a read may be the first half of a CRLF
            self._line(self._buf[pos : m.start()], events)
            pos = m.end()
        self._buf = self._buf[pos:]
        return events

    def _line(self, line: str, events: list[str]) -> None:
        if not line:
            if self._data:
                events.append("\n".join(self._data))
                self._data = []
            return
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)


@dataclass(frozen=True)
class StreamDelta:
    """What one `chat.completion.chunk` carries for the first choice."""

    id: str
    content: str = ""
    finish_reason: str | None = None
    error: str | None = None
    error_code: int | None = None


def decode_chunk(data: str) -> StreamDelta:
    """One event's JSON as a `StreamDelta`; ValueError when it is not a JSON object.
    A chunk with no choices (a usage chunk) has no content; an `{"error": ...}` object
    (a server failing mid-stream) sets `error`."""
    try:
        obj = json.loads(data)
    except ValueError as e:
        raise ValueError(f"not JSON ({e.args[0]}): {data[:80]!r}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"not a JSON object: {data[:80]!r}")
    chunk_id = obj.get("id") if isinstance(obj.get("id"), str) else ""
    if "error" in obj:
        err = obj["error"]
        message = err.get("message") if isinstance(err, dict) else err
        code = err.get("code") if isinstance(err, dict) else None
        return StreamDelta(
            id=str(chunk_id),
            error=str(message),
            error_code=code if isinstance(code, int) and code >= 400 else None,
        )
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return StreamDelta(id=str(chunk_id))
    choice = choices[0]
    delta = choice.get("delta")
    content = delta.get("content") if isinstance(delta, dict) else None
    finish = choice.get("finish_reason")
    return StreamDelta(
        id=str(chunk_id),
        content=content if isinstance(content, str) else "",
        finish_reason=finish if isinstance(finish, str) else None,
    )
