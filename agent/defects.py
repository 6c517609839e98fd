"""Defects the reference agent can inject, one at a time, to prove each gate fires.

    defect = parse_defect("gap_ms=400")       # pure; InputError names a bad one
    defect.kind, defect.value                  # "gap_ms", 400.0

A defect comes from the worker's `--defect NAME[=VALUE]` (every room) or from the
room metadata (`agent.defect`, set per case by a suite file). Each injects one real
fault at its real place in the pipeline; a fault that should happen "in the network"
is injected after the pre_rtc tee (`AFTER_TEE`), so pre_rtc still holds the clean
audio the agent meant to send:

| defect | where | effect |
|---|---|---|
| delay_ms=V | output | each reply's first frame is held V ms before the transport |
| early_reply | turn model | VAD only: the turn ends at the first pause |
| talk_over | session | says the reply, uninterruptible, 1 s before the caller's EoT |
| no_reply | LLM | answers with nothing |
| gap_ms=V | output, after tee | V ms of the reply handed over as silence, 0.5 s in |
| clip_db=V | TTS | the agent's own audio amplified by V dB, clipped |
| lowpass_hz=V | output, after tee | a 4th-order low-pass at V Hz |
| speed=V | output, after tee | the reply played V times faster |
| llm_ttft_ms=V | LLM | V ms to the first token |
| pace_jitter_ms=V | output, after tee | every 10 frames the pump lets the queue run dry, V ms |
| stop_on_noise | session | stops its reply whenever the caller's track has sound |
| no_reply_end | messages | reply_end is never sent |
| stop_mid_reply | output + messages | the audio stops half way; no reply_end |
| crash_mid_reply | job | the job dies 0.5 s into its first reply (the worker lives) |
| silent | output, after tee | every frame handed over is silence |
| no_agent_ready | messages | agent_ready is never sent |
| stale_trace | messages | every message is also sent with another trace_id |
| bad_json | messages | every message is followed by malformed JSON on its topic |
| dup_msg_id | messages | every message is sent twice, same msg_id |
| ignore_barge_in | session | interruptions disabled |
"""

from __future__ import annotations

from dataclasses import dataclass

from autortc.errors import InputError

# defect -> (needs a value, default value)
DEFECTS: dict[str, tuple[bool, float | None]] = {
    "delay_ms": (True, 200.0),
    "early_reply": (False, None),
    "talk_over": (False, None),
    "no_reply": (False, None),
    "gap_ms": (True, 400.0),
    "clip_db": (True, 12.0),
    "lowpass_hz": (True, 3500.0),
    "speed": (True, 1.05),
    "llm_ttft_ms": (True, 150.0),
    "pace_jitter_ms": (True, 50.0),
    "stop_on_noise": (False, None),
    "no_reply_end": (False, None),
    "stop_mid_reply": (False, None),
    "crash_mid_reply": (False, None),
    "silent": (False, None),
    "no_agent_ready": (False, None),
    "stale_trace": (False, None),
    "bad_json": (False, None),
    "dup_msg_id": (False, None),
    "ignore_barge_in": (False, None),
}
AFTER_TEE = frozenset(
    {"gap_ms", "lowpass_hz", "speed", "pace_jitter_ms", "silent", "stop_mid_reply"}
)
MESSAGE_DEFECTS = frozenset(
    {"no_reply_end", "stop_mid_reply", "no_agent_ready", "stale_trace", "bad_json", "dup_msg_id"}
)


@dataclass(frozen=True)
class Defect:
    kind: str
    value: float | None = None

    def __str__(self) -> str:
        return self.kind if self.value is None else f"{self.kind}={self.value:g}"

    def is_(self, kind: str) -> bool:
        return self.kind == kind

    def number(self, kind: str) -> float | None:
        """The defect's value when it is `kind`, else None."""
        return self.value if self.kind == kind else None


NO_DEFECT = Defect("none")


def parse_defect(text: str | None) -> Defect:
    """`NAME` or `NAME=VALUE`; empty or "none" is no defect. InputError on anything else."""
    if text is None or not text.strip() or text.strip() == "none":
        return NO_DEFECT
    name, sep, raw = text.strip().partition("=")
    if name not in DEFECTS:
        known = ", ".join(sorted(DEFECTS))
        raise InputError(f"defect {name!r}: unknown (one of: {known})")
    needs_value, default = DEFECTS[name]
    if not needs_value:
        if sep:
            raise InputError(f"defect {name!r} takes no value")
        return Defect(name)
    if not sep:
        return Defect(name, default)
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"defect {name!r}: value {raw!r} is not a number") from None
    if not value > 0 or value != value:
        raise InputError(f"defect {name!r}: value must be > 0, got {raw}")
    return Defect(name, value)
