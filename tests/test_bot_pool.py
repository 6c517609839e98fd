"""bot_pool: warm bot processes take their job on stdin, log where the job says, are
replaced while attempts remain, and never outlive the pool; a dead spare means a cold
start, not a lost attempt."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psutil
import pytest

from autortc.bot_pool import BotPool, pid_file, run_bot_process
from autortc.bots.jobspec import BotJob

pytestmark = pytest.mark.realtime  # real processes

# the warm protocol of autortc.bots.common, in a bot that only echoes its job
FAKE_BOT = """
import os, sys
if sys.argv[1] == "--warm":
    line = sys.stdin.readline()
    if not line.strip():
        sys.exit(0)
    job, _, log = line.rstrip("\\n").partition("\\t")
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    mode = "warm"
else:
    job, mode = sys.argv[1], "cold"
print(mode, job, flush=True)
sys.exit(int(open(job).read() or 0))
"""


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    pkg = tmp_path / "fakebots"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "echo_bot.py").write_text(FAKE_BOT)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return "fakebots.echo_bot"


def _job(tmp_path: Path, name: str, code: int) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "bot_job.json").write_text(str(code))
    return d / "bot_job.json"


def test_warm_bots_run_their_jobs_log_there_and_are_replaced_while_starts_remain(
    tmp_path: Path, fake: str
) -> None:
    async def go() -> tuple[list[int | None], list[int]]:
        pool = BotPool([fake], warm=1, starts=2)
        await pool.start()
        spares = [p.pid for p in pool.spares(fake)]
        try:
            codes = [
                await run_bot_process(
                    fake, _job(tmp_path, f"a{k}", k), tmp_path / f"a{k}.log", 30, pool
                )
                for k in (3, 5, 0)
            ]
            left = list(pool.spares(fake))
        finally:
            await pool.aclose()
        assert left == []  # two starts were announced: no spare after the second
        return codes, spares

    codes, spares = asyncio.run(go())
    assert codes == [3, 5, 0]
    assert (tmp_path / "a3.log").read_text().startswith("warm ")
    assert (tmp_path / "a5.log").read_text().startswith("warm ")  # the replacement
    assert (tmp_path / "a0.log").read_text().startswith("cold ")  # past the announced starts
    assert int(pid_file(tmp_path / "a3", fake).read_text()) == spares[0]


def test_a_spare_that_died_while_it_waited_means_a_cold_start(tmp_path: Path, fake: str) -> None:
    async def go() -> int | None:
        pool = BotPool([fake], warm=1, starts=1)
        await pool.start()
        (spare,) = pool.spares(fake)
        spare.kill()
        await spare.wait()
        try:
            return await run_bot_process(
                fake, _job(tmp_path, "a1", 7), tmp_path / "a1.log", 30, pool
            )
        finally:
            await pool.aclose()

    assert asyncio.run(go()) == 7
    assert (tmp_path / "a1.log").read_text().startswith("cold ")


def test_closing_the_pool_ends_every_idle_bot(fake: str) -> None:
    async def go() -> list[int]:
        pool = BotPool([fake, fake + "_other"], warm=2, starts=9)
        await pool.start()
        pids = [p.pid for m in (fake, fake + "_other") for p in pool.spares(m)]
        await pool.aclose()
        return pids

    pids = asyncio.run(go())
    assert len(pids) == 4
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]


def test_a_warm_bot_past_its_deadline_is_killed(tmp_path: Path, fake: str) -> None:
    (tmp_path / "fakebots" / "echo_bot.py").write_text(
        FAKE_BOT.replace("print(mode", "import time; time.sleep(60); print(mode")
    )

    async def go() -> int | None:
        pool = BotPool([fake], warm=1, starts=1)
        await pool.start()
        try:
            return await run_bot_process(
                fake, _job(tmp_path, "a1", 0), tmp_path / "a1.log", 1.0, pool
            )
        finally:
            await pool.aclose()

    assert asyncio.run(go()) is None


def test_the_real_probe_takes_its_job_on_stdin_and_logs_to_the_jobs_log(tmp_path: Path) -> None:
    """autortc.bots.common's side of the protocol: a job it cannot run (a bad transport
    URL) crashes it, and the crash is in the log the job named, not lost."""
    out = tmp_path / "a1"
    out.mkdir()
    job = out / "bot_job.json"
    BotJob(transport_url="bogus://x", room="r", trace_id="t", case_id="c", out_dir=str(out)).write(
        job
    )

    async def go() -> int | None:
        pool = BotPool(["autortc.bots.probe_bot"], warm=1, starts=1)
        await pool.start()
        try:
            return await run_bot_process("autortc.bots.probe_bot", job, out / "probe.log", 60, pool)
        finally:
            await pool.aclose()

    assert asyncio.run(go()) == 4
    assert "probe_bot crashed" in (out / "probe.log").read_text()
    assert (out / "probe_bot_crash.json").exists()
