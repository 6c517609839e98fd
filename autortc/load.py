"""`autortc load`: a concurrency ramp against the reference agent (or a dispatched
one): at each level N, one case in N rooms at once (`--jobs N --repeat N` of the
same machinery as `autortc run`), then the figures of load_stats.py, written as
load.json, load.md and load.html (P95 against rooms) under `<output>/load-<id>/`.

CPU is read from the operating system: the agent worker's and its job processes'
(psutil, each polled every 0.25 s while the level runs: new processes each level,
counted from the level's first attempt, so their start-up is left out), and the
harness's (this process, plus every child it waited for, less the agent's).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import resource
import time
from pathlib import Path

import psutil

from autortc.case_schema import Case, load_suite
from autortc.errors import InputError
from autortc.load_stats import LevelResult, capacity, flat_level, p95_svg
from autortc.metrics import registry as M
from autortc.metrics.rows import final_attempts
from autortc.metrics.status import OK
from autortc.orchestrator import RunOptions, RunProgress, new_run_id, run_cases

POLL_S = 0.25


def _own_cpu_s() -> float:
    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return float(r.ru_utime + r.ru_stime)


async def _watch_agent(
    seen: dict[int, float], base: dict[int, float], progress: RunProgress
) -> None:
    """Keep the latest CPU of every agent process (the worker and its job processes), and
    its CPU when the first attempt started (`base`: its start-up is not the load's)."""
    me = psutil.Process()
    while True:
        for p in me.children(recursive=True):
            try:
                cmd = " ".join(p.cmdline())
                if " -m agent " not in f" {cmd} ":
                    continue
                t = p.cpu_times()
                cpu = float(t.user + t.system)  # each agent process on its own: its job
                # processes are polled themselves (children_* would count them twice)
            except psutil.Error:
                continue
            seen[p.pid] = cpu
            if progress.started and p.pid not in base:
                base[p.pid] = cpu
        await asyncio.sleep(POLL_S)


async def run_level(opts: RunOptions, case: Case, rooms: int) -> LevelResult:
    level_opts = dataclasses.replace(
        opts, jobs=rooms, repeat=rooms, run_id=new_run_id(), echo=lambda _line: None, live=False
    )
    own0, children0 = _own_cpu_s(), _children_cpu_s()
    agent_cpu: dict[int, float] = {}
    agent_base: dict[int, float] = {}
    progress = RunProgress()
    watcher = asyncio.create_task(
        _watch_agent(agent_cpu, agent_base, progress), name="load.watch_agent"
    )
    t0 = time.monotonic()
    try:
        run = await run_cases(level_opts, [case], progress)
    finally:
        watcher.cancel()
    wall_s = time.monotonic() - t0
    finals = final_attempts([r.row for r in run.records])
    latencies = [
        float(v)
        for r in finals
        if r.capture_status == OK and (v := r.get(M.EOT_TO_FIRST_AUDIO)) is not None
    ]
    false_endpoints = sum(int(v) for r in finals for v in r.values(M.FALSE_ENDPOINT))
    call_s = sum((r.phases_ms.get("conversation") or 0.0) / 1000 for r in finals)
    agent_total = sum(agent_cpu.values()) if agent_cpu else None
    agent_s = (
        sum(agent_cpu[pid] - agent_base.get(pid, 0.0) for pid in agent_cpu) if agent_cpu else None
    )
    # the harness: everything this run spent but the agent (its start-up included)
    harness_s = (_own_cpu_s() - own0) + (_children_cpu_s() - children0) - (agent_total or 0.0)
    return LevelResult(
        rooms=rooms,
        latencies_ms=tuple(latencies),
        false_endpoints=false_endpoints,
        errors=sum(1 for r in finals if r.capture_status != OK),
        agent_cpu_s=agent_s,
        harness_cpu_s=max(0.0, harness_s),
        call_s=call_s,
        wall_s=wall_s,
    )


def _fmt(v: float | None, spec: str = ".1f") -> str:
    return "–" if v is None else f"{v:{spec}}"  # noqa: RUF001


def render_md(levels: list[LevelResult], how: str, flat: int | None) -> str:
    out = [
        "# AutoRTC load ramp",
        "",
        "| rooms | EoT→first audio P50 ms | P95 ms | false endpoints | errors | "
        "agent CPU s / room | agent RTF | harness CPU s | wall s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for lv in levels:
        out.append(
            f"| {lv.rooms} | {_fmt(lv.p50_ms)} | {_fmt(lv.p95_ms)} | {lv.false_endpoints} | "
            f"{lv.errors} | {_fmt(lv.agent_cpu_per_room_s, '.2f')} | {_fmt(lv.rtf, '.3f')} | "
            f"{lv.harness_cpu_s:.1f} | {lv.wall_s:.1f} |"
        )
    out += [
        "",
        f"- Largest level with P95 within 50 ms of one room's, and no error: **{flat}**",
        f"- Capacity: {how}",
        "",
    ]
    return "\n".join(out)


async def load_main(
    opts: RunOptions,
    *,
    levels: list[int],
    case_id: str,
    target_concurrency: int,
    utilisation: float,
    out: Path | None = None,
) -> int:
    if not levels or any(n < 1 for n in levels):
        raise InputError(f"--levels {levels}: give room counts >= 1, e.g. 1,2,4,8,16")
    if not 0 < utilisation <= 1:
        raise InputError(f"--utilisation {utilisation}: must be in (0, 1]")
    cases = {c.id: c for c in load_suite(opts.suite, cases_dir=opts.cases_dir)}
    if case_id not in cases:
        raise InputError(f"--case {case_id!r}: not in suite {opts.suite!r} ({', '.join(cases)})")
    dest = out or opts.output_root / f"load-{new_run_id()}"
    results: list[LevelResult] = []
    for n in levels:
        opts.echo(f"load: {n} room(s) at once ...")
        lv = await run_level(opts, cases[case_id], n)
        results.append(lv)
        opts.echo(
            f"load: {n} room(s): P50 {_fmt(lv.p50_ms)} ms, P95 {_fmt(lv.p95_ms)} ms, "
            f"errors {lv.errors}, false endpoints {lv.false_endpoints}, agent CPU/room "
            f"{_fmt(lv.agent_cpu_per_room_s, '.2f')} s, harness CPU {lv.harness_cpu_s:.1f} s"
        )
    cap = capacity(results, target_concurrency=target_concurrency, utilisation=utilisation)
    flat = flat_level(results)
    dest.mkdir(parents=True, exist_ok=True)
    body = {
        "case": case_id,
        "levels": [
            {
                **dataclasses.asdict(lv),
                "p50_ms": lv.p50_ms,
                "p95_ms": lv.p95_ms,
                "agent_cpu_per_room_s": lv.agent_cpu_per_room_s,
                "rtf": lv.rtf,
            }
            for lv in results
        ],
        "flat_level": flat,
        "capacity": dataclasses.asdict(cap),
    }
    (dest / "load.json").write_text(json.dumps(body, indent=1))
    md = render_md(results, cap.how, flat)
    (dest / "load.md").write_text(md)
    html = (
        "<!doctype html><meta charset='utf-8'><title>AutoRTC load</title>"
        f"<h1>AutoRTC load ramp: {case_id}</h1>{p95_svg(results)}"
        f"<pre>{md.replace('<', '&lt;')}</pre>"
    )
    (dest / "load.html").write_text(html)
    opts.echo(f"load: {cap.how}")
    opts.echo(f"load: {dest / 'load.md'}")
    return 0
