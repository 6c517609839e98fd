"""capture_status, audio_valid and the retry rule (docs/spec/measurement.md).

Reading of the spec's "first match wins" table:
1. An infrastructure status set by the orchestrator (`inputs.infra_status`:
   BARRIER_TIMEOUT, AGENT_NOT_JOINED, BOT_CRASHED, TIMEOUT, ROOM_GONE, or BAD_ARTIFACT when a file
   of the attempt could not be read) wins over everything: when the bots never got to
   record properly, the recordings prove nothing.
2. OK: audio valid, every reply complete and sliced by its events, pre_rtc for the
   first reply.
3. POST_SILENT: the probe heard nothing (max(reply_rms, full_rms) < 0.01), whatever
   else is missing: without audio the other checks are moot.
4. REPLY_INCOMPLETE: an agent that speaks the protocol (not black-box) sent
   `reply_start` without `reply_end`. A FAIL for P0, never INFRA and never a silent
   fallback to energy slicing.
5. NO_REPLY_EVENTS: audio was heard that no reply events frame (a reply sliced from
   energy).
6. PRE_MISSING: no pre_rtc or no pre_rtc boundaries for the first reply.
A black-box agent (no events, no pre_rtc) is therefore NO_REPLY_EVENTS.
"""

from __future__ import annotations

from dataclasses import dataclass

from autortc.errors import UsageError

OK = "OK"
POST_SILENT = "POST_SILENT"
REPLY_INCOMPLETE = "REPLY_INCOMPLETE"
NO_REPLY_EVENTS = "NO_REPLY_EVENTS"
PRE_MISSING = "PRE_MISSING"
BARRIER_TIMEOUT = "BARRIER_TIMEOUT"
AGENT_NOT_JOINED = "AGENT_NOT_JOINED"
BOT_CRASHED = "BOT_CRASHED"
TIMEOUT = "TIMEOUT"
BAD_ARTIFACT = "BAD_ARTIFACT"
ROOM_GONE = "ROOM_GONE"  # the room was deleted or the connection lost mid-attempt
INTERRUPTED = "INTERRUPTED"  # a bot's status when the run was stopped under it (never
# an attempt's capture_status: a stopped run does not analyse the attempt under way)

ALL_STATUSES = (
    OK,
    POST_SILENT,
    REPLY_INCOMPLETE,
    NO_REPLY_EVENTS,
    PRE_MISSING,
    BARRIER_TIMEOUT,
    AGENT_NOT_JOINED,
    BOT_CRASHED,
    TIMEOUT,
    BAD_ARTIFACT,
    ROOM_GONE,
)
INFRA_STATUSES = (BARRIER_TIMEOUT, AGENT_NOT_JOINED, BOT_CRASHED, TIMEOUT, BAD_ARTIFACT, ROOM_GONE)
# retried once in a fresh room: what a transient of the agent, the network or the room
# explains. Not retried: a crash of our own bots or a case timeout (a retry would hide a
# harness bug), an unreadable artifact (it would be unreadable again), and every verdict
# about the agent (REPLY_INCOMPLETE, NO_REPLY_EVENTS, PRE_MISSING: judged as they are)
RETRY_STATUSES = frozenset({POST_SILENT, BARRIER_TIMEOUT, AGENT_NOT_JOINED, ROOM_GONE})
AUDIO_VALID_RMS = 0.01


def audio_valid(reply_rms: float | None, full_rms: float | None) -> bool:
    """max(reply_rms, full_rms) >= 0.01: the full recording can prove the agent spoke
    when a late event misplaced the reply slice."""
    values = [v for v in (reply_rms, full_rms) if v is not None]
    return bool(values) and max(values) >= AUDIO_VALID_RMS


@dataclass(frozen=True)
class StatusFacts:
    infra_status: str | None
    audio_valid: bool
    all_replies_from_events: bool
    pre_present: bool
    reply_incomplete: bool = False


def capture_status(facts: StatusFacts) -> str:
    """First match wins; see the module docstring for the order."""
    if facts.infra_status:
        if facts.infra_status not in INFRA_STATUSES:
            raise UsageError(f"unknown infra_status {facts.infra_status!r}")
        return facts.infra_status
    complete = not facts.reply_incomplete
    if facts.audio_valid and complete and facts.all_replies_from_events and facts.pre_present:
        return OK
    if not facts.audio_valid:
        return POST_SILENT
    if facts.reply_incomplete:
        return REPLY_INCOMPLETE
    if not facts.all_replies_from_events:
        return NO_REPLY_EVENTS
    return PRE_MISSING


def should_retry(status: str) -> bool:
    """POST_SILENT, BARRIER_TIMEOUT, AGENT_NOT_JOINED and ROOM_GONE are retried once in a
    fresh room (see RETRY_STATUSES)."""
    return status in RETRY_STATUSES


def is_infra(status: str) -> bool:
    return status in INFRA_STATUSES
