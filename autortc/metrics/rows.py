"""Typed rows: one `AttemptRow` per case attempt, with its replies and turns.

These replace the dicts that used to flow from the measurement core to gates,
KPI, stability and reports. Figures are keyed by metric name and read through
the registry (`row.get(metrics.MAX_GAP)`); nothing else spells a metric name.

`AttemptRow.to_dict()` is the JSON layout of `metrics.json` and of a
`metrics.csv` row; `AttemptRow.from_dict()` reads it back (stability, merge,
baseline tools), so rows survive a round trip through disk unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from pydantic import JsonValue

from autortc.errors import InputError
from autortc.metrics import registry as M
from autortc.metrics.registry import Metric
from autortc.metrics.status import INFRA_STATUSES

Value = float | int | None
Figures = dict[str, Value]


@dataclass(frozen=True)
class ReplyRow:
    """One reply slice and its Ring 0 / Ring 1 figures."""

    turn_index: int
    reply_seq: int | None
    interrupted: bool | None
    slice_source: str
    start_sample: int
    end_sample: int
    figures: Figures = field(default_factory=dict)

    def get(self, metric: Metric) -> Value:
        return self.figures.get(metric.name)

    def to_dict(self) -> dict[str, JsonValue]:
        head: dict[str, JsonValue] = {
            "turn_index": self.turn_index,
            "reply_seq": self.reply_seq,
            "interrupted": self.interrupted,
            "slice_source": self.slice_source,
            "start_sample": self.start_sample,
            "end_sample": self.end_sample,
        }
        return {**head, **self.figures}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> ReplyRow:
        return cls(
            turn_index=_int(d.get("turn_index"), 0),
            reply_seq=_opt_int(d.get("reply_seq")),
            interrupted=_opt_bool(d.get("interrupted")),
            slice_source=str(d.get("slice_source") or ""),
            start_sample=_int(d.get("start_sample"), 0),
            end_sample=_int(d.get("end_sample"), 0),
            figures=_figures(d, M.REPLY_METRICS),
        )


@dataclass(frozen=True)
class TurnRow:
    """One user turn and its Ring 2 figures."""

    turn_index: int
    is_barge_in: bool
    reply_seq: int | None
    figures: Figures = field(default_factory=dict)
    hop_note: str | None = None  # why the hop budget's split is withheld, when it is

    def get(self, metric: Metric) -> Value:
        return self.figures.get(metric.name)

    def to_dict(self) -> dict[str, JsonValue]:
        head: dict[str, JsonValue] = {
            "turn_index": self.turn_index,
            "is_barge_in": self.is_barge_in,
            "reply_seq": self.reply_seq,
        }
        if self.hop_note is not None:
            head["hop_note"] = self.hop_note
        return {**head, **self.figures}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> TurnRow:
        return cls(
            turn_index=_int(d.get("turn_index"), 0),
            is_barge_in=bool(d.get("is_barge_in")),
            reply_seq=_opt_int(d.get("reply_seq")),
            figures=_figures(d, M.TURN_METRICS),
            hop_note=str(d["hop_note"]) if d.get("hop_note") is not None else None,
        )


@dataclass(frozen=True)
class AttemptRow:
    """Everything measured on one case attempt (see module doc)."""

    case_id: str
    priority: str
    attempt: int
    trace_id: str
    capture_status: str
    audio_valid: bool
    retry: bool
    slice_source: str | None
    reply_start_sample: int | None
    reply_end_sample: int | None
    figures: Figures = field(default_factory=dict)
    replies: tuple[ReplyRow, ...] = ()
    turns: tuple[TurnRow, ...] = ()
    null_reasons: dict[str, str] = field(default_factory=dict)
    room: str | None = None
    status_reason: str | None = None  # why the capture_status is not OK, when known
    warnings: tuple[str, ...] = ()  # e.g. a bot that exited abnormally after its results
    phases_ms: dict[str, float | None] = field(default_factory=dict)  # autortc/phases.py
    codec: str | None = None  # how the agent's track travelled (Ring 1 is through it)
    repeat: int | None = None  # with --repeat N: which run of the case (1..N); else None

    @property
    def tag(self) -> str:
        """`a2`, or `r3a2` for the third repeat's second attempt (its directory's name)."""
        return attempt_tag(self.attempt, self.repeat)

    def get(self, metric: Metric) -> Value:
        """The attempt's own value of `metric` (the first reply / turn 0 for promoted ones)."""
        return self.figures.get(metric.name)

    @property
    def is_infra(self) -> bool:
        return self.capture_status in INFRA_STATUSES

    @property
    def is_p0(self) -> bool:
        return self.priority == "P0"

    def values(self, metric: Metric) -> list[float]:
        """Every non-null value of `metric` at its own level (per reply, per turn, or one)."""
        if metric.level is M.Level.REPLY:
            items: Iterable[Value] = (r.get(metric) for r in self.replies)
        elif metric.level is M.Level.TURN:
            items = (t.get(metric) for t in self.turns)
        else:
            items = (self.get(metric),)
        return [float(v) for v in items if v is not None]

    def with_room(self, room: str) -> AttemptRow:
        return replace(self, room=room)

    def to_dict(self) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] = {
            "case_id": self.case_id,
            "priority": self.priority,
            "attempt": self.attempt,
            "trace_id": self.trace_id,
            "capture_status": self.capture_status,
            "audio_valid": self.audio_valid,
            "retry": self.retry,
            "slice_source": self.slice_source,
            "reply_start_sample": self.reply_start_sample,
            "reply_end_sample": self.reply_end_sample,
        }
        out.update(self.figures)
        out["replies"] = [r.to_dict() for r in self.replies]
        out["turns"] = [t.to_dict() for t in self.turns]
        out["null_reasons"] = dict(self.null_reasons)
        if self.repeat is not None:
            out["repeat"] = self.repeat
        if self.room is not None:
            out["room"] = self.room
        if self.status_reason is not None:
            out["status_reason"] = self.status_reason
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.phases_ms:
            out["phases_ms"] = dict(self.phases_ms)
        if self.codec is not None:
            out["codec"] = self.codec
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, object], *, source: str = "row") -> AttemptRow:
        """Read a `to_dict()` layout (metrics.json, or a metrics.csv row with JSON cells)."""
        try:
            replies = [ReplyRow.from_dict(r) for r in _list_of_dicts(d.get("replies"))]
            turns = [TurnRow.from_dict(t) for t in _list_of_dicts(d.get("turns"))]
            reasons = d.get("null_reasons") or {}
            if isinstance(reasons, str):
                reasons = json.loads(reasons)
            if not isinstance(reasons, dict):
                raise TypeError("null_reasons is not a mapping")
            return cls(
                case_id=str(d["case_id"]),
                priority=str(d.get("priority") or "P0"),
                attempt=_int(d.get("attempt"), 1),
                repeat=_opt_int(d.get("repeat")),
                trace_id=str(d.get("trace_id") or ""),
                capture_status=str(d.get("capture_status") or ""),
                audio_valid=_opt_bool(d.get("audio_valid")) is True,
                retry=_opt_bool(d.get("retry")) is True,
                slice_source=_opt_str(d.get("slice_source")),
                reply_start_sample=_opt_int(d.get("reply_start_sample")),
                reply_end_sample=_opt_int(d.get("reply_end_sample")),
                figures=_figures(d, tuple(M.row_metrics())),
                replies=tuple(replies),
                turns=tuple(turns),
                null_reasons={str(k): str(v) for k, v in reasons.items()},
                room=_opt_str(d.get("room")),
                status_reason=_opt_str(d.get("status_reason")),
                warnings=_warnings(d.get("warnings")),
                phases_ms=_phases(d.get("phases_ms")),
                codec=_opt_str(d.get("codec")),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"{source}: not an AutoRTC metrics row ({e})") from None


def _warnings(v: object) -> tuple[str, ...]:
    if isinstance(v, str):  # a metrics.csv cell holds JSON
        v = json.loads(v) if v.strip() else []
    if v is None:
        return ()
    if not isinstance(v, list):
        raise TypeError("warnings is not a list")
    return tuple(str(x) for x in v)


def _phases(v: object) -> dict[str, float | None]:
    if isinstance(v, str):  # a metrics.csv cell holds JSON
        v = json.loads(v) if v.strip() else {}
    if _missing(v):
        return {}
    if not isinstance(v, dict):
        raise TypeError("phases_ms is not a mapping")
    return {str(k): None if x is None else float(x) for k, x in v.items()}


def attempt_tag(attempt: int, repeat: int | None) -> str:
    return f"a{attempt}" if repeat is None else f"r{repeat}a{attempt}"


def final_attempts(rows: Sequence[AttemptRow]) -> list[AttemptRow]:
    """The last attempt (highest `attempt`) of each case and repeat, in first-seen order."""
    last: dict[tuple[str, int | None], AttemptRow] = {}
    for r in rows:
        key = (r.case_id, r.repeat)
        if key not in last or r.attempt >= last[key].attempt:
            last[key] = r
    return list(last.values())


# -- parsing helpers (disk -> typed) -------------------------------------------------------


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and v != v) or v == ""  # None, NaN (CSV), ""


def _int(v: object, default: int) -> int:
    return default if _missing(v) else int(v)  # type: ignore[call-overload]


def _opt_int(v: object) -> int | None:
    return None if _missing(v) else int(v)  # type: ignore[call-overload]


def _opt_str(v: object) -> str | None:
    return None if _missing(v) else str(v)


def _opt_bool(v: object) -> bool | None:
    if _missing(v):
        return None
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes")
    return bool(v)


def _figures(d: Mapping[str, object], metrics: Sequence[Metric]) -> Figures:
    out: Figures = {}
    for m in metrics:
        if m.name not in d:
            continue
        v = d[m.name]
        if _missing(v):
            out[m.name] = None
        elif isinstance(v, bool) or not isinstance(v, int | float | str):
            raise TypeError(f"{m.name} is not a number")
        else:
            out[m.name] = int(float(v)) if m.is_count else float(v)
    return out


def _list_of_dicts(v: object) -> list[Mapping[str, object]]:
    if _missing(v):
        return []
    if isinstance(v, str):
        v = json.loads(v)
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise TypeError("expected a list of objects")
    return v
