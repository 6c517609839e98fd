"""The clock handshake behind the hop budget: an agent's trace counts as on the bots'
clock only when its agent_ready names the probe's clock."""

from __future__ import annotations

from pathlib import Path

from autortc.host_clock import host_clock_id, shares_clock


def test_the_id_names_the_kernel_boot(tmp_path: Path) -> None:
    boot = tmp_path / "boot_id"
    boot.write_text("4f2c-11\n", encoding="ascii")
    assert host_clock_id(boot) == "monotonic@4f2c-11"
    assert host_clock_id(tmp_path / "absent") is None
    (tmp_path / "empty").write_text("", encoding="ascii")
    assert host_clock_id(tmp_path / "empty") is None


def test_this_host_has_one_and_it_is_stable() -> None:
    first = host_clock_id()
    assert first is not None
    assert first.startswith("monotonic@")
    assert host_clock_id() == first


def test_only_two_known_equal_ids_share_a_clock() -> None:
    assert shares_clock("monotonic@a", "monotonic@a")
    assert not shares_clock("monotonic@a", "monotonic@b")  # another machine
    assert not shares_clock(None, "monotonic@a")  # the agent did not say
    assert not shares_clock(None, None)


def test_the_attempt_reads_the_agents_clock_from_its_first_agent_ready() -> None:
    from autortc.artifacts import agent_clock_id
    from autortc.protocol import AgentReady, ProbeReady

    def ready(clock_id: str | None) -> AgentReady:
        return AgentReady.new(
            trace_id="t", case_id="c", t_ns=1, in_reply_to="p1", clock_id=clock_id
        )

    probe = ProbeReady.new(trace_id="t", case_id="c", t_ns=0)
    assert agent_clock_id([(probe, 0)]) is None  # black-box: no agent_ready at all
    assert agent_clock_id([(probe, 0), (ready("monotonic@x"), 5), (ready(None), 9)]) == (
        "monotonic@x"
    )
    assert agent_clock_id([(ready(None), 5)]) is None  # an older integration
