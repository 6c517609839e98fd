"""`autortc doctor`: one sentence per failure, exit 2, within 5 s, and never the secret."""

from __future__ import annotations

import logging
import time

import pytest

from autortc.doctor import doctor_main, run_doctor

from .conftest import KEY, SECRET
from .twirp_stub import TwirpStub, refused_url


def _env(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("LIVEKIT_URL", url)
    monkeypatch.setenv("LIVEKIT_API_KEY", KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)


async def test_all_checks_pass_against_a_healthy_server_and_clean_up(stub: TwirpStub) -> None:
    checks = await run_doctor(stub.url, KEY, SECRET, agent_name="ref-agent")
    assert [(c.name, c.ok) for c in checks] == [
        ("url_reachable", True),
        ("credentials", True),
        ("room_lifecycle", True),
        ("agent_dispatch", True),
    ]
    assert stub.rooms == {}  # the scratch room was deleted
    (dispatch,) = stub.calls("/CreateDispatch")
    assert dispatch.body.agent_name == "ref-agent"


async def test_without_agent_name_no_dispatch_is_tried(stub: TwirpStub) -> None:
    checks = await run_doctor(stub.url, KEY, SECRET, agent_name=None)
    assert [c.name for c in checks] == ["url_reachable", "credentials", "room_lifecycle"]
    assert stub.calls("/CreateDispatch") == []


async def test_rejected_credentials_are_named_and_stop_the_run(stub: TwirpStub) -> None:
    stub.mode = "unauthenticated"
    checks = await run_doctor(stub.url, KEY, SECRET, agent_name="ref-agent")
    assert [(c.name, c.ok) for c in checks] == [("url_reachable", True), ("credentials", False)]
    assert checks[-1].detail.startswith(f"LIVEKIT_API_KEY/SECRET rejected by {stub.url}: ")


def test_doctor_main_exits_2_on_connection_refused_within_5_s(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = refused_url()
    _env(monkeypatch, url)
    t0 = time.monotonic()
    code = doctor_main([])
    assert time.monotonic() - t0 < 5.0
    assert code == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [
        f"FAIL url_reachable: Cannot reach LiveKit at {url}: connection refused; "
        "is livekit-server running there (e.g. `livekit-server --dev --bind 127.0.0.1`)?"
    ]


async def test_a_hanging_server_is_cut_at_the_deadline(stub: TwirpStub) -> None:
    stub.mode = "hang"
    t0 = time.monotonic()
    checks = await run_doctor(stub.url, KEY, SECRET, agent_name=None, timeout_s=1.0)
    assert time.monotonic() - t0 < 2.0
    assert not checks[-1].ok
    assert "1 s" in checks[-1].detail


def test_doctor_main_with_missing_env_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LIVEKIT_URL", raising=False)
    monkeypatch.setenv("LIVEKIT_API_KEY", KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    assert doctor_main([]) == 2
    assert "LIVEKIT_URL" in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["ok", "unauthenticated", "not_a_livekit_server", "refused"])
def test_no_doctor_output_or_log_record_contains_the_secret_or_a_token(
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import asyncio

    async def with_stub() -> tuple[int, str]:
        if mode == "refused":
            _env(monkeypatch, refused_url())
            return await asyncio.to_thread(doctor_main, ["--agent-name", "ref-agent"]), ""
        stub = await TwirpStub(KEY, SECRET, mode=mode).start()
        try:
            _env(monkeypatch, stub.url)
            code = await asyncio.to_thread(doctor_main, ["--agent-name", "ref-agent"])
            return code, stub.url
        finally:
            await stub.stop()

    caplog.set_level(logging.DEBUG)
    code, _ = asyncio.run(with_stub())
    captured = capsys.readouterr()
    records = "\n".join(
        f"{r.getMessage()} {r.__dict__}" + (str(r.exc_info) if r.exc_info else "")
        for r in caplog.records
    )
    for text in (captured.out, captured.err, records):
        assert SECRET not in text
        assert "eyJ" not in text  # no JWT (every LiveKit token starts with eyJ)
    assert code == (0 if mode == "ok" else 2)
    assert captured.out.strip()  # it did print its results
