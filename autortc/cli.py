"""`autortc` command line: run, baseline freeze, stability, doctor, make-audio.

Exit codes: 0 PASS, 1 FAIL (a gate failed), 2 INFRA or bad input.
Every error ends the command with one line on stderr and exit 2, never a
traceback and never 1 (the code of a gate FAIL): bad options are refused by the
parser before anything starts, our own errors carry their message, and anything
else is reported as an internal error in one line (the traceback goes to the log
at DEBUG, shown with -v).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from autortc.errors import EXIT_INFRA, AutortcError, InputError
from autortc.network.profiles import NETWORK_OFF

# the harness analyses attempts while others run (--jobs): BLAS threads would only fight
# over the cores the bots and the agent need (and triple the analysis's CPU time)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

if TYPE_CHECKING:
    from autortc.network.room import RoomNetwork
    from autortc.orchestrator import RunOptions

log = logging.getLogger(__name__)


DEFAULT_BARRIER_TIMEOUT_S = 15.0
ROOM_PREFIX_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option as one InputError line (exit 2), no usage dump."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{self.prog}: {message}")


def _number(kind: type[float] | type[int], *, low: float, inclusive: bool) -> Callable[[str], Any]:
    op = ">=" if inclusive else ">"

    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value != value or value < low or (value == low and not inclusive):  # NaN too
            raise argparse.ArgumentTypeError(f"{text} must be {op} {low:g}")
        return value

    return parse


positive_float = _number(float, low=0.0, inclusive=False)
non_negative_float = _number(float, low=0.0, inclusive=True)
positive_int = _number(int, low=1, inclusive=True)


def opus_kbps(text: str) -> int:
    value = int(positive_int(text))
    if not 6 <= value <= 510:
        raise argparse.ArgumentTypeError(f"{text} must be 6..510 (libopus's range in kbps)")
    return value


def defect_spec(text: str) -> str:
    from agent.defects import parse_defect

    try:
        parse_defect(text)
    except InputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def room_prefix(text: str) -> str:
    if not ROOM_PREFIX_RE.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: use 1-32 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return text


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--suite",
        default="mini",
        help="mini | fast | nightly | calibration | PATH to a suite or case .yaml (default: mini)",
    )
    p.add_argument(
        "--baseline", type=Path, help="golden/<name>/summary.json to compare the PRIMARY_KPI with"
    )
    p.add_argument("--gates", type=Path, help="gates config YAML (default: the shipped defaults)")
    p.add_argument(
        "--output", type=Path, default=Path("output/autortc"), help="where run directories go"
    )
    p.add_argument(
        "--livekit-url",
        default=None,
        help="LiveKit server URL (default: $LIVEKIT_URL; unset = embedded local transport)",
    )
    p.add_argument(
        "--local",
        action="store_true",
        help="force the embedded local transport even if LIVEKIT_URL is set",
    )
    p.add_argument(
        "--agent-dispatch",
        default=None,
        metavar="NAME",
        help="dispatch this agent name into every room (default: the reference agent autortc-ref)",
    )
    p.add_argument(
        "--no-start-agent",
        action="store_true",
        help="do not start the reference agent worker; dispatch to an agent already running",
    )
    p.add_argument(
        "--blackbox",
        action="store_true",
        help="the agent speaks no AutoRTC protocol: barrier on its first frame, energy slicing",
    )
    p.add_argument(
        "--vad-hangover-ms",
        type=positive_int,
        default=None,
        help="reference agent's VAD hangover",
    )
    p.add_argument(
        "--stray",
        action="store_true",
        help="fault check: a stray participant sends garbage and forged messages into every "
        "room (the figures must not change)",
    )
    p.add_argument(
        "--opus-kbps",
        type=opus_kbps,
        default=None,
        help="reference agent's Opus bitrate cap on LiveKit (default 64; the report shows it)",
    )
    p.add_argument(
        "--turn-detector",
        choices=("scripted", "vad", "livekit-eot"),
        default=None,
        help="reference agent's turn detection (default scripted; see README)",
    )
    p.add_argument(
        "--llm",
        choices=("scripted", "openai"),
        default=None,
        help="reference agent's LLM: scripted (default) or openai, any OpenAI-compatible "
        "endpoint (--llm-base-url or $AUTORTC_LLM_BASE_URL; key from $AUTORTC_LLM_API_KEY)",
    )
    p.add_argument("--llm-base-url", default=None, help="reference agent's LLM endpoint")
    p.add_argument("--llm-model", default=None, help="reference agent's LLM model name")
    p.add_argument(
        "--stt",
        choices=("scripted", "pocketsphinx"),
        default=None,
        help="reference agent's recogniser: scripted (default) or pocketsphinx (offline); "
        "a case's agent.stt wins",
    )
    p.add_argument(
        "--tts",
        choices=("espeak", "tone", "qwen"),
        default=None,
        help="reference agent's TTS engine (qwen: make qwen-venv)",
    )
    p.add_argument(
        "--no-text-bridge",
        action="store_true",
        help="reference agent: whole sentences to TTS instead of the text bridge (A/B)",
    )
    p.add_argument(
        "--no-starter-cache",
        action="store_true",
        help="reference agent: no cached openers (A/B of the starter cache)",
    )
    p.add_argument(
        "--duplex",
        choices=("controller", "livekit"),
        default=None,
        help="who decides a barge-in in the reference agent: its duplex controller "
        "(default) or livekit-agents (mirrored)",
    )
    p.add_argument(
        "--defect",
        type=defect_spec,
        default=None,
        metavar="NAME[=VALUE]",
        help="the reference agent injects this defect in every room (self-test)",
    )
    p.add_argument("--room-prefix", type=room_prefix, default="autortc")
    p.add_argument(
        "--barrier-timeout-s",
        type=positive_float,
        default=None,
        help="the two-way ACK barrier's timeout (default 15 s; selftest 6 s)",
    )
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        help="case attempts at once, each in its own room (default: the CPU count, at most "
        "4; measured on 2 cores, 2 at once leave the latency as it is, 4 move it)",
    )
    p.add_argument(
        "--shard",
        default=None,
        metavar="K/N",
        help="run only shard K of N of the suite's cases (merge the shards with `autortc merge`)",
    )
    p.add_argument(
        "--job-processes",
        type=int,
        default=None,
        metavar="N",
        help="embedded reference agent: each job in its own process, N warm "
        "(default: --jobs when above 1, else 0: jobs in the worker's process)",
    )
    p.add_argument(
        "--repeat",
        type=positive_int,
        default=1,
        help="run each case N times in fresh rooms; the report gives pass rates (default: 1)",
    )
    p.add_argument(
        "--room-wait-s",
        type=non_negative_float,
        default=0.0,
        help="wait between rooms (nightly soak)",
    )
    p.add_argument(
        "--network",
        default=None,
        metavar="PROFILE",
        help="embedded transport: the simulated network between the bots and the agent "
        "(default clean; wifi, lossy_5, lossy_20, jitter_80, mobile_4g, one from "
        "--network-file, or off: raw lossless PCM frames, no packets, no jitter buffer)",
    )
    p.add_argument("--network-file", type=Path, default=None, help="custom network profiles YAML")
    p.add_argument(
        "--codec",
        choices=("pcm", "opus"),
        default=None,
        help="embedded transport: the tracks' codec (default: opus, as WebRTC)",
    )
    p.add_argument(
        "--network-seed", type=int, default=0, help="seed of the packet fates (default: 0)"
    )
    p.add_argument(
        "--listening",
        action="store_true",
        help="after the run: ViSQOL, STOI, DNSMOS and PLCMOS of each first reply (the "
        "quality extra; seconds of CPU per reply)",
    )
    p.add_argument(
        "--heard-wer",
        action="store_true",
        help="after the run: transcribe each first reply as heard and as sent (pocketsphinx, "
        "the heard extra) and score both against its text",
    )
    p.add_argument("-v", "--verbose", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="autortc", description="End-to-end tests for real-time voice agents")
    sub = parser.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    _add_run_args(sub.add_parser("run", help="run a case suite and report"))

    base = sub.add_parser("baseline", help="golden baselines")
    bsub = base.add_subparsers(dest="baseline_cmd", required=True, parser_class=_Parser)
    fr = bsub.add_parser("freeze", help="make golden/NAME/ from a run directory")
    fr.add_argument("run_dir", type=Path)
    fr.add_argument("--name", required=True)
    fr.add_argument("--golden-dir", type=Path, default=Path("golden"))
    fr.add_argument("--force", action="store_true", help="overwrite an existing baseline")

    st = sub.add_parser(
        "stability", help="run a suite N times (or read N runs) and propose thresholds"
    )
    _add_run_args(st)
    st.add_argument("--runs", type=positive_int, default=5)
    st.add_argument(
        "--run-dirs", type=Path, nargs="*", help="read these run directories instead of running"
    )
    st.add_argument(
        "--out", type=Path, default=None, help="where to write baseline_stability.{md,json}"
    )

    ld = sub.add_parser(
        "load", help="a concurrency ramp: P50/P95, errors and CPU at 1, 2, 4, 8, 16 rooms"
    )
    _add_run_args(ld)
    ld.add_argument("--levels", default="1,2,4,8,16", help="rooms at once, per level")
    ld.add_argument("--case", default="endpoint_short_hello", help="the case every room runs")
    ld.add_argument("--target-concurrency", type=positive_int, default=100)
    ld.add_argument("--utilisation", type=positive_float, default=0.7)
    ld.add_argument("--out", type=Path, default=None, help="where load.{json,md,html} go")

    mg = sub.add_parser(
        "merge", help="merge shard runs (--shard K/N) into one report, summary, JUnit and verdict"
    )
    mg.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    mg.add_argument("--output", type=Path, default=Path("output/autortc"))
    mg.add_argument("--gates", type=Path, default=None)
    mg.add_argument("--baseline", type=Path, default=None)

    doc = sub.add_parser(
        "doctor", help="check a LiveKit deployment: URL, credentials, rooms, dispatch"
    )
    doc.add_argument("--livekit-url", default=None)
    doc.add_argument("--agent-dispatch", default=None, metavar="NAME")

    self_test = sub.add_parser(
        "selftest", help="inject each defect into the reference agent; check each gate fires"
    )
    _add_run_args(self_test)
    self_test.add_argument(
        "--rows",
        default=None,
        help="comma-separated defect names (default: the whole matrix; 'short': the CI subset)",
    )
    self_test.add_argument("--out", type=Path, default=None, help="where selftest.{json,md} go")

    chaos = sub.add_parser(
        "chaos", help="inject each fault (crashes, signals, a deleted room, a stray) and check"
    )
    chaos.add_argument(
        "--rows", default=None, help="comma-separated faults (default: all; 'short': the CI subset)"
    )
    chaos.add_argument("--out", type=Path, default=None, help="where the runs and chaos.json go")
    chaos.add_argument(
        "--livekit",
        action="store_true",
        help="run the LiveKit faults against the server in LIVEKIT_URL (default: embedded)",
    )

    cal = sub.add_parser(
        "calibrate", help="measure the harness's own error on eot_to_first_audio_ms (embedded)"
    )
    _add_run_args(cal)
    cal.add_argument("--delays-ms", default="0,150,400", help="the calibration agent's D values")
    cal.add_argument("--one-way-ms", default="0,40", help="the links' one-way delays")
    cal.add_argument("--codecs", default="pcm,opus", help="the codecs to calibrate")
    cal.add_argument("--turns", type=positive_int, default=10, help="turns per D and configuration")
    cal.add_argument("--out", type=Path, default=None, help="where calibration.{json,md} go")

    sub.add_parser("make-audio", help="regenerate the committed case audio under cases/audio/")

    tts = sub.add_parser(
        "tts-regress", help="gate a TTS engine on a fixed text set (hashes, streaming, TTFA)"
    )
    tts.add_argument(
        "--engine", default="espeak", help="espeak (default), tone, or qwen (make qwen-venv)"
    )
    tts.add_argument("--out", type=Path, required=True, help="where summary.json and wavs go")
    tts.add_argument("--runs", type=positive_int, default=3, help="syntheses per text and mode")
    tts_base = tts.add_mutually_exclusive_group()
    tts_base.add_argument(
        "--baseline", type=Path, default=None, help="default: golden/tts_regress/"
    )
    tts_base.add_argument("--no-baseline", action="store_true", help="compare with no baseline")
    tts.add_argument("--update-baseline", action="store_true", help="write it if all gates pass")
    tts.add_argument(
        "--engine-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option for the engine's factory, repeatable (qwen: size=full device=cuda "
        "cuda_graphs=true)",
    )
    return parser


def default_jobs() -> int:
    """Attempts at once by default: one per core, at most 4. scripts/bench.py measured
    the reference stack at about 0.55 CPU seconds per second recorded; on 2 cores 2
    rooms at once left eot_to_first_audio's P50 unmoved (+2.5 ms, 95 % CI -45..+54 ms)
    and 4 moved it (+68..+89 ms)."""
    return max(1, min(4, os.cpu_count() or 1))


def _network(args: argparse.Namespace, livekit_url: str | None) -> RoomNetwork | None:
    """--network / --codec / --network-file as the run's RoomNetwork (seeded per room).
    The embedded transport always has one unless `--network off`: by default `clean`
    with Opus, so that it is as lossy as WebRTC; a LiveKit server has a real network."""
    from autortc.network.profiles import profile_named
    from autortc.network.room import RoomNetwork

    flags = args.network is not None or args.codec is not None or args.network_file is not None
    if livekit_url is not None:
        if flags:
            raise InputError(
                "--network, --codec and --network-file simulate a network on the embedded "
                "transport (--local); a LiveKit server has a real one"
            )
        return None
    name = args.network or "clean"
    if name == NETWORK_OFF:
        if args.codec == "opus":
            raise InputError("--network off sends raw PCM frames: it has no codec to choose")
        return None
    return RoomNetwork(
        profile_named(name, args.network_file),
        codec=args.codec or "opus",
        seed=args.network_seed,
        name=name,
    )


def _run_options(args: argparse.Namespace) -> RunOptions:
    from autortc.orchestrator import DEFAULT_AGENT_NAME, RunOptions
    from autortc.progress import live_wanted
    from autortc.shards import parse_shard

    url = None if args.local else (args.livekit_url or os.environ.get("LIVEKIT_URL") or None)
    if url is None and (args.no_start_agent or args.agent_dispatch is not None):
        flag = "--no-start-agent" if args.no_start_agent else "--agent-dispatch"
        raise InputError(
            f"{flag} needs a LiveKit server (--livekit-url or LIVEKIT_URL): the embedded "
            "transport starts on a fresh port each run, so only its own reference agent "
            "can join it"
        )
    agent_args = []
    if args.vad_hangover_ms is not None:
        agent_args += ["--vad-hangover-ms", str(args.vad_hangover_ms)]
    if args.turn_detector is not None:
        agent_args += ["--turn-detector", args.turn_detector]
    if args.opus_kbps is not None:
        agent_args += ["--opus-kbps", str(args.opus_kbps)]
    for flag in ("llm", "llm_base_url", "llm_model", "stt", "tts", "duplex"):
        if getattr(args, flag, None) is not None:
            agent_args += ["--" + flag.replace("_", "-"), str(getattr(args, flag))]
    for switch in ("no_text_bridge", "no_starter_cache"):
        if getattr(args, switch, False):
            agent_args.append("--" + switch.replace("_", "-"))
    if args.blackbox and args.agent_dispatch is None:
        agent_args.append("--no-autortc-hooks")
    start_agent = not args.no_start_agent and args.agent_dispatch is None
    return RunOptions(
        network=_network(args, url),
        listening=args.listening,
        heard_wer=args.heard_wer,
        suite=args.suite,
        output_root=args.output,
        baseline_path=args.baseline,
        gates_path=args.gates,
        livekit_url=url,
        agent_name=args.agent_dispatch or DEFAULT_AGENT_NAME,
        start_agent=start_agent,
        agent_args=agent_args,
        blackbox=args.blackbox,
        room_prefix=args.room_prefix,
        barrier_timeout_s=args.barrier_timeout_s or DEFAULT_BARRIER_TIMEOUT_S,
        room_wait_s=args.room_wait_s,
        jobs=args.jobs or default_jobs(),
        job_processes=args.job_processes,
        repeat=args.repeat,
        live=live_wanted(),
        shard=parse_shard(args.shard) if args.shard else None,
        defect=args.defect,
        stray=args.stray,
    )


def run_until_stopped(coro: Coroutine[Any, Any, int]) -> int:
    """asyncio.run, with SIGTERM treated like Ctrl-C: the main task is cancelled, so
    every `finally` runs (rooms deleted, the agent worker stopped) and nothing is left
    registered or running behind a killed CI job."""

    async def main() -> int:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await coro
        except asyncio.CancelledError:
            raise KeyboardInterrupt from None

    return asyncio.run(main())


def _cmd_run(args: argparse.Namespace) -> int:
    from autortc.suite import run_and_report

    return run_until_stopped(run_and_report(_run_options(args)))


def _cmd_baseline(args: argparse.Namespace) -> int:
    from autortc.baseline import freeze

    dest = freeze(args.run_dir, name=args.name, golden_dir=args.golden_dir, force=args.force)
    print(f"baseline frozen: {dest}")
    return 0


def _cmd_stability(args: argparse.Namespace) -> int:
    from autortc.stability import stability_main

    return run_until_stopped(
        stability_main(_run_options(args), runs=args.runs, run_dirs=args.run_dirs, out=args.out)
    )


def _cmd_load(args: argparse.Namespace) -> int:
    from autortc.load import load_main

    try:
        levels = [int(x) for x in args.levels.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--levels {args.levels!r}: expected e.g. 1,2,4,8,16") from None
    return run_until_stopped(
        load_main(
            _run_options(args),
            levels=levels,
            case_id=args.case,
            target_concurrency=args.target_concurrency,
            utilisation=args.utilisation,
            out=args.out,
        )
    )


def _cmd_merge(args: argparse.Namespace) -> int:
    from autortc.shards import merge_main

    return merge_main(
        args.run_dirs, output=args.output, gates_path=args.gates, baseline_path=args.baseline
    )


def _cmd_doctor(args: argparse.Namespace) -> int:
    from autortc.doctor import doctor_main

    argv = []
    if args.livekit_url:
        argv += ["--url", args.livekit_url]
    if args.agent_dispatch:
        argv += ["--agent-name", args.agent_dispatch]
    return doctor_main(argv)


def _cmd_selftest(args: argparse.Namespace) -> int:
    from autortc.selftest import SELFTEST_BARRIER_TIMEOUT_S, selftest_main
    from autortc.selftest_matrix import SHORT

    if args.barrier_timeout_s is None:  # the no_agent_ready row waits it out twice
        args.barrier_timeout_s = SELFTEST_BARRIER_TIMEOUT_S
    opts = _run_options(args)
    names = None
    if args.rows == "short":
        names = list(SHORT)
    elif args.rows:
        names = [n.strip() for n in args.rows.split(",") if n.strip()]
    return run_until_stopped(selftest_main(opts, names=names, out=args.out))


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from autortc.calibrate import calibrate_main, parse_list

    delays = [int(d) for d in parse_list(args.delays_ms, "--delays-ms", int)]
    one_way = parse_list(args.one_way_ms, "--one-way-ms", float)
    codecs = [c.strip() for c in args.codecs.split(",") if c.strip()]
    opts = _run_options(args)
    out = args.out or opts.output_root / "calibration"
    return run_until_stopped(
        calibrate_main(
            opts, delays_ms=delays, one_way_ms=one_way, codecs=codecs, turns=args.turns, out=out
        )
    )


def _cmd_chaos(args: argparse.Namespace) -> int:
    from autortc.chaos import chaos_main
    from autortc.chaos_matrix import SHORT

    names = None
    if args.rows == "short":
        names = list(SHORT)
    elif args.rows:
        names = [n.strip() for n in args.rows.split(",") if n.strip()]
    if args.livekit and not os.environ.get("LIVEKIT_URL"):
        raise InputError("chaos --livekit: LIVEKIT_URL is not set")
    return chaos_main(names, args.out, livekit=args.livekit)


def _cmd_make_audio(args: argparse.Namespace) -> int:
    from autortc.case_audio import main as make_audio_main

    return int(make_audio_main() or 0)


def _cmd_tts_regress(args: argparse.Namespace) -> int:
    from agent.tts_regress import run_cli

    return run_cli(
        engine=args.engine,
        out=args.out,
        runs=args.runs,
        baseline=args.baseline,
        no_baseline=args.no_baseline,
        update_baseline=args.update_baseline,
        engine_opts=args.engine_opt,
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except InputError as e:
        print(f"autortc: error: {e}", file=sys.stderr)
        return e.exit_code
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handlers = {
        "run": _cmd_run,
        "baseline": _cmd_baseline,
        "stability": _cmd_stability,
        "doctor": _cmd_doctor,
        "selftest": _cmd_selftest,
        "chaos": _cmd_chaos,
        "merge": _cmd_merge,
        "load": _cmd_load,
        "make-audio": _cmd_make_audio,
        "calibrate": _cmd_calibrate,
        "tts-regress": _cmd_tts_regress,
    }
    try:
        return handlers[args.cmd](args)
    except AutortcError as e:
        print(f"autortc: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("autortc: interrupted", file=sys.stderr)
        return EXIT_INFRA
    except Exception as e:  # the boundary: nothing ends in a traceback or in exit 1
        log.debug("internal error", exc_info=True)
        detail = f"{type(e).__name__}: {e}".splitlines()[0]
        print(f"autortc: error: internal error ({detail}); rerun with -v", file=sys.stderr)
        return EXIT_INFRA


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
