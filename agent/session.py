"""One reference-agent job: a fresh livekit-agents AgentSession for one room.

    engines = AgentEngines.create(options)            # once per worker process
    await run_agent_job(conn, engines=engines, options=options)   # once per room

`run_agent_job` publishes the agent's audio track at once (silence until it
speaks), reads the room metadata (the script), builds a FRESH `AgentSession`
(VAD turn detection, scripted STT/LLM, espeak TTS, interruptions on), attaches
the AutoRTC hooks (unless `options.autortc_hooks` is off: black-box mode), and
runs until the bots have left or the connection closes. Everything is closed in
`finally`, idempotently.

It only needs a `RoomConnection` (autortc.transport.base), so the local worker
and a LiveKit worker (over a LiveKit RoomConnection adapter) share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livekit.agents import inference
from livekit.agents.voice import Agent, AgentSession

from agent import defect_actions
from agent.agent_state import AgentStatePublisher
from agent.calibration import run_calibration_job
from agent.defects import NO_DEFECT, Defect, parse_defect
from agent.duplex import DuplexController, DuplexOptions, DuplexState
from agent.duplex_driver import LIVEKIT_MIN_DURATION_S, DuplexDriver
from agent.fault_messenger import FaultyMessenger
from agent.gpu_lanes import GpuLanes
from agent.io_adapters import DEFAULT_PUMP_LEAD_MS, TransportAudioInput, TransportAudioOutput
from agent.llm_engines import LlmChoice, make_llm
from agent.noise_gate import NoiseGate
from agent.output_faults import AfterTee
from agent.scripted import ScriptState
from agent.stt_engines import STT_ENGINES, make_stt
from agent.tts_engines import TTS_ENGINES
from agent.tts_select import TtsWorkerState, make_tts
from agent.turn_model import TURN_DETECTORS, ScriptedTurnDetector, SpeechMeter
from autortc.errors import InputError
from autortc.espeak import EspeakSynth
from autortc.integrations.livekit_agents import AutortcHooks
from autortc.integrations.messengers import Messenger
from autortc.protocol import BOT_IDENTITIES, USER_IDENTITY, RoomMeta, parse_room_meta
from autortc.transport.base import RoomConnection

logger = logging.getLogger(__name__)

DUPLEX_MODES = ("controller", "livekit")
AGENT_INSTRUCTIONS = "You are the AutoRTC reference agent. Your replies are scripted."
VAD_MIN_SPEECH_S = 0.05


@dataclass(frozen=True)
class AgentOptions:
    """Settings of the reference agent (validated in __post_init__)."""

    vad_hangover_ms: int = 350  # VAD min_silence_duration: silence that ends speech
    endpointing_min_delay_ms: int = 0  # extra wait after speech ends (counted from speech end)
    endpointing_max_delay_ms: int = 2000  # the wait when the turn model says "not over"
    turn_detector: str = "scripted"  # scripted | vad | livekit-eot (agent/turn_model.py)
    turn_ratio: float = 0.6  # scripted: "over" once this share of the expected speech is heard
    noise_gate: bool = True  # attenuate stationary background noise before the VAD
    defect: str | None = None  # one defect for every room (agent/defects.py)
    min_interruption_ms: int = 300  # user speech that barges in on a reply
    # who decides a barge-in: the duplex controller (agent/duplex_driver.py), or
    # livekit-agents' own audio-activity interruption (the controller then mirrors it)
    duplex: str = "controller"
    publish_queue_ms: int = 100  # AudioPublisher queue bound
    pump_lead_ms: int = DEFAULT_PUMP_LEAD_MS  # audio the output keeps queued ahead
    # LiveKit: the Opus bitrate cap of our track. Below 64 kbps libopus takes about half
    # the 4-8 kHz share of an espeak voice (golden/README.md, "Opus and the 4-8 kHz band")
    opus_max_bitrate_bps: int = 64_000
    llm: str = "scripted"  # scripted | openai (agent/llm_engines.py)
    llm_base_url: str | None = None  # openai: else $AUTORTC_LLM_BASE_URL
    llm_model: str | None = None  # openai: else $AUTORTC_LLM_MODEL
    stt: str = "scripted"  # scripted | pocketsphinx (agent/stt_engines.py); a case may pick
    llm_first_token_delay_ms: float = 0.0
    llm_inter_token_delay_ms: float = 0.0
    # every room is spoken in this voice, the case's own too: espeak's cmn voice loses
    # half its level in places through Opus at 64 kbps (README, "The reference agent")
    voice: str = "en-us"
    tts: str = "espeak"  # espeak | tone (agent/tts_engines.py)
    text_bridge: bool = True  # LLM text -> TTS through the text bridge (else sentences)
    starter_cache: bool = True  # common openers synthesised at start-up
    rate_wpm: int = 175
    autortc_hooks: bool = True
    pre_rtc_dir: str = "output/pre_rtc"
    max_job_s: float = 600.0

    def __post_init__(self) -> None:
        for name in ("vad_hangover_ms", "min_interruption_ms", "pump_lead_ms"):
            if getattr(self, name) <= 0:
                raise InputError(f"AgentOptions.{name} must be > 0")
        if self.endpointing_min_delay_ms < 0 or self.endpointing_max_delay_ms <= 0:
            raise InputError("AgentOptions endpointing delays must be >= 0 / > 0")
        if not 6_000 <= self.opus_max_bitrate_bps <= 510_000:  # libopus's range
            raise InputError("AgentOptions.opus_max_bitrate_bps must be 6000..510000")
        if self.publish_queue_ms < self.pump_lead_ms + 10:
            raise InputError("AgentOptions.publish_queue_ms must exceed pump_lead_ms by a frame")
        if self.turn_detector not in TURN_DETECTORS:
            raise InputError(
                f"turn detector {self.turn_detector!r}: one of {', '.join(TURN_DETECTORS)}"
            )
        if self.duplex not in DUPLEX_MODES:
            raise InputError(f"duplex {self.duplex!r}: one of {', '.join(DUPLEX_MODES)}")
        if self.tts not in TTS_ENGINES:
            raise InputError(f"TTS engine {self.tts!r}: one of {', '.join(TTS_ENGINES)}")
        if self.stt not in STT_ENGINES:
            raise InputError(f"STT engine {self.stt!r}: one of {', '.join(STT_ENGINES)}")
        choice = self.llm_choice()
        if choice.name == "openai":
            choice.openai_settings()  # refuses a missing base URL / model at start
        parse_defect(self.defect)  # refuses an unknown defect before the worker starts

    def llm_choice(self) -> LlmChoice:
        return LlmChoice(self.llm, base_url=self.llm_base_url, model=self.llm_model)


@dataclass
class AgentEngines:
    """What is expensive to set up: created once per worker process, shared by rooms."""

    vad: inference.VAD
    synth: EspeakSynth
    lanes: GpuLanes  # the one engine (a GPU) the LLM and TTS calls share
    tts: TtsWorkerState

    @classmethod
    def create(cls, options: AgentOptions) -> AgentEngines:
        vad = inference.VAD(
            model="silero",
            min_silence_duration=options.vad_hangover_ms / 1000.0,
            min_speech_duration=VAD_MIN_SPEECH_S,
        )
        synth = EspeakSynth(voice=options.voice)
        synth.synthesize("ready", rate_wpm=options.rate_wpm)  # warm the library once
        tts_state = TtsWorkerState.create(
            options.tts, synth=synth, rate_wpm=options.rate_wpm, starter_cache=options.starter_cache
        )
        return cls(vad=vad, synth=synth, lanes=GpuLanes(), tts=tts_state)


def _turn_detection(
    options: AgentOptions, script: ScriptState, meter: SpeechMeter, defect: Defect
) -> Any:
    """The session's turn detection: the scripted turn model (default), VAD only (the
    early_reply defect, or --turn-detector vad), or livekit-agents' offline audio model."""
    name = "vad" if defect.is_("early_reply") else options.turn_detector
    if name == "vad":
        return "vad"
    if name == "livekit-eot":
        from livekit.agents.inference.eot import TurnDetector

        return TurnDetector(version="v1-mini", local_fallback=True)
    return ScriptedTurnDetector(
        meter,
        expected_s=script.expected_speech_s,
        turn_index=lambda: script.committed_turns,
        now_s=time.time,  # VAD events carry livekit-agents' wall-clock times
        ratio=options.turn_ratio,
    )


def build_session(
    engines: AgentEngines,
    options: AgentOptions,
    script: ScriptState,
    *,
    meter: SpeechMeter,
    defect: Defect = NO_DEFECT,
    trace_mark: Callable[[str, int], None] | None = None,
    stt_name: str | None = None,
) -> AgentSession[None]:
    """A fresh AgentSession for one room (its scripted engines are per room too)."""
    llm_ttft_ms = defect.number("llm_ttft_ms")
    return AgentSession(
        vad=engines.vad,
        stt=make_stt(stt_name or options.stt, script),
        llm=make_llm(
            options.llm_choice(),
            script,
            trace_mark=trace_mark,
            lane=engines.lanes.fast,
            first_token_delay_ms=llm_ttft_ms or options.llm_first_token_delay_ms,
            inter_token_delay_ms=options.llm_inter_token_delay_ms,
            silent=defect.is_("no_reply"),
        ),
        tts=make_tts(
            engines.tts,
            voice=options.voice,
            rate_wpm=options.rate_wpm,
            lanes=engines.lanes,
            text_bridge=options.text_bridge,
            trace_mark=trace_mark,
            gain_db=defect.number("clip_db") or 0.0,
        ),
        turn_handling={
            "turn_detection": _turn_detection(options, script, meter, defect),
            "endpointing": {
                "mode": "fixed",
                "min_delay": options.endpointing_min_delay_ms / 1000.0,
                "max_delay": options.endpointing_max_delay_ms / 1000.0,
            },
            "interruption": {
                "enabled": not defect.is_("ignore_barge_in"),
                "mode": "vad",
                "min_duration": LIVEKIT_MIN_DURATION_S
                if options.duplex == "controller"
                else options.min_interruption_ms / 1000.0,
                "resume_false_interruption": False,
                "false_interruption_timeout": None,
            },
            "preemptive_generation": {"enabled": False},
        },
        aec_warmup_duration=None,  # no echo here: barge-in works from the first reply
        user_away_timeout=None,
        # on close, livekit-agents waits this long for a final transcript; the scripted
        # STT has none to give once the caller left, and the 2 s default held every
        # attempt's pre_rtc (the phase timings showed pre_rtc_wait = 2.02 s each)
        session_close_transcript_timeout=SESSION_CLOSE_TRANSCRIPT_S,
    )


def meter_for(options: AgentOptions) -> SpeechMeter:
    """The turn model's speech meter, with this VAD's start and hangover delays."""
    return SpeechMeter(start_delay_s=VAD_MIN_SPEECH_S, end_delay_s=options.vad_hangover_ms / 1000.0)


def feed_meter(session: AgentSession[None], meter: SpeechMeter) -> None:
    """VAD speaking / listening changes -> the meter; a committed user turn resets it."""

    def on_user_state(ev: Any) -> None:
        if ev.new_state == "speaking":
            meter.speech_started(ev.created_at)
        elif ev.old_state == "speaking":
            meter.speech_ended(ev.created_at)

    def on_item(ev: Any) -> None:
        if getattr(ev.item, "role", None) == "user":
            meter.turn_committed()

    session.on("user_state_changed", on_user_state)
    session.on("conversation_item_added", on_item)


def log_transcripts(session: AgentSession[None], *, stt_name: str) -> None:
    """Each final transcript into the agent's log, with the engine that made it."""

    def on_transcribed(ev: Any) -> None:
        if ev.is_final:
            logger.info("user transcript", extra={"engine": stt_name, "text": ev.transcript})

    session.on("user_input_transcribed", on_transcribed)


async def _wait_until_bots_leave(conn: RoomConnection) -> None:
    """Return once a bot has been seen and none is left, or the connection closes."""
    seen_bot = any(i in BOT_IDENTITIES for i in conn.remote_identities())
    async for ev in conn.participant_events():
        if ev.identity in BOT_IDENTITIES and ev.kind == "joined":
            seen_bot = True
        bots_present = any(i in BOT_IDENTITIES for i in conn.remote_identities())
        if ev.kind == "left" and seen_bot and not bots_present:
            logger.info("bots left the room", extra={"room": conn.room_name})
            return


SESSION_CLOSE_TRANSCRIPT_S = 0.1


def attach_duplex(
    options: AgentOptions,
    *,
    session: AgentSession[None],
    output: TransportAudioOutput,
    defect: Defect,
    relay: Callable[[str, int], None],
    on_state: Callable[[DuplexState], None] | None = None,
) -> DuplexDriver:
    """The duplex controller on this session: it decides barge-ins (`duplex=controller`)
    or mirrors livekit-agents' (`duplex=livekit`); see agent/duplex_driver.py."""
    controller = DuplexController(DuplexOptions(min_barge_in_ms=options.min_interruption_ms))
    return DuplexDriver(
        controller,
        session=session,
        output=output,
        trace_mark=relay,
        on_state=on_state,
        act=not defect.is_("ignore_barge_in"),
        decides=options.duplex == "controller",
    ).attach()


class TraceRelay:
    """A `(point, t_ns)` callback for engines, bound to the hooks once they exist."""

    def __init__(self) -> None:
        self.target: Callable[[str, int], None] | None = None

    def __call__(self, point: str, t_ns: int) -> None:
        if self.target is not None:
            self.target(point, t_ns)


def job_defect(options: AgentOptions, meta: RoomMeta | None) -> Defect:
    """The defect of this room: the room's own (a case's), else the worker's."""
    room_defect = meta.defect if meta is not None else None
    try:
        return parse_defect(room_defect or options.defect)
    except InputError as e:
        logger.warning("bad defect in the room metadata: none injected", extra={"error": str(e)})
        return NO_DEFECT


async def run_agent_job(
    conn: RoomConnection,
    *,
    engines: AgentEngines,
    options: AgentOptions,
    metadata: str | None = None,
) -> None:
    """Serve one room until the bots leave or the connection closes (see module doc).

    `metadata` overrides the room metadata (LiveKit: the job's dispatch metadata).
    """
    metadata = metadata or conn.room_metadata
    meta = parse_room_meta(metadata)
    if meta is not None and meta.calibration_delay_ms is not None:
        await run_calibration_job(
            conn,
            meta=meta,
            delay_ms=meta.calibration_delay_ms,
            pre_rtc_dir=options.pre_rtc_dir,
            opus_max_bitrate_bps=options.opus_max_bitrate_bps,
            max_job_s=options.max_job_s,
            until=_wait_until_bots_leave(conn),
        )
        return
    defect = job_defect(options, meta)
    publisher = await conn.publish_audio(
        queue_size_ms=options.publish_queue_ms, max_bitrate_bps=options.opus_max_bitrate_bps
    )
    output = TransportAudioOutput(
        publisher, lead_ms=options.pump_lead_ms, after_tee=AfterTee(defect)
    )
    relay = TraceRelay()
    script = ScriptState(meta)
    meter = meter_for(options)
    session = build_session(
        engines,
        options,
        script,
        meter=meter,
        defect=defect,
        trace_mark=relay,
        stt_name=meta.stt if meta is not None else None,
    )
    feed_meter(session, meter)
    log_transcripts(session, stt_name=(meta.stt if meta else None) or options.stt)
    audio_in = TransportAudioInput(
        conn, USER_IDENTITY, noise_gate=NoiseGate() if options.noise_gate else None
    )
    states = AgentStatePublisher(conn)
    states.initializing()
    driver = attach_duplex(
        options,
        session=session,
        output=output,
        defect=defect,
        relay=relay,
        on_state=states.on_state,
    )
    audio_in.on_gated_frame = driver.heard_frame
    hooks: AutortcHooks | None = None
    faulty: FaultyMessenger | None = None
    log_extra = {"room": conn.room_name, "trace_id": meta.trace_id if meta else None}
    if defect is not NO_DEFECT:
        log_extra["defect"] = str(defect)
    logger.info("agent job starting", extra=log_extra)

    def wrap(messenger: Messenger) -> Messenger:
        nonlocal faulty
        faulty = FaultyMessenger(messenger, defect)
        return faulty

    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(output.run(), name=f"agent-output-pump-{conn.room_name}")
            states.start()
            session.input.audio = audio_in
            session.output.audio = output
            if options.autortc_hooks:
                hooks = AutortcHooks.attach(
                    session,
                    room=conn,
                    pre_rtc_dir=Path(options.pre_rtc_dir),
                    metadata=metadata,
                    audio_track_published=True,
                    audio_encoding=publisher.encoding,
                    # spec: agent_ready once published and started; and once the user
                    # bot is in the room, only when its audio reaches us (audio sent
                    # before our subscription is live would be lost)
                    hears_user=lambda: (
                        USER_IDENTITY not in conn.remote_identities()
                        or audio_in.frames_received > 0
                    ),
                    wrap_messenger=wrap if defect is not NO_DEFECT else None,
                )
                relay.target = hooks.trace_mark
                audio_in.on_frame = hooks.heard_frame
            await session.start(Agent(instructions=AGENT_INSTRUCTIONS), record=False)
            states.on_state(driver.controller.state)  # started: listening
            defect_actions.start(
                defect,
                tg,
                session=session,
                script=script,
                audio_in=audio_in,
                output=output,
                messenger=faulty,
            )
            try:
                async with asyncio.timeout(options.max_job_s):
                    await _wait_until_bots_leave(conn)
            except TimeoutError:
                logger.warning("agent job hit max_job_s", extra=log_extra)
            # close while the output pump still runs, so a reply in flight ends cleanly
            await _close_session_and_hooks(session, hooks)
            raise _JobDone
    except* _JobDone:
        pass
    except* defect_actions.JobCrashed:
        logger.warning("agent job crashed on purpose (defect crash_mid_reply)", extra=log_extra)
    finally:
        try:
            await _close_session_and_hooks(session, hooks)
            await states.aclose()
        finally:
            try:
                with contextlib.suppress(Exception):
                    await audio_in.aclose()
            finally:
                await conn.aclose()
                logger.info("agent job ended", extra=log_extra)


class _JobDone(Exception):
    """Raised inside the job's TaskGroup to cancel its background tasks (the pump)."""


async def _close_session_and_hooks(session: AgentSession[None], hooks: AutortcHooks | None) -> None:
    """Idempotent: the session first (it ends any reply), then the hooks (pre_rtc)."""
    t0 = time.monotonic()
    try:
        await session.aclose()
    except Exception:
        logger.exception("closing the agent session failed")
    finally:
        t1 = time.monotonic()
        if hooks is not None:
            await hooks.aclose()
        logger.info(
            "agent session and hooks closed",
            extra={
                "session_ms": round((t1 - t0) * 1e3),
                "hooks_ms": round((time.monotonic() - t1) * 1e3),
            },
        )
