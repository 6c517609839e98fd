"""The metric registry is the one place a figure is named and described."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

from autortc.gates import FINGERPRINTS, SUITE_GATES
from autortc.gates_config import GatesConfig
from autortc.metrics import registry as M

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*ROOT.joinpath("autortc").rglob("*.py"), *ROOT.joinpath("agent").rglob("*.py")])


def _string_literals(path: Path) -> list[str]:
    """Every string constant of a module except docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    ]


def test_every_metric_name_is_a_string_literal_in_exactly_one_place():
    names = {m.name for m in M.REGISTRY}
    where: Counter[str] = Counter()
    files: dict[str, list[str]] = {}
    for path in SOURCES:
        for lit in _string_literals(path):
            if lit in names:
                where[lit] += 1
                files.setdefault(lit, []).append(str(path.relative_to(ROOT)))
    for name in sorted(names):
        assert where[name] == 1, f"{name} spelled in {files.get(name)}"
        assert files[name] == ["autortc/metrics/registry.py"], files[name]


def test_registry_entries_are_complete_and_unique():
    assert len({m.name for m in M.REGISTRY}) == len(M.REGISTRY)
    for m in M.REGISTRY:
        assert m.unit
        assert m.definition
        assert m.tolerance >= 0
        if m.unit == "ms":
            assert m.name.endswith("_ms"), m.name
    assert M.by_name("max_gap_ms") is M.MAX_GAP


def test_every_gate_reads_a_registered_metric_and_a_config_field():
    fields = set(GatesConfig.model_fields)
    for g in SUITE_GATES:
        assert g.metric in M.REGISTRY
        assert g.config_key in fields
    for fp in FINGERPRINTS:
        assert fp.metric in M.REGISTRY
        assert fp.config_key in fields
