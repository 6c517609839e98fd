"""LiveKit credentials from the environment, and secret redaction.

`LiveKitCredentials` holds LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET.
Its `repr` never shows the secret, and `redact(text)` removes the secret and any
JWT (every LiveKit access token is one) from text bound for logs, errors or
stdout. Pure: reads the environment only when asked, opens no socket.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from autortc.errors import InputError

ENV_URL = "LIVEKIT_URL"
ENV_API_KEY = "LIVEKIT_API_KEY"
ENV_API_SECRET = "LIVEKIT_API_SECRET"

REDACTED = "[REDACTED]"

# PyJWT warns on stderr when an HMAC key is under 32 bytes. `livekit-server --dev`
# uses the 6-byte secret "secret", so every token signed against it would print a
# multi-line warning, breaking the one-sentence error contract of `autortc run`.
# The key length is the server operator's choice, not something a test run can fix.
try:
    from jwt.warnings import InsecureKeyLengthWarning

    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
except ImportError:  # PyJWT before 2.10 does not warn
    pass

# A JWT is three base64url segments; LiveKit tokens start with the header `eyJ`.
_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_BEARER_RE = re.compile(r"(?i)(bearer\s+)\S+")


def redact(text: str, *secrets: str) -> str:
    """Remove every given secret, every JWT and every bearer credential from `text`."""
    out = str(text)
    for secret in secrets:
        if secret:
            out = out.replace(secret, REDACTED)
    out = _JWT_RE.sub(REDACTED, out)
    return _BEARER_RE.sub(lambda m: m.group(1) + REDACTED, out)


def http_url(url: str) -> str:
    """The http(s) form of a LiveKit URL: ws -> http, wss -> https; no trailing slash."""
    parts = urlsplit(url.strip())
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def ws_url(url: str) -> str:
    """The ws(s) form of a LiveKit URL, what `rtc.Room.connect` expects."""
    parts = urlsplit(url.strip())
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True)
class LiveKitCredentials:
    """Where the server is and how to sign for it. The secret never leaves this object
    except into a signature."""

    url: str
    api_key: str
    api_secret: str = field(repr=False)

    def __post_init__(self) -> None:
        for name, value in ((ENV_URL, self.url), (ENV_API_KEY, self.api_key)):
            if not value:
                raise InputError(f"{name} is empty: set it to your LiveKit server's value")
        if not self.api_secret:
            raise InputError(f"{ENV_API_SECRET} is empty: set it to your LiveKit API secret")
        scheme = urlsplit(self.url).scheme
        if scheme not in ("ws", "wss", "http", "https") or not urlsplit(self.url).netloc:
            raise InputError(
                f"{ENV_URL}={self.url!r} is not a ws://, wss://, http:// or https:// URL"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LiveKitCredentials:
        """Read the three variables; a missing one is an InputError naming it."""
        env = os.environ if environ is None else environ
        missing = [n for n in (ENV_URL, ENV_API_KEY, ENV_API_SECRET) if not env.get(n)]
        if missing:
            raise InputError(
                f"{', '.join(missing)} not set: the livekit transport needs "
                f"{ENV_URL}, {ENV_API_KEY} and {ENV_API_SECRET} "
                "(for a local dev server: ws://127.0.0.1:7880, devkey, secret)"
            )
        return cls(url=env[ENV_URL], api_key=env[ENV_API_KEY], api_secret=env[ENV_API_SECRET])

    def redact(self, text: str) -> str:
        return redact(text, self.api_secret)

    def __repr__(self) -> str:
        return f"LiveKitCredentials(url={self.url!r}, api_key={self.api_key!r}, api_secret={REDACTED!r})"

    __str__ = __repr__
