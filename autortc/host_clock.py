"""Which monotonic clock a process reads: the handshake behind the hop budget.

Every process on one Linux kernel reads the same CLOCK_MONOTONIC, and the kernel's
boot id names that clock: two processes whose ids match can subtract each other's
`time.monotonic_ns()` values. The agent sends its id in `agent_ready`
(`clock_id`), the probe writes its own in probe_result.json, and the hop budget is
computed only when they match. A remote agent sends another id, or none, and its
hops stay null: the harness never assumes a shared clock. (A container with its own
time namespace would share the boot id but not the clock; AutoRTC does not set one
up, and such an agent should send no id.)
"""

from __future__ import annotations

from pathlib import Path

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")


def host_clock_id(boot_id_path: Path = BOOT_ID_PATH) -> str | None:
    """'monotonic@<boot id>', or None where the kernel does not say (not Linux)."""
    try:
        boot_id = boot_id_path.read_text(encoding="ascii").strip()
    except OSError:
        return None
    return f"monotonic@{boot_id}" if boot_id else None


def shares_clock(agent_clock_id: str | None, probe_clock_id: str | None) -> bool:
    """The agent's trace times are on the probe's clock: both ids known and equal."""
    return agent_clock_id is not None and agent_clock_id == probe_clock_id
