"""`python -m agent local --url local://127.0.0.1:PORT [options]`: the reference agent worker."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from agent.session import AgentOptions
from agent.worker import run_local_worker


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agent", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    local = sub.add_parser("local", help="serve jobs from the local room server")
    local.add_argument("--url", required=True, help="local://HOST:PORT")
    local.add_argument("--agent-name", default="autortc-ref")
    local.add_argument("--pre-rtc-dir", default="output/pre_rtc")
    local.add_argument("--vad-hangover-ms", type=int, default=AgentOptions.vad_hangover_ms)
    local.add_argument(
        "--endpointing-min-delay-ms", type=int, default=AgentOptions.endpointing_min_delay_ms
    )
    local.add_argument(
        "--no-autortc-hooks",
        action="store_true",
        help="black-box mode: send no protocol messages, write no pre_rtc",
    )
    local.add_argument("--log-level", default="INFO")
    return parser


async def _main(args: argparse.Namespace) -> None:
    options = AgentOptions(
        vad_hangover_ms=args.vad_hangover_ms,
        endpointing_min_delay_ms=args.endpointing_min_delay_ms,
        autortc_hooks=not args.no_autortc_hooks,
        pre_rtc_dir=args.pre_rtc_dir,
    )
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main_task.cancel)  # finally blocks still run (pre_rtc)
    await run_local_worker(args.url, agent_name=args.agent_name, options=options)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    with contextlib.suppress(asyncio.CancelledError, KeyboardInterrupt):
        asyncio.run(_main(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
