"""`autortc doctor`: is the LiveKit setup usable? Four checks, 5 s in all.

1. url_reachable  - an HTTP GET on the http(s) form of LIVEKIT_URL answers;
2. credentials    - ListRooms succeeds (a rejected key/secret is named as such);
3. room_lifecycle - a scratch room can be created and deleted;
4. agent_dispatch - (with an agent name) an explicit dispatch to it is accepted.

A failed check is one sentence; later checks that depend on it are skipped. The
whole run is bounded by `asyncio.timeout(timeout_s)`: it never hangs, never prints
a traceback, and never prints the secret or a token (all text goes through
`redact`). Exit code 0 when every check passes, 2 otherwise (infrastructure).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import uuid
from dataclasses import dataclass

import aiohttp

from autortc.errors import EXIT_INFRA, EXIT_PASS, InputError, TransportError
from autortc.transport.livekit import LiveKitTransport, api_error_sentence
from autortc.transport.livekit_config import LiveKitCredentials, http_url, redact

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0
ROOM_PREFIX = "autortc-doctor"
DOCTOR_METADATA = '{"autortc": {"doctor": true}}'


@dataclass(frozen=True)
class DoctorCheck:
    name: str
    ok: bool
    detail: str  # one sentence

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


async def _check_reachable(url: str, *, timeout_s: float) -> DoctorCheck:
    target = http_url(url)
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
            session.get(target + "/") as resp,
        ):
            status = resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        return DoctorCheck(
            "url_reachable",
            False,
            api_error_sentence(exc, url=url, action="GET /", timeout_s=timeout_s),
        )
    if status >= 500:
        return DoctorCheck("url_reachable", False, f"{target} answered HTTP {status} to GET /.")
    return DoctorCheck("url_reachable", True, f"{target} answered HTTP {status}.")


async def _run_checks(
    transport: LiveKitTransport, agent_name: str | None, checks: list[DoctorCheck], timeout_s: float
) -> None:
    reach = await _check_reachable(transport.url, timeout_s=timeout_s)
    checks.append(reach)
    if not reach.ok:
        return
    try:
        rooms = await transport.list_rooms()
    except TransportError as exc:
        checks.append(DoctorCheck("credentials", False, str(exc)))
        return
    checks.append(
        DoctorCheck("credentials", True, f"ListRooms accepted ({len(rooms)} active rooms).")
    )

    # A scratch room with a short empty_timeout: if the deadline cuts us off before
    # the delete, the server reaps it by itself.
    room = f"{ROOM_PREFIX}-{uuid.uuid4().hex[:8]}"
    try:
        await transport.create_room(room, metadata=DOCTOR_METADATA, empty_timeout_s=10)
    except TransportError as exc:
        checks.append(DoctorCheck("room_lifecycle", False, str(exc)))
        return
    dispatch: DoctorCheck | None = None
    if agent_name is not None:
        try:
            await transport.create_dispatch(room, agent_name=agent_name, metadata=DOCTOR_METADATA)
        except TransportError as exc:
            dispatch = DoctorCheck("agent_dispatch", False, str(exc))
        else:
            dispatch = DoctorCheck(
                "agent_dispatch", True, f"a dispatch of agent {agent_name!r} was accepted."
            )
    try:
        await transport.delete_room(room)
    except TransportError as exc:
        checks.append(DoctorCheck("room_lifecycle", False, str(exc)))
    else:
        checks.append(DoctorCheck("room_lifecycle", True, f"room {room!r} created and deleted."))
    if dispatch is not None:
        checks.append(dispatch)


async def run_doctor(
    url: str,
    api_key: str,
    api_secret: str,
    *,
    agent_name: str | None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> list[DoctorCheck]:
    """Run the checks against one server; never raises for a server problem."""
    transport = LiveKitTransport(
        url=url,
        api_key=api_key,
        api_secret=api_secret,
        api_timeout_s=timeout_s,
    )
    checks: list[DoctorCheck] = []
    try:
        async with asyncio.timeout(timeout_s):
            await _run_checks(transport, agent_name, checks, timeout_s)
    except TimeoutError:
        checks.append(
            DoctorCheck(
                "deadline",
                False,
                f"the checks against {url} did not finish within {timeout_s:g} s.",
            )
        )
    finally:
        await transport.aclose()
    return [DoctorCheck(c.name, c.ok, redact(c.detail, api_secret)) for c in checks]


def doctor_main(argv: list[str] | None = None) -> int:
    """Print one line per check; return 0 if all pass, 2 otherwise."""
    parser = argparse.ArgumentParser(
        prog="autortc doctor", description="Check the LiveKit server, credentials and dispatch."
    )
    parser.add_argument("--agent-name", default=None, help="also check a dispatch to this agent")
    parser.add_argument("--timeout-s", type=float, default=DEFAULT_TIMEOUT_S)
    args = parser.parse_args(argv)
    try:
        creds = LiveKitCredentials.from_env()
    except InputError as exc:
        print(f"FAIL config: {exc}")
        return EXIT_INFRA
    checks = asyncio.run(
        run_doctor(
            creds.url,
            creds.api_key,
            creds.api_secret,
            agent_name=args.agent_name,
            timeout_s=args.timeout_s,
        )
    )
    for check in checks:
        print(creds.redact(check.line()))
    ok = bool(checks) and all(c.ok for c in checks)
    return EXIT_PASS if ok else EXIT_INFRA
