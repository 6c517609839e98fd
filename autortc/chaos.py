"""`autortc chaos`: run each fault of `chaos_matrix.MATRIX` in a fresh `autortc run`
on the embedded transport, inject it, and judge what came out (the table, JSON).

The runner watches the run's whole process tree (psutil), so it can kill one bot, the
room server or the agent worker by role, and check afterwards that none is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from autortc.chaos_matrix import LIVEKIT_MATRIX, MATRIX, Fault, Observed, judge, rows_named, table
from autortc.metrics import registry as M

INJECT_AFTER_S = 1.0  # into the conversation: the user bot is speaking
START_TIMEOUT_S = 90.0
RUN_TIMEOUT_S = 180.0
ROLES = {
    "kill_probe": "autortc.bots.probe_bot",
    "kill_user": "autortc.bots.user_bot",
    "kill_server": "autortc.transport.local_server",
    "kill_worker": "agent local --url",  # not its job processes (agent local-job)
}
LIVEKIT_ROLES = {**ROLES, "kill_worker": "agent livekit"}


def _default_signals() -> None:
    """In the run's process, before exec: SIGINT and SIGTERM as a terminal delivers them.
    A background job (`cmd &` without job control) inherits SIGINT *ignored*, and so
    would the run: the sigint row would then test the shell, not the harness."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _cmd(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


def _one_case_suite(root: Path, case: str) -> Path:
    path = root / f"chaos-{case}.yaml"
    path.write_text(f"suite: chaos\ncases: [{case}]\n")
    return path


def run_fault(fault: Fault, root: Path, *, livekit: bool = False) -> Observed:
    out = root / fault.name
    args = ["--output", str(out), *fault.args] if "--output" not in fault.args else [*fault.args]
    suite = _one_case_suite(root, fault.case)
    if livekit:  # the server in LIVEKIT_URL, with the fault's overrides
        env = {**os.environ, **dict(fault.env)}
    else:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    transport = [] if livekit else ["--local"]
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "autortc.cli", "run", *transport, "--suite", str(suite), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,
    )
    seen: dict[int, psutil.Process] = {}
    fault_t: float | None = None
    try:
        if fault.inject is not None:
            fault_t = _inject_when_under_way(fault, proc, out, seen, livekit=livekit)
        _, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    wall_s = time.monotonic() - t0
    ended_t = time.monotonic()
    _, alive = psutil.wait_procs(list(seen.values()), timeout=5)
    seen_obs = _read_run(out)
    seen_obs.exit_code = proc.returncode
    seen_obs.wall_s = wall_s
    seen_obs.leftover = [_cmd(p)[:60] for p in alive if p.is_running()]
    seen_obs.last_stderr = (err.strip().splitlines() or [""])[-1]
    if fault_t is not None:
        end = _attempt_end_t(out, fault_t, ended_t)
        seen_obs.fault_to_end_s = round(end - fault_t, 2)
    return seen_obs


def _track(proc: subprocess.Popen[str], seen: dict[int, psutil.Process]) -> None:
    try:
        for child in psutil.Process(proc.pid).children(recursive=True):
            seen.setdefault(child.pid, child)
    except psutil.Error:
        pass


def _inject_when_under_way(
    fault: Fault,
    proc: subprocess.Popen[str],
    out: Path,
    seen: dict[int, psutil.Process],
    *,
    livekit: bool = False,
) -> float | None:
    """Wait until the probe is recording (its message log exists), then the user bot
    has spoken a second; inject; return the monotonic time of the fault."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        _track(proc, seen)
        if list(out.glob("*/*/a1/events.jsonl")):
            break
        time.sleep(0.05)
    else:
        return None
    time.sleep(INJECT_AFTER_S)
    _track(proc, seen)
    kind = fault.inject
    if kind in ("sigint", "sigterm"):
        proc.send_signal(signal.SIGINT if kind == "sigint" else signal.SIGTERM)
    elif kind == "delete_room":
        _delete_room(seen, out, livekit=livekit)
    else:
        role = (LIVEKIT_ROLES if livekit else ROLES)[str(kind)]
        victims = _attempt_bot(out, role) or [
            p for p in seen.values() if role in _cmd(p) and p.is_running()
        ]
        for p in victims[:1]:
            p.send_signal(signal.SIGKILL)
    t = time.monotonic()
    while proc.poll() is None and time.monotonic() - t < 2.0:
        _track(proc, seen)  # processes started after the fault (a retry's bots)
        time.sleep(0.05)
    return t


def _attempt_bot(out: Path, module: str) -> list[psutil.Process]:
    """The attempt's own bot of `module` (its `<bot>.pid`; a warm spare has none)."""
    if not module.startswith("autortc.bots."):
        return []
    for pid_file in out.glob(f"*/*/a1/{module.rsplit('.', 1)[-1]}.pid"):
        with contextlib.suppress(ValueError, psutil.Error):
            return [psutil.Process(int(pid_file.read_text()))]
    return []


def _delete_room(seen: dict[int, psutil.Process], out: Path, *, livekit: bool = False) -> None:
    """Delete the attempt's room (DeleteRoom on LiveKit), as an operator would."""
    from autortc.transport.livekit import LiveKitTransport
    from autortc.transport.local import LocalTransport

    (job,) = list(out.glob("*/*/a1/bot_job.json"))
    room = json.loads(job.read_text())["room"]

    async def delete() -> None:
        transport: LiveKitTransport | LocalTransport
        if livekit:
            transport = LiveKitTransport.from_env()
        else:
            worker = next(p for p in seen.values() if "agent local --url" in _cmd(p))
            args = worker.cmdline()
            transport = LocalTransport(args[args.index("--url") + 1])
        try:
            await transport.delete_room(room)
        finally:
            await transport.aclose()

    asyncio.run(delete())


def _attempt_end_t(out: Path, fault_t: float, ended_t: float) -> float:
    """When the attempt under way at the fault ended: its metrics.json, else the run's
    end (a run stopped by the fault writes none for it)."""
    now_wall, now_mono = time.time(), time.monotonic()
    for metrics in sorted(out.glob("*/*/a1/metrics.json")):
        return now_mono - (now_wall - metrics.stat().st_mtime)
    return ended_t


def _read_run(out: Path) -> Observed:
    runs = [p for p in out.glob("*") if p.is_dir()] if out.is_dir() else []
    seen = Observed(exit_code=None, wall_s=0.0, report=False)
    if not runs:
        return seen
    run = max(runs, key=lambda p: p.stat().st_mtime)
    seen.report = (run / "report.md").exists()
    summary_path = run / "summary.json"
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
        seen.incomplete = summary.get("incomplete")
    for metrics in sorted(run.glob("*/a*/metrics.json")):
        body = json.loads(metrics.read_text())
        seen.statuses.append(str(body.get("capture_status")))
        if dropped := body.get(M.DROPPED_WRONG_SENDER.name):
            seen.dropped_wrong_sender = int(dropped)
    return seen


def chaos_main(names: list[str] | None, out: Path | None, *, livekit: bool = False) -> int:
    faults = rows_named(names, LIVEKIT_MATRIX if livekit else MATRIX)
    root = Path(tempfile.mkdtemp(prefix="autortc-chaos-")) if out is None else out
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, fault in enumerate(faults, 1):
        seen = run_fault(fault, root, livekit=livekit)
        problems = judge(fault, seen)
        rows.append((fault, seen, problems))
        mark = "ok" if not problems else "MISMATCH: " + "; ".join(problems)
        print(
            f"[{k}/{len(faults)}] {fault.name}: exit {seen.exit_code}, {seen.wall_s:.1f} s: {mark}"
        )
    text = table(rows)
    print(text)
    body = [
        {"fault": f.name, "expected": f.expected, "match": not p, "problems": p, **vars(s)}
        for f, s, p in rows
    ]
    (root / "chaos.json").write_text(json.dumps({"rows": body}, indent=1))
    (root / "chaos.md").write_text(text + "\n")
    ok = all(not p for _, _, p in rows)
    print(
        f"chaos {'PASSED' if ok else 'FAILED'}: {sum(not p for *_, p in rows)}/{len(rows)} rows match; {root / 'chaos.json'}"
    )
    return 0 if ok else 1
