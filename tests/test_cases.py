"""Case schema and suite loading: valid suites load, every error names file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from autortc.case_schema import Case, load_suite, nightly_cases
from autortc.errors import CaseError, InputError

MINIMAL = {
    "id": "tmp_case",
    "priority": "P0",
    "turns": [{"say": "Hello there."}],
    "agent": {"reply_text": "Hi."},
}


def _write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _suite_with(tmp_path: Path, cases: list[object]) -> Path:
    return _write(tmp_path / "suite.yaml", {"suite": "tmp", "cases": cases})


def test_mini_suite_has_the_four_named_p0_cases() -> None:
    cases = load_suite("mini")
    assert [c.id for c in cases] == [
        "endpoint_short_hello",
        "endpoint_long_sentence",
        "interrupt_once",
        "noise_background",
    ]
    assert all(c.priority == "P0" for c in cases)


def test_fast_suite_has_12_p0_and_4_p1() -> None:
    cases = load_suite("fast")
    assert len(cases) == 16
    assert sum(c.priority == "P0" for c in cases) == 12
    assert {c.id for c in cases if c.priority == "P1"} == {
        "boom_trigger",
        "speed_drift_check",
        "distortion_check",
        "long_reply_stability",
    }
    assert {c.id for c in load_suite("mini")} <= {c.id for c in cases}


def test_fast_cases_carry_what_cases_md_asks_for() -> None:
    by_id = {c.id: c for c in load_suite("fast")}
    assert by_id["endpoint_mid_pause"].turns[0].pause_ms == 600
    assert by_id["endpoint_low_volume"].turns[0].gain_db == -20
    assert by_id["endpoint_fast_speech"].turns[0].rate == 1.4
    assert by_id["endpoint_slow_speech"].turns[0].rate == 0.7
    assert by_id["endpoint_mandarin"].turns[0].voice == "cmn"
    assert len(by_id["multi_turn_two"].turns) == 2
    assert by_id["boom_trigger"].turns[0].spikes
    noise = by_id["noise_background"].turns[0].noise
    assert noise is not None
    assert noise.snr_db == 10
    interrupt = by_id["interrupt_once"]
    assert interrupt.turns[1].barge_in is not None
    assert interrupt.turns[1].barge_in.after_agent_ms == 1500
    assert len(interrupt.agent.reply_for_turn(0).split()) >= 15  # >= 5 s of reply
    assert interrupt.agent.reply_for_turn(1) != interrupt.agent.reply_for_turn(0)
    assert all(c.record_pad_ms >= 10_000 for c in by_id.values())


def test_calibration_suite_is_separate_and_tagged() -> None:
    cases = load_suite("calibration")
    assert 1 <= len(cases) <= 2
    assert all("calibration" in c.tags for c in cases)
    assert not {c.id for c in cases} & {c.id for c in load_suite("fast")}


def test_nightly_has_20_single_turn_rooms_cycling_p0_with_zero_wait() -> None:
    cases = load_suite("nightly")
    assert len(cases) == 20
    assert cases[7].id == "nightly_t07_endpoint_fast_speech"
    assert cases[12].source_case == "endpoint_short_hello"
    assert all(len(c.turns) == 1 and c.turns[0].barge_in is None for c in cases)
    assert all(c.room_wait_s == 0 for c in cases)
    assert len({c.id for c in cases}) == 20


def test_nightly_room_wait_is_a_setting() -> None:
    cases = nightly_cases(load_suite("mini"), n_turns=5, room_wait_s=20)
    assert [c.room_wait_s for c in cases] == [20] * 5
    assert cases[4].source_case == "endpoint_short_hello"


def test_single_case_file_loads(tmp_path: Path) -> None:
    cases = load_suite(str(_write(tmp_path / "one.yaml", MINIMAL)))
    assert len(cases) == 1
    assert cases[0].record_pad_ms == 10_000
    assert cases[0].timeout_s == 60
    assert cases[0].expect.reply is True


def test_wrong_type_names_suite_file_and_dotted_field(tmp_path: Path) -> None:
    bad = {
        **MINIMAL,
        "turns": [{"say": "hi there", "noise": {"kind": "pink", "snr_db": "loud", "seed": 1}}],
    }
    path = _suite_with(tmp_path, ["endpoint_short_hello", MINIMAL | {"id": "a"}, bad])
    with pytest.raises(CaseError) as info:
        load_suite(str(path))
    assert info.value.field == "cases[2].turns[0].noise.snr_db"
    assert (
        "suite.yaml: field 'cases[2].turns[0].noise.snr_db': Input should be a valid number"
        in str(info.value)
    )


def test_unknown_field_is_rejected_by_name(tmp_path: Path) -> None:
    bad = {**MINIMAL, "turns": [{"say": "hi", "nosie": 3}]}
    with pytest.raises(
        CaseError, match=r"field 'turns\[0\]\.nosie': Extra inputs are not permitted"
    ):
        load_suite(str(_write(tmp_path / "one.yaml", bad)))


def test_bad_priority_and_missing_field_are_named(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match=r"field 'priority'"):
        load_suite(str(_write(tmp_path / "p.yaml", {**MINIMAL, "priority": "P2"})))
    no_agent = {k: v for k, v in MINIMAL.items() if k != "agent"}
    with pytest.raises(CaseError, match=r"field 'agent': Field required"):
        load_suite(str(_write(tmp_path / "a.yaml", no_agent)))


def test_reply_list_must_match_turn_count(tmp_path: Path) -> None:
    bad = {**MINIMAL, "agent": {"reply_text": ["one", "two"]}}
    with pytest.raises(CaseError, match=r"field 'agent'.*2 entries but the case has 1 turns"):
        load_suite(str(_write(tmp_path / "r.yaml", bad)))


def test_reply_text_wrong_type_names_the_field_without_union_tags(tmp_path: Path) -> None:
    bad = {**MINIMAL, "agent": {"reply_text": 5}}
    with pytest.raises(CaseError) as info:
        load_suite(str(_write(tmp_path / "r.yaml", bad)))
    assert info.value.field == "agent.reply_text"


def test_first_turn_cannot_barge_in(tmp_path: Path) -> None:
    bad = {**MINIMAL, "turns": [{"say": "stop", "barge_in": {"after_agent_ms": 100}}]}
    with pytest.raises(CaseError, match="cannot have barge_in"):
        load_suite(str(_write(tmp_path / "b.yaml", bad)))


def test_pause_needs_two_words(tmp_path: Path) -> None:
    bad = {**MINIMAL, "turns": [{"say": "Hello", "pause_ms": 600}]}
    with pytest.raises(CaseError, match=r"field 'turns\[0\]'.*at least two words"):
        load_suite(str(_write(tmp_path / "p.yaml", bad)))


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.yaml: case file not found"):
        load_suite(str(tmp_path / "nope.yaml"))


def test_missing_referenced_case_names_the_entry(tmp_path: Path) -> None:
    path = _suite_with(tmp_path, ["endpoint_short_hello", "no_such_case"])
    with pytest.raises(CaseError, match=r"field 'cases\[1\]': no case file .*no_such_case.yaml"):
        load_suite(str(path))


def test_malformed_yaml_reports_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\npriority: P0\nturns: [\n  - say: hi\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken.yaml: malformed YAML at line \d+"):
        load_suite(str(path))


def test_unknown_suite_name_lists_the_choices() -> None:
    with pytest.raises(InputError) as info:
        load_suite("foo")
    assert str(info.value) == (
        "unknown suite 'foo': expected mini, fast, nightly, calibration or a path to a .yaml file"
    )


def test_duplicate_ids_in_a_suite_are_rejected(tmp_path: Path) -> None:
    path = _suite_with(tmp_path, [MINIMAL, MINIMAL])
    with pytest.raises(CaseError, match=r"cases\[1\]\.id.*duplicate"):
        load_suite(str(path))


def test_case_id_must_match_its_def_file_name(tmp_path: Path) -> None:
    (tmp_path / "defs").mkdir()
    _write(tmp_path / "defs" / "foo.yaml", MINIMAL)
    path = _write(tmp_path / "s.yaml", ["foo"])
    with pytest.raises(CaseError, match=r"foo.yaml: field 'id': id 'tmp_case' does not match"):
        load_suite(str(path), cases_dir=tmp_path)


def test_bad_nightly_generate_block_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "n.yaml", {"suite": "n", "generate": {"turns": "many"}})
    with pytest.raises(CaseError, match=r"field 'generate.turns'"):
        load_suite(str(path))


def test_models_are_strict_in_code_too() -> None:
    with pytest.raises(ValueError, match="Extra inputs"):
        Case.model_validate({**MINIMAL, "colour": "red"})
