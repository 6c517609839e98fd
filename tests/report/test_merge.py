"""--shard K/N and `autortc merge`: the shards cover the suite once, and their merge is
judged exactly as the unsharded run (synthetic run directories, tests/report/conftest)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autortc.cli import main
from autortc.errors import InputError
from autortc.shards import parse_shard, shard_of

from .conftest import MIXED, CaseSpec, make_run


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7])
def test_shards_are_disjoint_deterministic_balanced_and_cover_every_case(n: int) -> None:
    cases = [f"c{i}" for i in range(11)]
    shards = [shard_of(cases, k, n) for k in range(1, n + 1)]
    assert sorted(c for s in shards for c in s) == sorted(cases)
    assert len({c for s in shards for c in s}) == len(cases)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert shards == [shard_of(cases, k, n) for k in range(1, n + 1)]


@pytest.mark.parametrize("bad", ["3", "0/2", "3/2", "a/b", "1/2/3"])
def test_a_bad_shard_is_one_line_naming_the_option(bad: str) -> None:
    with pytest.raises(InputError, match="--shard"):
        parse_shard(bad)


def _gates(summary: dict) -> list[tuple]:
    return [(g["name"], g["scope"], g["observed"], g["verdict"]) for g in summary["gates"]]


@pytest.mark.parametrize("n", [2, 3])
def test_the_merge_of_the_shards_equals_the_unsharded_run(
    tmp_path: Path, n: int, capsys: pytest.CaptureFixture[str]
) -> None:
    whole_dir, whole = make_run(tmp_path / "whole", MIXED, run_id="whole")
    shard_dirs = [
        make_run(tmp_path / "shards", shard_of(MIXED, k, n), run_id=f"s{k}")[0]
        for k in range(1, n + 1)
    ]
    out = tmp_path / "merged"
    code = main(["merge", *map(str, shard_dirs), "--output", str(out)])
    (merged_dir,) = list(out.iterdir())
    merged = json.loads((merged_dir / "summary.json").read_text())
    want = whole.summary
    assert code == want.exit_code
    assert merged["verdict"] == want.verdict
    assert merged["PRIMARY_KPI_VALUE"] == want.PRIMARY_KPI_VALUE
    assert (merged["n_cases"], merged["n_attempts"]) == (want.n_cases, want.n_attempts)
    assert _gates(merged) == _gates(json.loads((whole_dir / "summary.json").read_text()))
    junit = (merged_dir / "junit.xml").read_text()
    assert all(f"{s.case_id}[a{s.attempts}]" in junit for s in MIXED)
    assert json.loads((merged_dir / "merged_from.json").read_text())["runs"] == [
        str(d.resolve()) for d in shard_dirs
    ]
    assert f"VERDICT {want.verdict}" in capsys.readouterr().out


def test_the_merged_verdict_follows_the_gates(tmp_path: Path) -> None:
    good = make_run(tmp_path, [CaseSpec("a", latency_ms=400.0)], run_id="s1")[0]
    slow = make_run(tmp_path, [CaseSpec("b", latency_ms=1100.0)], run_id="s2")[0]
    assert main(["merge", str(good), "--output", str(tmp_path / "m1")]) == 0
    assert main(["merge", str(good), str(slow), "--output", str(tmp_path / "m2")]) == 1


def test_a_case_in_two_runs_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_run(tmp_path, [CaseSpec("a")], run_id="s1")[0]
    b = make_run(tmp_path, [CaseSpec("a")], run_id="s2")[0]
    assert main(["merge", str(a), str(b), "--output", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "case 'a' is also in" in err[0]


def test_the_merged_page_shows_each_cases_waveforms_and_audio(tmp_path: Path) -> None:
    shard_dirs = [
        make_run(tmp_path / "shards", shard_of(MIXED, k, 2), run_id=f"s{k}")[0] for k in (1, 2)
    ]
    out = tmp_path / "merged"
    main(["merge", *map(str, shard_dirs), "--output", str(out)])
    (merged_dir,) = list(out.iterdir())
    page = (merged_dir / "report.html").read_text()
    assert page.count('<svg class="wave"') == len(MIXED)
    srcs = [s for s in page.split('src="')[1:]]
    assert srcs
    assert all((merged_dir / s.split('"')[0]).is_file() for s in srcs)
