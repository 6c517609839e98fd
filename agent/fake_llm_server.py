"""A small OpenAI-compatible chat server that streams the way vLLM does, for tests and demos.

`POST /v1/chat/completions` with `"stream": true` answers `text/event-stream` at once
(headers first, as vLLM's streaming response does), then, after `first_token_delay_ms`:

    data: {"id":"chatcmpl-..","object":"chat.completion.chunk","created":..,"model":..,
           "choices":[{"index":0,"delta":{"role":"assistant","content":""},
                       "logprobs":null,"finish_reason":null}]}
    data: {..."choices":[{"index":0,"delta":{"content":"Hello"},...}]}       one per token,
    data: {..."choices":[{"index":0,"delta":{"content":" there"},...}]}      paced by the
    ...                                                                      inter-token delay
    data: {..."choices":[{"index":0,"delta":{"content":""},
                          "logprobs":null,"finish_reason":"stop","stop_reason":null}]}
    data: [DONE]

Tokens are split like a BPE tokenizer's: words carry their leading space, punctuation
is its own token. Without `"stream": true` the whole `chat.completion` comes back at once.
Like vLLM it answers 404 for a model it does not serve and, when started with an API key,
401 to a request without the right `Authorization: Bearer`. `GET /v1/models` lists the
model. `status` (>= 400) makes every chat request fail with that status;
`corrupt_after_tokens` sends a malformed chunk after that many tokens.

Every chat request is recorded in `requests` (model, messages, stream, whether an
Authorization header came); `disconnects` counts streams the client closed early. Run it standalone:

    python -m agent.fake_llm_server --port 8011 --first-token-delay-ms 200 --reply "..."
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from autortc.errors import UsageError

DEFAULT_REPLY = "Hello. This is the AutoRTC fake language model speaking."
DEFAULT_MODEL = "fake-llm"
_TOKEN_RE = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")

Reply = str | Callable[[str], str]


def bpe_like_tokens(text: str) -> list[str]:
    """Tokens as a BPE tokenizer cuts them: words with their leading space, punctuation
    alone, trailing whitespace last. Joining them gives `text` back."""
    return _TOKEN_RE.findall(text)


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message (string content or text parts), else ''."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


@dataclass(frozen=True)
class RecordedRequest:
    """One chat request as the server got it."""

    model: str | None
    messages: list[dict[str, Any]]
    stream: bool
    has_auth: bool
    body: dict[str, Any] = field(repr=False)


def _error(status: int, message: str, kind: str) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": status}}
    return web.json_response(body, status=status)


class FakeLlmServer:
    """`async with FakeLlmServer(first_token_delay_ms=200) as srv:` then `srv.base_url`."""

    def __init__(
        self,
        *,
        reply: Reply = DEFAULT_REPLY,
        first_token_delay_ms: float = 0.0,
        inter_token_delay_ms: float | None = None,
        tokens_per_s: float | None = None,
        model: str = DEFAULT_MODEL,
        api_key: str | None = None,
        status: int = 200,
        corrupt_after_tokens: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if inter_token_delay_ms is not None and tokens_per_s is not None:
            raise UsageError("give inter_token_delay_ms or tokens_per_s, not both")
        if tokens_per_s is not None and tokens_per_s <= 0:
            raise UsageError(f"tokens_per_s must be > 0, got {tokens_per_s}")
        self.reply = reply
        self.first_token_delay_ms = first_token_delay_ms
        self.inter_token_delay_ms = (
            1000.0 / tokens_per_s if tokens_per_s is not None else inter_token_delay_ms or 0.0
        )
        self.model = model
        self.status = status
        self.corrupt_after_tokens = corrupt_after_tokens
        self._api_key = api_key
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.requests: list[RecordedRequest] = []
        self.disconnects = 0  # streams the client closed before the end
        self.disconnected = asyncio.Event()  # set at the first of them

    def __repr__(self) -> str:
        return f"FakeLlmServer(base_url={self.base_url!r}, model={self.model!r})"

    # -- lifecycle -------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """`http://host:port/v1`, the OpenAI-style base URL (valid once started)."""
        return f"http://{self._host}:{self._port}/v1"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def aclose(self) -> None:
        """Stop serving (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeLlmServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- handlers --------------------------------------------------------------------
    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="")

    async def _models(self, request: web.Request) -> web.Response:
        card = {
            "id": self.model,
            "object": "model",
            "created": int(time.time()),
            "owned_by": "autortc",
        }
        return web.json_response({"object": "list", "data": [card]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the request body is not JSON", "BadRequestError")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "the request needs a 'messages' list", "BadRequestError")
        auth = request.headers.get("Authorization")
        model = body.get("model")
        self.requests.append(
            RecordedRequest(
                model=model if isinstance(model, str) else None,
                messages=body["messages"],
                stream=bool(body.get("stream")),
                has_auth=auth is not None,
                body=body,
            )
        )
        if self._api_key is not None and auth != f"Bearer {self._api_key}":
            return _error(401, "Unauthorized", "AuthenticationError")
        if model != self.model:
            return _error(404, f"The model `{model}` does not exist.", "NotFoundError")
        if self.status >= 400:
            return _error(self.status, "the fake server was told to fail", "InternalServerError")
        reply = (
            self.reply
            if isinstance(self.reply, str)
            else self.reply(last_user_text(body["messages"]))
        )
        if not body.get("stream"):
            return web.json_response(self._completion(reply))
        return await self._stream(request, bpe_like_tokens(reply))

    def _completion(self, text: str) -> dict[str, Any]:
        message = {"role": "assistant", "content": text}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [choice],
        }

    async def _stream(self, request: web.Request, tokens: list[str]) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
            }
        )
        await resp.prepare(request)  # headers at once; the body waits for the first token
        try:
            await self._write_events(resp, tokens)
        except ConnectionResetError:  # the client went away mid-reply (vLLM aborts the request)
            self.disconnects += 1
            self.disconnected.set()
        return resp

    async def _write_events(self, resp: web.StreamResponse, tokens: list[str]) -> None:
        head = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
        }

        async def send(delta: dict[str, str], **finish: str | None) -> None:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None, **finish}
            chunk = json.dumps({**head, "choices": [choice]}, separators=(",", ":"))
            await resp.write(f"data: {chunk}\n\n".encode())

        await _sleep_ms(self.first_token_delay_ms)
        await send({"role": "assistant", "content": ""})
        for i, token in enumerate(tokens):
            if i > 0:
                await _sleep_ms(self.inter_token_delay_ms)
            if i == self.corrupt_after_tokens:
                await resp.write(b'data: {"id": "chatcmpl-broken", "choices": [\n\n')
                await resp.write_eof()
                return
            await send({"content": token})
        await send({"content": ""}, finish_reason="stop", stop_reason=None)
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()


async def _sleep_ms(delay_ms: float) -> None:
    if delay_ms > 0:
        await asyncio.sleep(delay_ms / 1000.0)


# -- standalone ----------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m agent.fake_llm_server", description=__doc__.split("\n")[0]
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8011)
    p.add_argument("--model", default=DEFAULT_MODEL, help="the served model's name")
    p.add_argument("--reply", default=DEFAULT_REPLY, help="the reply text")
    p.add_argument("--first-token-delay-ms", type=float, default=0.0)
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--inter-token-delay-ms", type=float, default=None)
    pace.add_argument("--tokens-per-s", type=float, default=None)
    p.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY'")
    return p


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = FakeLlmServer(
        reply=args.reply,
        first_token_delay_ms=args.first_token_delay_ms,
        inter_token_delay_ms=args.inter_token_delay_ms,
        tokens_per_s=args.tokens_per_s,
        model=args.model,
        api_key=args.api_key,
        host=args.host,
        port=args.port,
    )
    async with server:
        print(f"fake LLM server: base_url {server.base_url} model {server.model}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
