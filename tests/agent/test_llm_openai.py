"""agent/llm_openai.py against agent/fake_llm_server.py: streaming, TTFT, errors, secrets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from livekit.agents import (
    APIConnectionError,
    APIConnectOptions,
    APIStatusError,
    APITimeoutError,
    llm,
)

from agent.fake_llm_server import DEFAULT_MODEL, FakeLlmServer, bpe_like_tokens
from agent.gpu_lanes import GpuLanes
from agent.llm_openai import (
    OpenAICompatLLM,
    OpenAICompatSettings,
    SseParser,
    chat_messages,
    decode_chunk,
)
from autortc.errors import InputError

KEY = "sk-test-5ecr3t-do-not-leak"
NO_RETRY = APIConnectOptions(max_retry=0, retry_interval=0.0)
TTFT_TOLERANCE_MS = 10.0
MS = 1_000_000  # ns


def _ctx(*user_texts: str, system: str = "You are terse.") -> llm.ChatContext:
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content=system)
    for text in user_texts:
        ctx.add_message(role="user", content=text)
    return ctx


def _settings(base_url: str, **kw: object) -> OpenAICompatSettings:
    return OpenAICompatSettings(base_url=base_url, model=DEFAULT_MODEL, **kw)  # type: ignore[arg-type]


async def _reply(
    model: OpenAICompatLLM, ctx: llm.ChatContext, *, into: list[str] | None = None
) -> str:
    """The streamed text; each content delta is also appended to `into` as it arrives."""
    got = [] if into is None else into
    async with model.chat(chat_ctx=ctx, conn_options=NO_RETRY) as stream:
        async for chunk in stream:
            if chunk.delta and chunk.delta.content:
                got.append(chunk.delta.content)
    return "".join(got)


@contextlib.asynccontextmanager
async def _llm(settings: OpenAICompatSettings, **kw: object) -> AsyncIterator[OpenAICompatLLM]:
    model = OpenAICompatLLM(settings, **kw)  # type: ignore[arg-type]
    try:
        yield model
    finally:
        await model.aclose()


# -- streaming ---------------------------------------------------------------------------
async def test_streamed_text_equals_the_servers_reply_and_the_context_is_sent():
    reply = "Sure, the meeting is at 3 pm. Anything else?"
    async with FakeLlmServer(reply=reply) as srv, _llm(_settings(srv.base_url)) as model:
        assert await _reply(model, _ctx("When is the meeting?")) == reply
    (req,) = srv.requests
    assert req.model == DEFAULT_MODEL
    assert req.stream is True
    assert req.messages == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "When is the meeting?"},
    ]
    assert req.has_auth is False  # no key set: no Authorization header at all


async def test_reply_callable_gets_the_last_user_message():
    async with (
        FakeLlmServer(reply=lambda said: f"You said: {said}") as srv,
        _llm(_settings(srv.base_url)) as model,
    ):
        assert await _reply(model, _ctx("one", "two")) == "You said: two"


async def test_bearer_header_is_sent_when_a_key_is_set_and_accepted():
    async with (
        FakeLlmServer(api_key=KEY, reply="ok.") as srv,
        _llm(_settings(srv.base_url, api_key=KEY)) as model,
    ):
        assert await _reply(model, _ctx("hi")) == "ok."
    assert [r.has_auth for r in srv.requests] == [True]


def test_developer_messages_go_out_as_system():
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="developer", content="rules")
    ctx.add_message(role="user", content="hi")
    assert [m["role"] for m in chat_messages(ctx)] == ["system", "user"]


# -- time to first token (real time on loopback) -----------------------------------------
@pytest.mark.realtime
@pytest.mark.parametrize("delay_ms", [150.0, 300.0])
async def test_ttft_matches_the_servers_first_token_delay(delay_ms: float):
    marks: dict[str, int] = {}
    async with (
        FakeLlmServer(first_token_delay_ms=delay_ms, inter_token_delay_ms=5) as srv,
        _llm(_settings(srv.base_url), trace_mark=marks.__setitem__) as model,
        model.chat(chat_ctx=_ctx("hi"), conn_options=NO_RETRY) as stream,
    ):
        text = "".join([c.delta.content async for c in stream if c.delta and c.delta.content])
    assert text.startswith("Hello.")
    assert model.last_ttft_ms is not None
    assert abs(model.last_ttft_ms - delay_ms) <= TTFT_TOLERANCE_MS, model.last_ttft_ms
    assert stream.ttft_ms == model.last_ttft_ms
    marks_ms = (marks["llm_first_token"] - marks["llm_request"]) / 1e6
    assert marks_ms == pytest.approx(model.last_ttft_ms, abs=1e-6)


@pytest.mark.realtime
async def test_a_wait_for_the_lane_counts_in_ttft_and_the_lane_is_freed_at_the_first_token():
    lanes = GpuLanes()  # stamps its log with time.monotonic_ns(), as the LLM's marks
    marks: dict[str, int] = {}
    async with (
        FakeLlmServer(reply="a b c", inter_token_delay_ms=25) as srv,
        _llm(_settings(srv.base_url), lane=lanes.fast, trace_mark=marks.__setitem__) as model,
    ):

        async def hold_the_engine() -> None:
            async with lanes.fast("other"):
                await asyncio.sleep(0.060)

        async with asyncio.TaskGroup() as tg:
            tg.create_task(hold_the_engine(), name="hold-the-engine")
            await asyncio.sleep(0)  # "other" takes the engine first
            assert await _reply(model, _ctx("hi")) == "a b c"
            t_end_ns = time.monotonic_ns()
    assert model.last_lane_wait_ms is not None
    assert model.last_ttft_ms is not None
    assert abs(model.last_lane_wait_ms - 60.0) <= TTFT_TOLERANCE_MS
    assert model.last_lane_wait_ms <= model.last_ttft_ms <= model.last_lane_wait_ms + 10.0
    llm_log = [(t_ns, what) for t_ns, _, name, what in lanes.log if name == "llm"]
    assert [what for _, what in llm_log] == ["queued", "granted", "released"]
    t_released_ns = llm_log[-1][0]
    assert 0 <= t_released_ns - marks["llm_first_token"] < 5 * MS  # freed at the first token,
    assert t_end_ns - t_released_ns >= 40 * MS  # not held for the two tokens after it


@pytest.mark.realtime
async def test_closing_the_stream_mid_reply_drops_the_request():
    async with (
        FakeLlmServer(reply="one two three four five six", inter_token_delay_ms=20) as srv,
        _llm(_settings(srv.base_url)) as model,
    ):
        stream = model.chat(chat_ctx=_ctx("hi"), conn_options=NO_RETRY)
        first = await stream.__anext__()
        await stream.aclose()  # the caller barged in
        async with asyncio.timeout(1.0):
            await srv.disconnected.wait()
    assert first.delta is not None
    assert first.delta.content == "one"
    assert srv.disconnects == 1


async def test_the_lane_factory_is_entered_as_llm_before_the_request_is_sent():
    seen: list[tuple[str, str, int, bool]] = []
    async with FakeLlmServer(reply="a b c") as srv:
        model = OpenAICompatLLM(_settings(srv.base_url), lane=lambda name: _lane(name))

        @contextlib.asynccontextmanager
        async def _lane(name: str) -> AsyncIterator[None]:
            seen.append(("enter", name, len(srv.requests), model.last_ttft_ms is not None))
            yield
            seen.append(("exit", name, len(srv.requests), model.last_ttft_ms is not None))

        try:
            assert await _reply(model, _ctx("hi")) == "a b c"
        finally:
            await model.aclose()
    # entered before the server got the request, left after the first token was timed
    assert seen == [("enter", "llm", 0, False), ("exit", "llm", 1, True)]


# -- errors ------------------------------------------------------------------------------
async def test_http_500_raises_api_status_error_with_the_status():
    async with FakeLlmServer(status=500) as srv, _llm(_settings(srv.base_url)) as model:
        with pytest.raises(APIStatusError) as info:
            await _reply(model, _ctx("hi"))
    assert info.value.status_code == 500
    assert info.value.retryable
    assert "HTTP 500: the fake server was told to fail" in info.value.message


async def test_an_unknown_model_is_a_404_that_is_not_retried():
    async with FakeLlmServer(model="served") as srv, _llm(_settings(srv.base_url)) as model:
        with pytest.raises(APIStatusError) as info:
            await _reply(model, _ctx("hi"))
    assert (info.value.status_code, info.value.retryable) == (404, False)
    assert f"`{DEFAULT_MODEL}` does not exist" in info.value.message


async def test_a_refused_connection_raises_api_connection_error():
    with socket.socket() as s:  # a port that was just free: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with _llm(_settings(f"http://127.0.0.1:{port}/v1")) as model:
        with pytest.raises(APIConnectionError) as info:
            await _reply(model, _ctx("hi"))
    assert not isinstance(info.value, APIStatusError)
    assert f"cannot connect to the LLM server at http://127.0.0.1:{port}/v1" in str(info.value)


@pytest.mark.realtime
async def test_a_server_silent_past_timeout_s_raises_api_timeout_error():
    async with (
        FakeLlmServer(first_token_delay_ms=300) as srv,
        _llm(_settings(srv.base_url, timeout_s=0.05)) as model,
    ):
        with pytest.raises(APITimeoutError, match=r"sent nothing for 0\.05 s"):
            await _reply(model, _ctx("hi"))
    assert model.last_ttft_ms is None


async def test_a_malformed_chunk_raises_api_connection_error_after_the_good_text():
    got: list[str] = []
    async with (
        FakeLlmServer(reply="one two three", corrupt_after_tokens=2) as srv,
        _llm(_settings(srv.base_url)) as model,
    ):
        with pytest.raises(APIConnectionError, match="malformed stream chunk"):
            await _reply(model, _ctx("hi"), into=got)
    assert got == ["one", " two"]


async def test_the_key_never_appears_in_repr_logs_or_errors(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    settings = OpenAICompatSettings(base_url="http://127.0.0.1:1/v1", model="m", api_key=KEY)
    texts = [repr(settings), str(settings), f"{settings}"]
    async with FakeLlmServer(api_key=KEY, status=500) as srv:
        for s in (
            settings,
            _settings(srv.base_url, api_key=KEY),
            _settings(srv.base_url, api_key="sk-wrong"),
        ):
            async with _llm(s) as model:
                texts.append(repr(model))
                with pytest.raises(APIConnectionError if s is settings else APIStatusError) as info:
                    await _reply(model, _ctx("hi"))
                texts += [str(info.value), repr(info.value)]
        with pytest.raises(InputError) as bad:
            OpenAICompatSettings(base_url=srv.base_url, model="m", api_key=KEY + " x")
        texts.append(str(bad.value))
    texts += [r.getMessage() + repr(r.__dict__) for r in caplog.records]
    assert "***" in texts[0]
    assert any("HTTP 401" in t for t in texts)
    assert any("HTTP 500" in t for t in texts)
    assert not [t for t in texts if KEY in t]


# -- settings ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("base_url", {"base_url": "ftp://host/v1"}),
        ("base_url", {"base_url": ""}),
        ("base_url", {"base_url": "http://host /v1"}),
        ("model", {"model": "  "}),
        ("api_key", {"api_key": ""}),
        ("api_key", {"api_key": "sk-a\nb"}),
        ("timeout_s", {"timeout_s": 0}),
        ("timeout_s", {"timeout_s": float("nan")}),
        ("temperature", {"temperature": 2.5}),
        ("max_tokens", {"max_tokens": 0}),
        ("max_tokens", {"max_tokens": True}),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_field(field: str, kw: dict[str, object]):
    args: dict[str, object] = {"base_url": "http://127.0.0.1:8000/v1", "model": "m", **kw}
    with pytest.raises(InputError) as info:
        OpenAICompatSettings(**args)  # type: ignore[arg-type]
    message = str(info.value)
    assert f"LLM setting '{field}'" in message
    assert "\n" not in message


def test_from_env_reads_the_three_variables_and_falls_back_to_openai_api_key():
    env = {"AUTORTC_LLM_BASE_URL": "http://gpu:8000/v1/", "AUTORTC_LLM_MODEL": "qwen"}
    assert OpenAICompatSettings.from_env(env) == OpenAICompatSettings("http://gpu:8000/v1", "qwen")
    assert OpenAICompatSettings.from_env({**env, "OPENAI_API_KEY": "k1"}).api_key == "k1"
    both = {**env, "OPENAI_API_KEY": "k1", "AUTORTC_LLM_API_KEY": "k2"}
    assert OpenAICompatSettings.from_env(both).api_key == "k2"
    assert OpenAICompatSettings.from_env({**env, "AUTORTC_LLM_API_KEY": ""}).api_key is None
    assert "Authorization" not in OpenAICompatSettings.from_env(env).headers()
    with pytest.raises(InputError, match="AUTORTC_LLM_BASE_URL is not set"):
        OpenAICompatSettings.from_env({"AUTORTC_LLM_MODEL": "qwen"})
    with pytest.raises(InputError, match="AUTORTC_LLM_MODEL is not set"):
        OpenAICompatSettings.from_env({"AUTORTC_LLM_BASE_URL": "http://gpu:8000/v1"})


# -- SSE parsing -------------------------------------------------------------------------
STREAM = (
    b": keepalive\r\n\r\n"
    b'data: {"id":"a","choices":[{"delta":{"role":"assistant","content":""}}]}\r\n\r\n'
    b"event: message\nid: 7\nretry: 100\n"
    b'data: {"id":"a","choices":[{"delta":{"content":" caf\xc3\xa9"}}]}\n\n'
    b"data: line one\ndata: line two\n\n"
    b": ping\n\n"
    b"data: [DONE]\n\n"
)
EVENTS = [
    '{"id":"a","choices":[{"delta":{"role":"assistant","content":""}}]}',
    '{"id":"a","choices":[{"delta":{"content":" café"}}]}',
    "line one\nline two",
    "[DONE]",
]


def test_sse_events_split_across_reads_at_every_byte_are_the_same():
    for size in (1, 2, 3, 7, len(STREAM)):
        parser = SseParser()
        events = []
        for i in range(0, len(STREAM), size):
            events += parser.feed(STREAM[i : i + size])
        assert events + parser.close() == EVENTS, size


def test_sse_a_last_event_without_its_blank_line_is_delivered_at_close():
    parser = SseParser()
    assert parser.feed(b"data: [DONE]") == []
    assert parser.close() == ["[DONE]"]


def test_decode_chunk_reads_content_finish_usage_and_errors():
    assert decode_chunk(EVENTS[0]).content == ""
    assert decode_chunk(EVENTS[1]).content == " café"
    finish = decode_chunk('{"id":"b","choices":[{"delta":{},"finish_reason":"stop"}]}')
    assert (finish.id, finish.content, finish.finish_reason) == ("b", "", "stop")
    assert decode_chunk('{"id":"u","choices":[],"usage":{"total_tokens":3}}').content == ""
    err = decode_chunk('{"error":{"message":"overloaded","code":503}}')
    assert (err.error, err.error_code) == ("overloaded", 503)
    with pytest.raises(ValueError, match="not JSON"):
        decode_chunk('{"id": broken')
    with pytest.raises(ValueError, match="not a JSON object"):
        decode_chunk("[1, 2]")


# -- the fake server itself --------------------------------------------------------------
def test_bpe_like_tokens_carry_their_leading_space_and_join_back():
    text = "Hello, world! It's 3 pm.  "
    tokens = bpe_like_tokens(text)
    assert "".join(tokens) == text
    assert tokens[:4] == ["Hello", ",", " world", "!"]
    assert all(t.strip() == "" or not t.rstrip().endswith(" ") for t in tokens)


async def test_fake_server_streams_vllm_shaped_chunks():
    async with FakeLlmServer(reply="Hi there.") as srv, aiohttp.ClientSession() as http:
        body = {
            "model": DEFAULT_MODEL,
            "messages": [{"role": "user", "content": "x"}],
            "stream": True,
        }
        async with http.post(f"{srv.base_url}/chat/completions", json=body) as resp:
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            raw = await resp.read()
    lines = raw.decode().split("\n\n")
    assert lines[-2:] == ["data: [DONE]", ""]
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-2]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["id"].startswith("chatcmpl-")
    assert all(c["model"] == DEFAULT_MODEL and isinstance(c["created"], int) for c in chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert [d["content"] for d in deltas[1:-1]] == ["Hi", " there", "."]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * 4 + ["stop"]
