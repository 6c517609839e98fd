"""The error hierarchy of AutoRTC.

    AutortcError
    ├── InputError            bad case file, config or CLI argument -> exit 2
    │   └── CaseError         names the file and the field
    └── InfraError            the room, a bot, the agent or the server failed -> exit 2
        ├── TransportError    connect / publish / rooms API failures
        └── BotError          a bot process crashed or timed out

A gate failure is *not* an exception: it is data (`GateResult`), exit 1.
"""

from __future__ import annotations

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


class InfraError(AutortcError):
    """The infrastructure failed (server, room, bot). Exit 2."""


class TransportError(InfraError):
    """A transport call failed: connect, publish, rooms API."""


class BotError(InfraError):
    """A bot process crashed or timed out."""
