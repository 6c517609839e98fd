"""Credentials from the environment, and the secret never shown."""

from __future__ import annotations

import pytest

from autortc.errors import InputError
from autortc.transport.livekit import LiveKitTransport
from autortc.transport.livekit_config import LiveKitCredentials, http_url, redact, ws_url

SECRET = "very-secret-value-0123456789abcdefghij"
FULL_ENV = {
    "LIVEKIT_URL": "ws://127.0.0.1:7880",
    "LIVEKIT_API_KEY": "devkey",
    "LIVEKIT_API_SECRET": SECRET,
}


@pytest.mark.parametrize("missing", sorted(FULL_ENV))
def test_missing_variable_is_an_input_error_naming_it(missing: str) -> None:
    env = {k: v for k, v in FULL_ENV.items() if k != missing}
    with pytest.raises(InputError, match=missing):
        LiveKitCredentials.from_env(env)


def test_transport_from_env_reads_the_three_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in FULL_ENV.items():
        monkeypatch.setenv(k, v)
    transport = LiveKitTransport.from_env()
    assert transport.url == "ws://127.0.0.1:7880"
    assert transport.api_key == "devkey"
    assert transport.name == "livekit"


def test_transport_from_env_without_url_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVEKIT_URL", raising=False)
    monkeypatch.setenv("LIVEKIT_API_KEY", "devkey")
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    with pytest.raises(InputError, match="LIVEKIT_URL"):
        LiveKitTransport.from_env()


def test_repr_and_str_never_show_the_secret() -> None:
    creds = LiveKitCredentials.from_env(FULL_ENV)
    transport = LiveKitTransport(url=creds.url, api_key=creds.api_key, api_secret=SECRET)
    for text in (repr(creds), str(creds), repr(transport), str(transport)):
        assert SECRET not in text
        assert "REDACTED" in text


def test_redact_removes_secret_jwts_and_bearer_values() -> None:
    text = f"secret={SECRET} token=eyJhbGciOi.eyJzdWIiOiJ4In0.c2ln Authorization: Bearer abc.def"
    out = redact(text, SECRET)
    assert SECRET not in out
    assert "eyJ" not in out
    assert "abc.def" not in out


def test_bad_url_scheme_is_an_input_error() -> None:
    with pytest.raises(InputError, match="LIVEKIT_URL"):
        LiveKitCredentials(url="127.0.0.1:7880", api_key="k", api_secret="s")


def test_url_forms() -> None:
    assert http_url("ws://127.0.0.1:7880/") == "http://127.0.0.1:7880"
    assert http_url("wss://x.livekit.cloud") == "https://x.livekit.cloud"
    assert ws_url("https://x.livekit.cloud") == "wss://x.livekit.cloud"
