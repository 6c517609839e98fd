"""The error hierarchy of AutoRTC, and the one place foreign errors are translated.

    AutortcError
    ├── InputError            bad case file, config or CLI option -> exit 2
    │   └── CaseError         names the file and the field
    ├── UsageError            code calling AutoRTC broke an API contract (a bug there)
    └── InfraError            the room, a bot, the agent or the server failed -> exit 2
        ├── TransportError    connect / publish / rooms API failures
        │   └── WireError     a malformed packet on the local transport's wire
        └── ArtifactError     an attempt's file is missing, unreadable or in the wrong format

A gate failure is *not* an exception: it is data (`GateResult`), exit 1.

Errors from the SDKs and the OS enter through `map_exceptions` at the boundary where
they happen (transport calls, file reads); the CLI ends any error, ours or not, with
one line and exit 2 (`cli.main`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_INFRA = 2


class AutortcError(Exception):
    """Base of every error AutoRTC raises on purpose."""

    exit_code = EXIT_INFRA


class InputError(AutortcError):
    """Bad input from the user: a case, config or argument. Exit 2."""


class CaseError(InputError):
    """A case or config file is invalid. The message names the file and the field."""

    def __init__(self, path: str, field: str, problem: str) -> None:
        self.path = path
        self.field = field
        self.problem = problem
        super().__init__(f"{path}: field '{field}': {problem}")


class UsageError(AutortcError):
    """Code calling AutoRTC broke an API contract (wrong frame size, unknown trace point...).
    A bug in that code, not bad user input. Exit 2."""


class InfraError(AutortcError):
    """The infrastructure failed (server, room, bot). Exit 2."""


class TransportError(InfraError):
    """A transport call failed: connect, publish, rooms API."""


class WireError(TransportError):
    """A malformed packet or frame on the local transport's wire."""


class ArtifactError(InfraError):
    """A file of a case attempt is missing, unreadable or not in the expected format."""


@contextlib.contextmanager
def map_exceptions(
    error: type[AutortcError],
    what: str,
    *,
    catch: tuple[type[BaseException], ...] = (
        OSError,
        ValueError,
        EOFError,
    ),
) -> Iterator[None]:
    """Translate foreign errors raised inside the block into `error("<what>: <cause>")`.

    Our own errors pass through unchanged; so do cancellation and KeyboardInterrupt.
    """
    try:
        yield
    except AutortcError:
        raise
    except catch as e:
        cause = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise error(f"{what}: {cause}") from e
