from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .twirp_stub import TwirpStub

KEY = "APIstubkey"
SECRET = "stub-secret-must-never-leak-0123456789"


@pytest.fixture
async def stub() -> AsyncIterator[TwirpStub]:
    server = await TwirpStub(KEY, SECRET).start()
    try:
        yield server
    finally:
        await server.stop()
