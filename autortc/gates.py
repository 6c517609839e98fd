"""Gates: the suite's verdict, judged on typed attempt rows (pure).

A gate failure is data (`GateResult`), never an exception.

Per case only the final attempt counts (`rows.final_attempts`). A case whose
final attempt is still infrastructure-failed (BARRIER_TIMEOUT, AGENT_NOT_JOINED,
BOT_CRASHED, TIMEOUT) yields the `infrastructure` gate's INFRA and is left out of
every other gate. POST_SILENT after its retry is not infra: it fails
`audio_valid_rate`.

The gates are declared once, in `SUITE_GATES` and `FINGERPRINTS`: each names its
metric (from the registry), whether it judges the attempt's own value ("first")
or every value at the metric's level ("each"), its aggregation, its threshold in
`GatesConfig`, and a suggested fix. Stability's threshold proposals read the same
declarations.

Scoping: each suite gate is judged on the P0 rows (PASS / FAIL / SKIP) and again
on the P1 rows, where a violation is only WARN (scope "P1"). The PRIMARY_KPI
regression gate is P0 only. Fingerprints (boom, speed drift, distortion) are
WARN only. SKIP: no value to judge.

Verdict precedence (`overall_verdict`): any FAIL -> FAIL, exit 1; else any INFRA
-> INFRA, exit 2; else PASS, exit 0. WARN and SKIP never change the exit code. A
FAIL wins over INFRA because it is a finding about the agent that a rerun would
not fix.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum

from autortc.errors import EXIT_FAIL, EXIT_INFRA, EXIT_PASS
from autortc.gates_config import DEFAULT_GATES_PATH, GatesConfig, load_gates
from autortc.metrics import registry as M
from autortc.metrics import stats
from autortc.metrics.registry import Agg, Metric
from autortc.metrics.rows import AttemptRow, TurnRow, final_attempts
from autortc.metrics.status import REPLY_INCOMPLETE

__all__ = [
    "DEFAULT_GATES_PATH",
    "FINGERPRINTS",
    "SUITE_GATES",
    "GateResult",
    "GatesConfig",
    "evaluate_gates",
    "load_gates",
    "overall_verdict",
]


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    SKIP = "SKIP"
    INFRA = "INFRA"


@dataclass(frozen=True)
class GateResult:
    name: str
    observed: float | None
    threshold: float | None
    verdict: str  # a Verdict
    fix: str | None
    scope: str  # "P0" | "P1" | "all" | "vs baseline"
    detail: str = ""

    def to_dict(self) -> dict[str, str | float | None]:
        return asdict(self)


class Tune(StrEnum):
    """How `autortc stability` proposes a gate's threshold from clean runs."""

    P95_X12 = "p95x1.2"  # latency P95-type: P95 x 1.2 + a margin
    MEDIAN_2SIGMA = "median+2sigma"  # TTFT-type
    HARD = "hard"  # a hard rule: the default stays


@dataclass(frozen=True)
class SuiteGate:
    name: str
    metric: Metric
    each: bool  # True: every value at the metric's level; False: the attempt's own (first)
    config_key: str  # the GatesConfig field holding the threshold
    passes: Callable[[float, float], bool]  # (observed, threshold) -> ok
    tune: Tune
    fix: str
    skip_reason: str = "no value measured"
    turns: Callable[[TurnRow], bool] | None = None  # which turns a turn-level gate judges
    explain: Metric | None = None  # shown for each offender (e.g. how early it answered)

    def offender_note(self, row: AttemptRow) -> str:
        if self.explain is None:
            return row.case_id
        vals = row.values(self.explain)
        return f"{row.case_id} ({self.explain.name} {max(vals):g})" if vals else row.case_id

    @property
    def agg(self) -> Agg:
        return self.metric.aggregation

    def threshold(self, config: GatesConfig) -> float:
        return float(getattr(config, self.config_key))

    def values(self, row: AttemptRow) -> list[float]:
        if self.each and self.turns is not None:
            vals = (t.get(self.metric) for t in row.turns if self.turns(t))
            return [float(v) for v in vals if v is not None]
        if self.each:
            return row.values(self.metric)
        v = row.get(self.metric)
        return [] if v is None else [float(v)]


NO_TRACE = "the agent gives no trace"

SUITE_GATES: tuple[SuiteGate, ...] = (
    SuiteGate(
        "eot_to_first_audio_p95",
        M.EOT_TO_FIRST_AUDIO,
        each=False,
        config_key="eot_to_first_audio_p95_ms",
        passes=operator.le,
        tune=Tune.P95_X12,
        fix="Find the slow stage: compare agent_eot_to_first_audio_ms, fast_lane_ttft_ms and "
        "tts_first_to_publish_ms per turn (endpointing hangover, LLM TTFT, TTS first chunk); "
        "then check the user bot's send queue (AudioSource.queued_duration).",
    ),
    SuiteGate(
        "tts_first_to_publish_p95",
        M.TTS_FIRST_TO_PUBLISH,
        each=True,
        config_key="tts_first_to_publish_p95_ms",
        passes=operator.le,
        tune=Tune.P95_X12,
        fix="Check the path from the TTS engine to AudioSource.capture_frame: publish the first "
        "chunk at once (no full-sentence buffering), check resampling and chunk pacing.",
        skip_reason=NO_TRACE,
    ),
    SuiteGate(
        M.AUDIBLE_DROPOUT.name,  # gated as itself
        M.AUDIBLE_DROPOUT,
        each=True,
        config_key="audible_dropout_max",
        passes=operator.le,
        tune=Tune.HARD,
        fix="Compare pre_rtc.wav with post_rtc_reply.wav at the dropped frames; check "
        "inter_arrival_p95_ms, the AudioSource queue and packet loss on the agent's uplink.",
    ),
    SuiteGate(
        "max_gap",
        M.MAX_GAP,
        each=True,
        config_key="max_gap_limit_ms",
        passes=operator.lt,
        tune=Tune.P95_X12,
        fix="Check the TTS chunk pacing and the AudioSource queue, and compare added_gap_ms with "
        "max_gap_ms (equal: the network added the gap; smaller: the pause is in the agent's own "
        "audio).",
    ),
    SuiteGate(
        M.CLIPPING_RATIO.name,  # gated as itself
        M.CLIPPING_RATIO,
        each=True,
        config_key="clipping_ratio_max",
        passes=operator.lt,
        tune=Tune.HARD,
        fix="Lower the TTS output gain or add a limiter before publishing; check pre_rtc.wav for "
        "clipping to tell the agent from the transport.",
    ),
    SuiteGate(
        "fast_lane_ttft_p95",
        M.FAST_LANE_TTFT,
        each=True,
        config_key="fast_lane_ttft_p95_ms",
        passes=operator.le,
        tune=Tune.MEDIAN_2SIGMA,
        fix="Cut LLM time to first token: keep the connection warm, stream tokens, use a faster "
        "model or a shorter prompt for the first sentence.",
        skip_reason=NO_TRACE,
    ),
    SuiteGate(
        "inter_arrival_p95",
        M.INTER_ARRIVAL_P95,
        each=True,
        config_key="inter_arrival_p95_limit_ms",
        passes=operator.le,
        tune=Tune.P95_X12,
        fix="Check the agent's frame pacing: publish 10 ms frames from one task at real-time pace, "
        "avoid blocking the event loop (CPU-bound TTS/VAD in a thread); check network jitter.",
    ),
    SuiteGate(
        M.FALSE_ENDPOINT.name,
        M.FALSE_ENDPOINT,
        each=True,
        config_key="false_endpoint_max",
        passes=operator.le,
        tune=Tune.HARD,
        fix="The agent answered while the caller was still talking: use a turn detector (not "
        "the VAD's silence alone), lengthen the endpointing delay, and check early_reply_ms "
        "against the pauses in the utterance.",
        explain=M.EARLY_REPLY,
    ),
    SuiteGate(
        M.UNANSWERED.name,
        M.UNANSWERED,
        each=True,
        config_key="unanswered_max",
        passes=operator.le,
        tune=Tune.HARD,
        fix="The agent never answered within expect.within_ms: check agent.log for the turn "
        "(VAD end, STT final, LLM request) and whether the user's audio reached the agent.",
    ),
    SuiteGate(
        M.FALSE_INTERRUPTION.name,
        M.FALSE_INTERRUPTION,
        each=True,
        config_key="false_interruption_max",
        passes=operator.le,
        tune=Tune.HARD,
        fix="Background noise stopped the reply: raise the interruption's minimum speech "
        "duration or VAD threshold, or require words (STT) before treating sound as a barge-in.",
    ),
    SuiteGate(
        "overlap",
        M.OVERLAP,
        each=True,
        config_key="overlap_limit_ms",
        passes=operator.le,
        tune=Tune.P95_X12,
        fix="The agent talked over the caller: check false_endpoint and early_reply_ms, and "
        "how fast the agent stops when the caller keeps talking.",
        turns=lambda t: not t.is_barge_in,
    ),
    SuiteGate(
        "barge_in_stop",
        M.BARGE_IN_STOP,
        each=True,
        config_key="barge_in_stop_limit_ms",
        passes=operator.le,
        tune=Tune.P95_X12,
        fix="The agent kept talking after the caller barged in: enable interruptions, lower "
        "the interruption's minimum duration, and clear the audio queue on interrupt.",
        skip_reason="no barge-in turn",
    ),
)

REPLY_INCOMPLETE_GATE = "reply_complete"
REPLY_INCOMPLETE_FIX = (
    "A reply started but never ended: check the agent log for a crash or a cancelled "
    "playback, and that reply_end is sent in a finally block (also when interrupted)."
)
AUDIO_VALID_RATE = "audio_valid_rate"
AUDIO_VALID_FIX = (
    "POST_SILENT: check the barrier and the agent track publication (agent_ready only after the "
    "track is published and the session started)."
)
KPI_REGRESSION = "primary_kpi_regression"
KPI_REGRESSION_FIX = (
    "Compare per-stage latencies with the baseline's metrics.csv (agent_eot_to_first_audio_ms, "
    "fast_lane_ttft_ms, tts_first_to_publish_ms) to find the stage that regressed; rerun to rule "
    "out noise if the CI includes 0."
)
INFRASTRUCTURE = "infrastructure"
INFRASTRUCTURE_FIX = (
    "Rerun the failed cases; check the LiveKit server, agent dispatch (room prefix), the bot logs "
    "and the barrier timeout."
)


@dataclass(frozen=True)
class Fingerprint:
    """A P1 fingerprint: WARN when `flags(value, config)` for some attempt, never FAIL."""

    name: str
    metric: Metric
    config_key: str  # the GatesConfig field holding the threshold
    flags: Callable[[float, float], bool]  # (value, threshold) -> warn
    observe: Callable[[float], float]  # what is reported as "observed" (max over attempts)
    fix: str

    def threshold(self, config: GatesConfig) -> float:
        return float(getattr(config, self.config_key))


FINGERPRINTS: tuple[Fingerprint, ...] = (
    Fingerprint(
        "fp_boom",
        M.INPUT_SPIKE_COUNT,
        config_key="warn_input_spike_count",
        flags=operator.gt,
        observe=float,
        fix="The input has spikes: listen to post_rtc_reply.wav for a boom and check the agent's "
        "VAD/AGC/echo handling of clicks.",
    ),
    Fingerprint(
        "fp_speed_drift",
        M.DRIFT_RATIO,
        config_key="warn_drift_fraction",
        flags=lambda v, t: abs(1.0 - v) > t,
        observe=lambda v: abs(1.0 - v),
        fix="Reply duration differs between pre_rtc and the probe: check sample-rate conversions "
        "(TTS rate vs 48 kHz) and jitter-buffer time stretching.",
    ),
    Fingerprint(
        "fp_distortion",
        M.HF_RATIO_DROP,
        config_key="warn_hf_ratio_drop",
        flags=operator.gt,
        observe=float,
        fix="4-8 kHz energy was lost: check resampling / low-pass in the TTS path (8 or 16 kHz "
        "voices) and the codec bandwidth and bitrate.",
    ),
)


def _judge(
    gate: SuiteGate, rows: Sequence[AttemptRow], config: GatesConfig, *, scope: str
) -> GateResult:
    thr = gate.threshold(config)
    pairs = [(r, v) for r in rows for v in gate.values(r)]
    if not pairs:
        return GateResult(
            gate.name,
            None,
            thr,
            Verdict.SKIP,
            None,
            scope,
            f"SKIP: {gate.skip_reason} ({len(rows)} cases)",
        )
    values = [v for _, v in pairs]
    observed = stats.p95(values) if gate.agg is Agg.P95 else max(values)
    assert observed is not None
    passed = gate.passes(observed, thr)
    offenders = sorted({gate.offender_note(r) for r, v in pairs if not gate.passes(v, thr)})
    detail = f"{gate.agg} over {len(values)} values from {len(rows)} cases"
    if offenders:
        detail += "; over threshold: " + ", ".join(offenders)
    bad = Verdict.FAIL if scope == "P0" else Verdict.WARN
    return GateResult(
        gate.name,
        round(observed, 6),
        thr,
        Verdict.PASS if passed else bad,
        None if passed else gate.fix,
        scope,
        detail,
    )


def _reply_incomplete(rows: Sequence[AttemptRow], config: GatesConfig, *, scope: str) -> GateResult:
    thr = float(config.reply_incomplete_max)
    bad = [r for r in rows if r.capture_status == REPLY_INCOMPLETE]
    if not rows:
        return GateResult(
            REPLY_INCOMPLETE_GATE, None, thr, Verdict.SKIP, None, scope, "SKIP: no measured cases"
        )
    passed = len(bad) <= thr
    verdict = Verdict.PASS if passed else (Verdict.FAIL if scope == "P0" else Verdict.WARN)
    detail = f"{len(bad)}/{len(rows)} cases" + (
        ": " + "; ".join(f"{r.case_id} ({r.status_reason})" for r in bad) if bad else ""
    )
    return GateResult(
        REPLY_INCOMPLETE_GATE,
        float(len(bad)),
        thr,
        verdict,
        None if passed else REPLY_INCOMPLETE_FIX,
        scope,
        detail,
    )


def _valid_rate(rows: Sequence[AttemptRow], config: GatesConfig, *, scope: str) -> GateResult:
    thr = config.audio_valid_rate_min
    if not rows:
        return GateResult(
            AUDIO_VALID_RATE, None, thr, Verdict.SKIP, None, scope, "SKIP: no measured cases"
        )
    n_valid = sum(r.audio_valid for r in rows)
    rate = n_valid / len(rows)
    bad = sorted(r.case_id for r in rows if not r.audio_valid)
    passed = rate >= thr
    verdict = Verdict.PASS if passed else (Verdict.FAIL if scope == "P0" else Verdict.WARN)
    detail = f"{n_valid}/{len(rows)} cases valid" + (f"; invalid: {', '.join(bad)}" if bad else "")
    return GateResult(
        AUDIO_VALID_RATE,
        round(rate, 6),
        thr,
        verdict,
        None if passed else AUDIO_VALID_FIX,
        scope,
        detail,
    )


def _fingerprint(fp: Fingerprint, rows: Sequence[AttemptRow], config: GatesConfig) -> GateResult:
    thr = fp.threshold(config)
    measured = [(r.case_id, v) for r in rows for v in r.values(fp.metric)]
    if not measured:
        return GateResult(fp.name, None, thr, Verdict.SKIP, None, "all", "SKIP: not measured")
    flagged = sorted({c for c, v in measured if fp.flags(v, thr)})
    observed = max(fp.observe(v) for _, v in measured)
    detail = f"{len(flagged)}/{len(rows)} cases flagged"
    if flagged:
        detail += ": " + ", ".join(flagged)
    return GateResult(
        fp.name,
        round(observed, 6),
        thr,
        Verdict.WARN if flagged else Verdict.PASS,
        fp.fix if flagged else None,
        "all",
        detail,
    )


def _infrastructure(finals: Sequence[AttemptRow]) -> GateResult:
    infra = [r for r in finals if r.is_infra]
    if not infra:
        return GateResult(
            INFRASTRUCTURE, 0.0, 0.0, Verdict.PASS, None, "all", f"{len(finals)} cases measured"
        )

    def why(r: AttemptRow) -> str:
        retried = "after its retry" if r.attempt > 1 else "not retried"
        reason = f": {r.status_reason}" if r.status_reason else ""
        return f"{r.case_id}={r.capture_status} ({retried}{reason})"

    return GateResult(
        INFRASTRUCTURE,
        float(len(infra)),
        0.0,
        Verdict.INFRA,
        INFRASTRUCTURE_FIX,
        "all",
        "infrastructure-failed: " + "; ".join(why(r) for r in infra),
    )


def _kpi_regression(kpi_delta_ms: float | None, config: GatesConfig) -> GateResult:
    thr = config.kpi_regression_ms
    if kpi_delta_ms is None:
        return GateResult(
            KPI_REGRESSION, None, thr, Verdict.SKIP, None, "vs baseline", "SKIP: no baseline"
        )
    passed = kpi_delta_ms <= thr
    return GateResult(
        KPI_REGRESSION,
        round(kpi_delta_ms, 3),
        thr,
        Verdict.PASS if passed else Verdict.FAIL,
        None if passed else KPI_REGRESSION_FIX,
        "vs baseline",
        f"delta {kpi_delta_ms:+.1f} ms vs allowed +{thr:.0f} ms",
    )


def evaluate_gates(
    rows: Sequence[AttemptRow],
    *,
    config: GatesConfig | None = None,
    kpi_delta_ms: float | None = None,
) -> list[GateResult]:
    """Judge a suite. `kpi_delta_ms` is PRIMARY_KPI - baseline (None: no baseline -> SKIP)."""
    cfg = config or GatesConfig()
    finals = final_attempts(rows)
    measured = [r for r in finals if not r.is_infra]
    results = [_infrastructure(finals)]
    for scope, scoped in (
        ("P0", [r for r in measured if r.is_p0]),
        ("P1", [r for r in measured if not r.is_p0]),
    ):
        if scope == "P1" and not scoped:
            continue
        results.extend(_judge(g, scoped, cfg, scope=scope) for g in SUITE_GATES)
        results.append(_valid_rate(scoped, cfg, scope=scope))
        results.append(_reply_incomplete(scoped, cfg, scope=scope))
    results.append(_kpi_regression(kpi_delta_ms, cfg))
    results.extend(_fingerprint(fp, measured, cfg) for fp in FINGERPRINTS)
    return results


def overall_verdict(gate_results: Sequence[GateResult]) -> tuple[str, int]:
    """FAIL (1) if any gate failed, else INFRA (2) if any infra, else PASS (0)."""
    verdicts = {g.verdict for g in gate_results}
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL, EXIT_FAIL
    if Verdict.INFRA in verdicts:
        return Verdict.INFRA, EXIT_INFRA
    return Verdict.PASS, EXIT_PASS
