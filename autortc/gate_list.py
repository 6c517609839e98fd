"""The gates, declared once: every suite gate and fingerprint, its metric, threshold
key, aggregation scope, how stability tunes it, and the fix it suggests (pure data).

`autortc.gates` judges rows against these; `autortc.stability_stats` proposes their
thresholds from clean runs; the self-test matrix names them.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from autortc.gates_config import GatesConfig
from autortc.metrics import registry as M
from autortc.metrics.registry import Agg, Metric
from autortc.metrics.rows import AttemptRow, TurnRow


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
        "conceal_rate",
        M.CONCEAL_RATE,
        each=False,
        config_key="conceal_rate_max_per_s",
        passes=operator.le,
        tune=Tune.HARD,
        fix="The network lost or delayed the agent's packets during its replies: check "
        "concealed_ms, late_packets and packet_jitter_ms; on a real network, the loss and "
        "jitter on the agent's downlink (FEC, RED, a larger jitter buffer).",
        skip_reason="no simulated network (embedded transport --network)",
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
    floor: bool = False  # a floor: the observed is the min over attempts, not the max

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
        "fp_heard_wer",
        M.HEARD_WER_DELTA,
        config_key="warn_heard_wer_increase",
        flags=operator.gt,
        observe=float,
        fix="The caller understood less than the agent said: listen to post_rtc_reply.wav "
        "against pre_rtc.wav, then check the dropouts, concealment and codec bitrate.",
    ),
    Fingerprint(
        "fp_visqol_floor",
        M.VISQOL,
        config_key="warn_visqol_floor",
        flags=operator.lt,
        observe=float,
        fix="The reply arrived degraded against what the agent sent: check the codec and "
        "its bitrate, dropouts and concealment (conceal_rate_per_s), and clipping.",
        floor=True,
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
