"""The case schema: pydantic models, checked when a case file loads.

A case is one room: a list of user turns, what the scripted agent answers, and
what is expected. Every model forbids unknown fields, so a typo is an error
that names the file and the dotted field path (see `load_suite`).

`agent.reply_text` is either one string (the agent answers every turn with it)
or a list with exactly one reply per turn (`reply_for_turn(i)` picks it).
A turn with `barge_in` is spoken while the agent is still answering the
previous turn, `after_agent_ms` after the agent's reply audio started; the
first turn cannot barge in.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from autortc.errors import CaseError, InputError

logger = logging.getLogger(__name__)

ESPEAK_BASE_RATE_WPM = 175
NoiseKind = Literal["white", "pink", "brown"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Noise(_Strict):
    """Seeded noise mixed into the whole turn at `snr_db` (speech power / noise power)."""

    kind: NoiseKind
    snr_db: float = Field(ge=-20, le=60)
    seed: int = Field(ge=0)


class Spike(_Strict):
    """A one-sample impulse of amplitude `peak` (full scale 1.0) at `at_ms` from the wav start."""

    at_ms: int = Field(ge=0)
    peak: float = Field(ge=-1.0, le=1.0)

    @field_validator("peak")
    @classmethod
    def _nonzero(cls, v: float) -> float:
        if v == 0:
            raise ValueError("peak must be non-zero")
        return v


class BargeIn(_Strict):
    """Speak this turn once the agent has been answering for `after_agent_ms`."""

    after_agent_ms: int = Field(ge=0)


class Turn(_Strict):
    say: str = Field(min_length=1)
    voice: str = "en-us"
    rate: float = Field(default=1.0, gt=0.3, le=3.0)  # multiplier of espeak's 175 wpm
    gain_db: float = Field(default=0.0, ge=-60, le=20)
    noise: Noise | None = None
    spikes: list[Spike] | None = None
    pause_ms: int | None = Field(default=None, gt=0, le=5000)
    barge_in: BargeIn | None = None
    speed: float | None = Field(default=None, ge=0.5, le=2.0)  # applied after synthesis

    @property
    def rate_wpm(self) -> int:
        return round(ESPEAK_BASE_RATE_WPM * self.rate)

    @model_validator(mode="after")
    def _pause_needs_two_words(self) -> Turn:
        if self.pause_ms is not None and len(self.say.split()) < 2:
            raise ValueError("pause_ms needs `say` with at least two words (split at a space)")
        return self


class AgentSpec(_Strict):
    """What the reference agent's scripted LLM answers, and the voice its TTS speaks in."""

    reply_text: str | list[str]
    voice: str = "en-us"
    # a defect for the reference agent to inject in this case (autortc selftest), e.g.
    # "gap_ms=400"; a real agent ignores it. The agent checks the name and value.
    defect: str | None = Field(default=None, pattern=r"^[a-z_]+(=[0-9.]+)?$")
    # the reference agent becomes the calibration agent (agent/calibration.py): it
    # answers every turn with a tone this many ms after the EoT sample reached it
    calibration_delay_ms: int | None = Field(default=None, ge=0, le=5000)
    # the reference agent's recogniser in this case: scripted (the room's script, the
    # default) or pocketsphinx (offline, its model in the package; agent/stt_engines.py)
    stt: Literal["scripted", "pocketsphinx"] | None = None

    @field_validator("reply_text")
    @classmethod
    def _non_empty(cls, v: str | list[str]) -> str | list[str]:
        texts = [v] if isinstance(v, str) else v
        if not texts or any(not t.strip() for t in texts):
            raise ValueError("reply_text must be a non-empty string or a list of them")
        return v

    def reply_for_turn(self, turn_index: int) -> str:
        if isinstance(self.reply_text, str):
            return self.reply_text
        return self.reply_text[turn_index]


class Expect(_Strict):
    reply: bool = True
    within_ms: int | None = Field(default=None, gt=0)


class Case(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$", max_length=80)
    priority: Literal["P0", "P1"]
    tags: list[str] = Field(default_factory=list)
    turns: list[Turn] = Field(min_length=1)
    agent: AgentSpec
    expect: Expect = Field(default_factory=Expect)
    record_pad_ms: int = Field(default=10_000, ge=0)
    timeout_s: float = Field(default=60.0, gt=0)
    room_wait_s: float = Field(default=0.0, ge=0)  # wait before this case's room opens
    source_case: str | None = None  # generated cases (nightly): the case whose audio is reused
    # the embedded transport's network for this case (a profile of
    # autortc/network/profiles.yaml, or "off": raw frames), whatever the run's --network;
    # LiveKit's is real
    network: str | None = Field(default=None, pattern=r"^[a-z0-9_]+$")

    @field_validator("turns")
    @classmethod
    def _first_turn_cannot_barge_in(cls, v: list[Turn]) -> list[Turn]:
        if v and v[0].barge_in is not None:
            raise ValueError("turns[0] cannot have barge_in: the agent has not spoken yet")
        return v

    @field_validator("agent")
    @classmethod
    def _one_reply_per_turn(cls, v: AgentSpec, info: ValidationInfo) -> AgentSpec:
        turns = info.data.get("turns")
        if isinstance(v.reply_text, list) and turns is not None and len(v.reply_text) != len(turns):
            raise ValueError(
                f"reply_text has {len(v.reply_text)} entries but the case has {len(turns)} turns"
            )
        plain = Turn(say="x").model_dump(exclude={"say"})
        if v.calibration_delay_ms is not None and turns is not None:
            for k, t in enumerate(turns):
                if t.model_dump(exclude={"say"}) != plain:
                    raise ValueError(
                        f"calibration_delay_ms needs plain turns (say only): the calibration "
                        f"agent renders them itself; turns[{k}] sets more"
                    )
        return v

    @field_validator("network")
    @classmethod
    def _a_shipped_profile(cls, v: str | None) -> str | None:
        from autortc.network.profiles import NETWORK_OFF, load_profiles

        if v is not None and v != NETWORK_OFF and v not in (names := load_profiles()):
            raise ValueError(f"no network profile '{v}' (choose from {', '.join(sorted(names))})")
        return v

    @property
    def audio_id(self) -> str:
        """The case id its audio files are named after (the source case for generated cases)."""
        return self.source_case or self.id


# --------------------------------------------------------------------------- loading

REPO_ROOT = Path(__file__).resolve().parents[1]
CASES_DIR = REPO_ROOT / "cases"
SUITE_NAMES = ("mini", "fast", "nightly", "calibration")
_UNION_TAGS = {"str", "int", "float", "bool", "none", "list", "dict"}


class NightlySpec(_Strict):
    """`generate:` block of a suite file: N single-turn cases cycling through a suite's cases."""

    from_suite: str = "fast"
    priority: Literal["P0", "P1"] = "P0"
    turns: int = Field(default=20, ge=1, le=1000)
    room_wait_s: float = Field(default=0.0, ge=0)


def _display(path: Path) -> str:
    """A path as shown in messages: relative to the repo root when under it."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _field_path(loc: tuple[int | str, ...], prefix: str = "") -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS or "[" in part or "-" in part:
            continue  # pydantic's union-member tags (e.g. 'list[str]') are not fields
        else:
            out += f".{part}" if out else part
    return out or "(case)"


def _validate_case(data: object, path: Path, prefix: str = "") -> Case:
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        problem = first["msg"]
        if len(errors) > 1:
            problem += f" (and {len(errors) - 1} more error(s))"
        raise CaseError(_display(path), _field_path(tuple(first["loc"]), prefix), problem) from None


def _read_yaml(path: Path) -> object:
    if not path.is_file():
        raise InputError(f"{_display(path)}: case file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{_display(path)}: cannot read: {exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{_display(path)}: not a text file (not UTF-8): expected YAML") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"{_display(path)}: malformed YAML{where}: {problem}") from None


def load_case_file(path: Path) -> Case:
    """Load a file holding exactly one case. Its `id` must match the file name."""
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise CaseError(_display(path), "(case)", "expected a mapping with the case's fields")
    case = _validate_case(data, path)
    if case.id != path.stem:
        raise CaseError(_display(path), "id", f"id '{case.id}' does not match file name")
    return case


def nightly_cases(
    source: list[Case], *, n_turns: int = 20, priority: str = "P0", room_wait_s: float = 0.0
) -> list[Case]:
    """N single-turn cases cycling through the first turns of `source`'s cases of `priority`.

    Each gets its own room (its own case), id `nightly_t07_<source id>`, and reuses the
    source case's turn-0 audio (`source_case`).
    """
    pool = [c for c in source if c.priority == priority]
    if not pool:
        raise InputError(f"nightly: no {priority} cases to cycle through")
    out = []
    for i in range(n_turns):
        src = pool[i % len(pool)]
        out.append(
            Case(
                id=f"nightly_t{i:02d}_{src.id}",
                priority=src.priority,
                tags=[*src.tags, "nightly"],
                turns=[src.turns[0]],
                agent=AgentSpec(reply_text=src.agent.reply_for_turn(0)),
                expect=src.expect,
                record_pad_ms=src.record_pad_ms,
                timeout_s=src.timeout_s,
                room_wait_s=room_wait_s,
                source_case=src.audio_id,
            )
        )
    return out


def _resolve(name_or_path: str, cases_dir: Path) -> Path:
    if name_or_path in SUITE_NAMES:
        return cases_dir / f"{name_or_path}.yaml"
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        return Path(name_or_path)
    raise InputError(
        f"unknown suite '{name_or_path}': expected mini, fast, nightly, calibration "
        "or a path to a .yaml file"
    )


def _load_entries(entries: object, path: Path, prefix: str, cases_dir: Path) -> list[Case]:
    if not isinstance(entries, list):
        raise CaseError(_display(path), prefix or "(suite)", "expected a list of case ids or cases")
    cases = []
    for i, entry in enumerate(entries):
        where = f"{prefix}[{i}]"
        if isinstance(entry, str):
            case_path = cases_dir / "defs" / f"{entry}.yaml"
            if not case_path.is_file():
                raise CaseError(_display(path), where, f"no case file {_display(case_path)}")
            cases.append(load_case_file(case_path))
        elif isinstance(entry, dict):
            cases.append(_validate_case(entry, path, where))
        else:
            raise CaseError(_display(path), where, "expected a case id or a case mapping")
    return cases


def load_suite(name_or_path: str, *, cases_dir: Path = CASES_DIR) -> list[Case]:
    """Load a suite by name (mini, fast, nightly, calibration) or from a YAML file.

    A file holds one case (a mapping with `id`), a list of case ids / cases, or a
    mapping `{suite: name, cases: [...]}` / `{suite: name, generate: {...}}`.
    Raises InputError (file-level) or CaseError (names the file and field).
    """
    path = _resolve(name_or_path, cases_dir)
    data = _read_yaml(path)
    if isinstance(data, list):
        cases = _load_entries(data, path, "", cases_dir)
    elif isinstance(data, dict) and "id" in data:
        cases = [_validate_case(data, path)]
    elif isinstance(data, dict):
        extra = sorted(set(data) - {"suite", "cases", "generate"})
        if extra:
            raise CaseError(_display(path), str(extra[0]), "Extra inputs are not permitted")
        if ("cases" in data) == ("generate" in data):
            raise CaseError(_display(path), "cases", "a suite needs exactly one of cases, generate")
        if "cases" in data:
            cases = _load_entries(data["cases"], path, "cases", cases_dir)
        else:
            try:
                spec = NightlySpec.model_validate(data["generate"])
            except ValidationError as exc:
                first = exc.errors()[0]
                field = _field_path(tuple(first["loc"]), "generate")
                raise CaseError(_display(path), field, first["msg"]) from None
            source = load_suite(spec.from_suite, cases_dir=cases_dir)
            cases = nightly_cases(
                source, n_turns=spec.turns, priority=spec.priority, room_wait_s=spec.room_wait_s
            )
    else:
        raise CaseError(_display(path), "(suite)", "expected a case, a list or a suite mapping")
    seen: set[str] = set()
    for i, case in enumerate(cases):
        if case.id in seen:
            raise CaseError(_display(path), f"cases[{i}].id", f"duplicate case id '{case.id}'")
        seen.add(case.id)
    logger.debug("suite loaded", extra={"suite": name_or_path, "n_cases": len(cases)})
    return cases
