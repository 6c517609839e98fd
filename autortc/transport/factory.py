"""Pick a transport from a URL: `local://host:port` or `ws(s)://` (LiveKit)."""

from __future__ import annotations

from autortc.errors import InputError
from autortc.transport.base import Transport


def transport_from_url(url: str) -> Transport:
    """Build the transport for `url`. LiveKit credentials come from the environment."""
    if url.startswith("local://"):
        from autortc.transport.local import LocalTransport

        return LocalTransport(url)
    if url.startswith(("ws://", "wss://", "http://", "https://")):
        from autortc.transport.livekit import LiveKitTransport

        return LiveKitTransport(url=url)  # key and secret from the environment
    raise InputError(f"transport URL '{url}': expected local://HOST:PORT or ws(s)://HOST[:PORT]")
