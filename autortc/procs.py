"""Child processes that never outlive the harness.

Every process `autortc` starts (room server, agent worker, bots) is started with
`die_with_parent` as its `preexec_fn`: on Linux the kernel sends it SIGTERM when
the harness dies, even by SIGKILL (a CI job cancelled hard), so no agent worker
stays registered with a LiveKit server and no bot keeps a room busy. SIGTERM is
the children's normal, clean stop. Elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Runs in the child between fork and exec (a `preexec_fn`)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
