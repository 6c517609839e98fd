"""Where an attempt's wall time goes (pure): the harness's and the probe's monotonic
stamps, in order, become named phases.

| phase | from -> to |
|---|---|
| prepare | attempt start -> its files written (ids, case audio, bot job) |
| room_create | -> the room exists (Twirp CreateRoom on LiveKit) |
| bots_start | -> the probe process runs (spawn and imports) |
| connect | -> the probe is in the room |
| agent_join | -> the agent is in the room (dispatch and job start) |
| barrier | -> the two-way ACK barrier is complete |
| conversation | -> the probe stops recording (the case itself) |
| bots_exit | -> both bot processes have exited (flush, disconnect) |
| room_delete | -> the room is deleted |
| pre_rtc_wait | -> the agent's pre_rtc is collected |
| analyze | -> the figures are computed |

A stamp that is missing (the agent never joined, say) leaves its phase null, and the
next known stamp's phase runs from the last known one: the phases always add up to
the attempt's wall time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import median

PHASES: tuple[str, ...] = (
    "prepare",
    "room_create",
    "bots_start",
    "connect",
    "agent_join",
    "barrier",
    "conversation",
    "bots_exit",
    "room_delete",
    "pre_rtc_wait",
    "analyze",
)


def attempt_phases_ms(start_ns: int, ends_ns: Mapping[str, int | None]) -> dict[str, float | None]:
    """Each phase's duration in ms, from `start_ns` and each phase's end stamp.

    A stamp before the last known one (clocks of two processes disagree by a few
    microseconds at most) counts as that one: no phase is negative."""
    unknown = [name for name in ends_ns if name not in PHASES]
    if unknown:
        raise KeyError(f"unknown phase {unknown[0]!r}")
    out: dict[str, float | None] = {}
    last_ns = start_ns
    for name in PHASES:
        end = ends_ns.get(name)
        if end is None:
            out[name] = None
            continue
        end = max(end, last_ns)
        out[name] = round((end - last_ns) / 1e6, 1)
        last_ns = end
    return out


def phase_table(
    attempts: Sequence[Mapping[str, float | None]],
) -> list[tuple[str, float, float, float]]:
    """(phase, median ms, max ms, share of the summed time) over attempts, for the
    phases measured in at least one attempt."""
    total = sum(v for a in attempts for v in a.values() if v is not None)
    rows = []
    for name in PHASES:
        vals = [v for a in attempts if (v := a.get(name)) is not None]
        if vals:
            share = sum(vals) / total if total > 0 else 0.0
            rows.append((name, float(median(vals)), float(max(vals)), share))
    return rows
