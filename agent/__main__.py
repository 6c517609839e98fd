"""The reference agent worker.

python -m agent local --url local://127.0.0.1:PORT [options]   # embedded local room server
python -m agent livekit start|dev [options]                     # livekit-agents worker (LIVEKIT_*)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from agent.job_pool import JobProcessPool
from agent.llm_engines import LLM_ENGINES
from agent.session import AgentOptions
from agent.stt_engines import STT_ENGINES
from agent.tts_engines import TTS_ENGINES
from agent.turn_model import TURN_DETECTORS
from agent.worker import run_local_job, run_local_worker
from autortc.errors import InputError


def _add_agent_options(p: argparse.ArgumentParser, *, agent_name_default: str) -> None:
    """The reference agent's options, the same on every transport."""
    p.add_argument("--agent-name", default=agent_name_default)
    p.add_argument("--pre-rtc-dir", default="output/pre_rtc")
    p.add_argument("--vad-hangover-ms", type=int, default=AgentOptions.vad_hangover_ms)
    p.add_argument(
        "--opus-kbps",
        type=int,
        default=AgentOptions.opus_max_bitrate_bps // 1000,
        help="LiveKit: the Opus bitrate cap of the agent's track (default 64)",
    )
    p.add_argument(
        "--endpointing-min-delay-ms", type=int, default=AgentOptions.endpointing_min_delay_ms
    )
    p.add_argument(
        "--turn-detector",
        default=AgentOptions.turn_detector,
        choices=TURN_DETECTORS,
        help="scripted (default), vad, or livekit-eot (livekit-agents' offline audio model)",
    )
    p.add_argument(
        "--llm",
        default=AgentOptions.llm,
        choices=LLM_ENGINES,
        help="scripted (default: the room's script) or openai (any OpenAI-compatible "
        "endpoint; key from $AUTORTC_LLM_API_KEY or $OPENAI_API_KEY)",
    )
    p.add_argument("--llm-base-url", default=None, help="openai: else $AUTORTC_LLM_BASE_URL")
    p.add_argument("--llm-model", default=None, help="openai: else $AUTORTC_LLM_MODEL")
    p.add_argument(
        "--stt",
        default=AgentOptions.stt,
        choices=STT_ENGINES,
        help="scripted (default) or pocketsphinx (offline English); a case may pick its own",
    )
    p.add_argument(
        "--tts",
        default=AgentOptions.tts,
        choices=tuple(TTS_ENGINES),
        help="espeak (default) or tone (deterministic bursts, for tests)",
    )
    p.add_argument(
        "--no-text-bridge",
        action="store_true",
        help="hand TTS whole sentences (livekit-agents' sentence tokenizer), not the bridge's "
        "starter and segments (espeak only)",
    )
    p.add_argument(
        "--no-starter-cache",
        action="store_true",
        help="synthesise every reply's opener instead of taking it from the cache",
    )
    p.add_argument(
        "--duplex",
        default=AgentOptions.duplex,
        choices=("controller", "livekit"),
        help="who decides a barge-in: the duplex controller (default) or livekit-agents",
    )
    p.add_argument(
        "--defect",
        default=None,
        metavar="NAME[=VALUE]",
        help="inject one defect in every room (self-test; see agent/defects.py)",
    )
    p.add_argument(
        "--no-noise-gate",
        action="store_true",
        help="do not attenuate stationary background noise before the VAD",
    )
    p.add_argument(
        "--no-autortc-hooks",
        action="store_true",
        help="black-box mode: send no protocol messages, write no pre_rtc",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agent", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    local = sub.add_parser("local", help="serve jobs from the local room server")
    local.add_argument("--url", required=True, help="local://HOST:PORT")
    _add_agent_options(local, agent_name_default="autortc-ref")
    local.add_argument("--log-level", default="INFO")
    local.add_argument(
        "--job-processes",
        type=int,
        default=0,
        metavar="N",
        help="serve jobs in N processes of their own, warmed before registering "
        "(default 0: in this process)",
    )
    job = sub.add_parser("local-job", help="one job in a process of its own (job_pool.py)")
    job.add_argument("--url", required=True)
    _add_agent_options(job, agent_name_default="autortc-ref")
    job.add_argument("--log-level", default="INFO")
    _add_livekit_parser(sub)
    return parser


def _add_livekit_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from agent.livekit_worker import DEFAULT_HEALTH_HOST, DEFAULT_HEALTH_PORT, LiveKitWorkerSettings

    lk = sub.add_parser(
        "livekit",
        help="serve dispatched jobs as a livekit-agents worker (LIVEKIT_URL/_API_KEY/_API_SECRET)",
    )
    lk.add_argument("mode", choices=("start", "dev"), help="livekit-agents run mode")
    _add_agent_options(lk, agent_name_default=LiveKitWorkerSettings.agent_name)
    lk.add_argument(
        "--health-host",
        default=DEFAULT_HEALTH_HOST,
        help="health HTTP server address (default: loopback only)",
    )
    lk.add_argument(
        "--health-port",
        type=int,
        default=DEFAULT_HEALTH_PORT,
        help="health HTTP server port; 0 = any free port (default: %(default)s)",
    )
    lk.add_argument(
        "--num-idle-processes", type=int, default=LiveKitWorkerSettings.num_idle_processes
    )
    lk.add_argument(
        "--max-jobs",
        type=int,
        default=LiveKitWorkerSettings.max_jobs,
        help="jobs at once; the worker's load is running jobs / max jobs (default: %(default)s)",
    )
    lk.add_argument(
        "--load-threshold",
        type=float,
        default=LiveKitWorkerSettings.load_threshold,
        help="refuse jobs at this load, 0-1 (default: %(default)s)",
    )
    lk.add_argument("--drain-timeout-s", type=int, default=LiveKitWorkerSettings.drain_timeout_s)
    lk.add_argument(
        "--max-retry",
        type=int,
        default=LiveKitWorkerSettings.max_retry,
        help="connection attempts to LiveKit before the worker gives up (default: %(default)s)",
    )
    lk.add_argument("--log-level", default="INFO")


def _agent_options(args: argparse.Namespace) -> AgentOptions:
    return AgentOptions(
        vad_hangover_ms=args.vad_hangover_ms,
        opus_max_bitrate_bps=args.opus_kbps * 1000,
        endpointing_min_delay_ms=args.endpointing_min_delay_ms,
        autortc_hooks=not args.no_autortc_hooks,
        pre_rtc_dir=args.pre_rtc_dir,
        turn_detector=args.turn_detector,
        defect=args.defect,
        noise_gate=not args.no_noise_gate,
        duplex=args.duplex,
        llm=args.llm,
        llm_base_url=args.llm_base_url,
        llm_model=args.llm_model,
        stt=args.stt,
        tts=args.tts,
        text_bridge=not args.no_text_bridge,
        starter_cache=not args.no_starter_cache,
    )


def _main_livekit(args: argparse.Namespace) -> int:
    from agent.livekit_worker import LiveKitWorkerSettings, run_livekit_worker

    try:
        settings = LiveKitWorkerSettings(
            agent_name=args.agent_name,
            health_host=args.health_host,
            health_port=args.health_port,
            num_idle_processes=args.num_idle_processes,
            max_jobs=args.max_jobs,
            load_threshold=args.load_threshold,
            drain_timeout_s=args.drain_timeout_s,
            max_retry=args.max_retry,
        )
        options = _agent_options(args)
    except InputError as e:
        print(f"python -m agent livekit: error: {e}", file=sys.stderr)
        return 2
    run_livekit_worker(args.mode, settings, options, log_level=args.log_level)
    return 0


def job_argv(argv: list[str]) -> list[str]:
    """A `local` worker's arguments as its job processes take them (`local-job`)."""
    out, skip = [], False
    for a in argv[1:]:  # after "local"
        if skip:
            skip = False
            continue
        if a == "--job-processes":
            skip = True
            continue
        if a.startswith("--job-processes="):
            continue
        out.append(a)
    return out


async def _main(args: argparse.Namespace, argv: list[str]) -> None:
    options = _agent_options(args)
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main_task.cancel)  # finally blocks still run (pre_rtc)
    if args.command == "local-job":
        await run_local_job(args.url, options=options)
        return
    pool = JobProcessPool(job_argv(argv), size=args.job_processes) if args.job_processes else None
    await run_local_worker(args.url, agent_name=args.agent_name, options=options, pool=pool)


_RECORD_KEYS = frozenset(vars(logging.makeLogRecord({}))) | {"asctime"}


class ExtraFormatter(logging.Formatter):
    """Static messages, with the `extra={...}` fields appended as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = {k: v for k, v in vars(record).items() if k not in _RECORD_KEYS and k != "message"}
        if extra:
            text += " " + " ".join(f"{k}={v}" for k, v in extra.items())
        return text


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "livekit":  # livekit-agents' CLI sets up logging and signals itself
        return _main_livekit(args)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ExtraFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    with contextlib.suppress(asyncio.CancelledError, KeyboardInterrupt):
        asyncio.run(_main(args, argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
