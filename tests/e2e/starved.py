"""Signs that this machine's scheduling, not the network or the agent, shaped a run."""

from __future__ import annotations

import json
from pathlib import Path


def late_packets(attempt_dir: Path) -> dict[str, int]:
    """The agent track's late and stretched packets at the probe (probe_result.json),
    where there were any; {} where none. On a profile with no jitter, packets come in
    order, so one that comes after its playout slot was held up by the machine."""
    probe = json.loads((attempt_dir / "probe_result.json").read_text())
    track = probe["agent_track_network"] or {}
    late = {k: int(track.get(k) or 0) for k in ("late", "stretches")}
    return late if any(late.values()) else {}
