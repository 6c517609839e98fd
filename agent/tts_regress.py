"""`tts-regress`: gate a TTS engine on a fixed text set (the runner: clock and files).

    python -m agent.tts_regress --engine espeak|tone|qwen --out DIR [--runs 3]
        [--baseline PATH | --no-baseline] [--update-baseline] [--engine-opt KEY=VALUE ...]
    autortc tts-regress ...   (the same)

For each text of `cases/tts_regress/texts.yaml`, `runs` times: the offline synthesis
(its wall time over the audio's duration is the RTF) and the streamed one (TTFA: the
injected clock from the `stream` call to its first chunk). The pure gates
(`agent.tts_regress_gates`) judge the figures; `<out>/summary.json` holds them, and
`<out>/<text>.offline.wav` / `.stream.wav` the first run's audio, to listen to.

Baseline: `golden/tts_regress/<engine>.json` unless `--baseline`. The hashes must
match it (FAIL otherwise: the output changed); TTFA and RTF only WARN. A missing
default baseline is SKIP; `--update-baseline` writes it when every other gate passes.

Exit codes: 0 every gate passes (WARN and SKIP included), 1 a gate failed, 2 bad input
(one line naming the file and the field) or an engine error.

An engine may also state how far its stream may differ from its offline output, offer
a CUDA-graphs variant of itself and count things (`agent.tts_regress_engine`): each
text then gets `stream_vs_offline_lsb` and `graphs_on_vs_off` (SKIP with the reason
where it offers none) and its counters in summary.json. `--engine-opt` passes options
to the engine's factory (e.g. qwen: `size=full device=cuda cuda_graphs=true`).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.tts_engines import TTS_ENGINES, TtsEngine, make_tts_engine
from agent.tts_regress_engine import EngineFigures, evaluate_engine
from agent.tts_regress_gates import (
    TextFigures,
    compare_with_baseline,
    evaluate_text,
    make_baseline,
    parse_baseline,
)
from agent.tts_regress_measure import (
    NsClock,
    TextCase,
    engine_counters,
    engine_runs,
    graphs_variant,
    measure_text,
)
from agent.tts_regress_registry import HASH_VS_BASELINE, TtsThresholds
from agent.tts_regress_report import build_summary, progress_line, render_table
from agent.tts_regress_signal import audio_problem
from autortc.audio import write_wav
from autortc.errors import EXIT_FAIL, AutortcError, CaseError, InputError
from autortc.gates import GateResult, Verdict

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TEXTS_PATH = REPO_ROOT / "cases" / "tts_regress" / "texts.yaml"
BASELINE_DIR = REPO_ROOT / "golden" / "tts_regress"


class TextSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    texts: list[TextCase] = Field(min_length=1)

    @field_validator("texts")
    @classmethod
    def _unique_ids(cls, v: list[TextCase]) -> list[TextCase]:
        ids = [t.id for t in v]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate text ids in {ids}")
        return v


def _display(path: Path) -> str:
    """A path as shown: relative to the repo root when under it."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _read(path: Path, *, kind: str) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise CaseError(_display(path), "<file>", f"cannot read: {e.strerror or e}") from e
    try:
        return json.loads(text) if kind == "json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        raise CaseError(_display(path), "<file>", f"invalid {kind.upper()}: {e}") from e


def load_texts(path: Path = DEFAULT_TEXTS_PATH) -> list[TextCase]:
    """The text set; errors name the file and the field (CaseError, exit 2)."""
    try:
        return TextSet.model_validate(_read(path, kind="yaml")).texts
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "<root>"
        raise CaseError(_display(path), field, err["msg"]) from e


def default_baseline_path(engine_name: str) -> Path:
    return BASELINE_DIR / f"{engine_name}.json"


def _espeak_version() -> str:
    """libespeak-ng's version; where it cannot load (the GPU image, for another engine),
    that is said instead: only the espeak engine's audio depends on it."""
    try:
        from autortc.espeak import espeak_version

        return espeak_version()
    except (ImportError, OSError, RuntimeError) as e:
        return f"not loaded ({type(e).__name__})"


def environment(engine: TtsEngine) -> dict[str, str]:
    """What the audio depends on besides the engine: recorded with every baseline."""
    import scipy
    import soxr

    return {
        "engine_version": engine.version,
        "espeak_ng": _espeak_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "soxr": soxr.__version__,
        "machine": platform.machine(),
    }


@dataclass(frozen=True)
class TtsRegressSummary:
    summary: dict[str, Any]  # what summary.json holds
    table: str
    summary_path: Path
    baseline_written: Path | None

    @property
    def verdict(self) -> str:
        return str(self.summary["verdict"])

    @property
    def exit_code(self) -> int:
        return int(self.summary["exit_code"])


def run_tts_regress(
    engine_name: str,
    out_dir: Path,
    *,
    runs: int = 3,
    baseline_path: Path | None = None,
    use_baseline: bool = True,
    update_baseline: bool = False,
    texts_path: Path = DEFAULT_TEXTS_PATH,
    clock: NsClock = time.perf_counter_ns,
    engine: TtsEngine | None = None,
    thresholds: TtsThresholds = TtsThresholds(),  # noqa: B008 (frozen)
    progress: Callable[[str], None] = print,
    engine_options: dict[str, Any] | None = None,
) -> TtsRegressSummary:
    """Run the text set through the engine; write `<out_dir>/summary.json`.

    `baseline_path` None: `golden/tts_regress/<engine>.json` (SKIP when missing);
    `use_baseline` False: no comparison. `engine`: a ready engine instead of the
    registry's (tests); `engine_options`: keyword arguments for the registry's factory.
    Bad input raises InputError/CaseError.
    """
    if runs < 1:
        raise InputError(f"--runs {runs}: must be >= 1")
    if update_baseline and not use_baseline:
        raise InputError("--update-baseline and --no-baseline exclude each other")
    cases = load_texts(texts_path)
    eng = engine if engine is not None else make_tts_engine(engine_name, **(engine_options or {}))
    base_path = baseline_path or default_baseline_path(eng.name)
    base = None
    if use_baseline and not update_baseline and (baseline_path or base_path.exists()):
        base = parse_baseline(_read(base_path, kind="json"), _display(base_path))
        if base.engine != eng.name:
            problem = f"is '{base.engine}', not this run's engine '{eng.name}'"
            raise CaseError(_display(base_path), "engine", problem)
    env = environment(eng)
    variant = graphs_variant(eng)

    figures: list[TextFigures] = []
    engine_figures: dict[str, EngineFigures] = {}
    text_gates: dict[str, list[GateResult]] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, case in enumerate(cases, start=1):
        before = engine_counters(eng)
        measured = measure_text(eng, case, runs=runs, clock=clock)
        fig, gates = evaluate_text(measured, thresholds)
        engine_figures[case.id], more = evaluate_engine(
            engine_runs(eng, case, measured, variant, before)
        )
        gates += more
        figures.append(fig)
        text_gates[case.id] = gates
        for mode, pcm in (("offline", measured.offline[0]), ("stream", measured.streamed[0])):
            if audio_problem(pcm) is None:
                write_wav(out_dir / f"{case.id}.{mode}.wav", pcm, sample_rate_hz=eng.sample_rate_hz)
        progress(progress_line(i, len(cases), fig, gates))

    overall: list[GateResult] = []
    if base is not None:
        for g in compare_with_baseline(figures, base, thresholds, environment=env):
            text_gates.get(g.scope, overall).append(g)
    elif use_baseline and not update_baseline:
        overall.append(_no_baseline(base_path))
    summary = build_summary(
        engine=eng.name,
        version=eng.version,
        environment=env,
        runs=runs,
        figures=figures,
        engine_figures=engine_figures,
        text_gates=text_gates,
        baseline_gates=overall,
        baseline_path=_display(base_path) if base is not None else None,
        thresholds=thresholds,
    )
    summary_path = out_dir / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", "utf-8")
    written = None
    if update_baseline and summary["exit_code"] != EXIT_FAIL:
        baseline = make_baseline(eng.name, eng.version, env, runs, figures)
        base_path.parent.mkdir(parents=True, exist_ok=True)
        base_path.write_text(baseline.model_dump_json(indent=2) + "\n", encoding="utf-8")
        written = base_path
    return TtsRegressSummary(summary, render_table(summary, figures), summary_path, written)


def _no_baseline(path: Path) -> GateResult:
    detail = f"no baseline at {_display(path)}; make one with --update-baseline"
    return GateResult(HASH_VS_BASELINE.name, None, None, Verdict.SKIP, None, "vs baseline", detail)


class _Parser(argparse.ArgumentParser):
    """Reports a bad option as one InputError line (exit 2), no usage dump."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m agent.tts_regress",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--engine", choices=list(TTS_ENGINES), default="espeak")
    p.add_argument("--out", type=Path, required=True, help="where summary.json and the wavs go")
    p.add_argument("--runs", type=int, default=3, help="syntheses per text and mode")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--baseline", type=Path, default=None, help="default: golden/tts_regress/")
    group.add_argument("--no-baseline", action="store_true", help="compare with no baseline")
    p.add_argument("--update-baseline", action="store_true", help="write the baseline if all pass")
    p.add_argument(
        "--engine-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option for the engine's factory, repeatable (qwen: size=full device=cuda)",
    )
    return p


def parse_engine_opts(items: Sequence[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings as keyword arguments: true/false, an int or a float, else text."""
    opts: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise InputError(f"--engine-opt '{item}': expected KEY=VALUE, e.g. device=cuda")
        value: Any = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            for kind in (int, float):
                try:
                    value = kind(raw)
                    break
                except ValueError:
                    continue
        opts[key.strip()] = value
    return opts


def run_cli(
    *,
    engine: str,
    out: Path,
    runs: int = 3,
    baseline: Path | None = None,
    no_baseline: bool = False,
    update_baseline: bool = False,
    engine_opts: Sequence[str] = (),
) -> int:
    """Run, print the table (and where the baseline went); return the exit code."""
    result = run_tts_regress(
        engine,
        out,
        runs=runs,
        baseline_path=baseline,
        use_baseline=not no_baseline,
        update_baseline=update_baseline,
        engine_options=parse_engine_opts(engine_opts),
    )
    print(result.table)
    print(f"summary: {_display(result.summary_path)}")
    if result.baseline_written is not None:
        print(f"baseline written: {_display(result.baseline_written)}")
    elif update_baseline:
        print("baseline NOT written: a gate failed")
    return result.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return run_cli(
            engine=args.engine,
            out=args.out,
            runs=args.runs,
            baseline=args.baseline,
            no_baseline=args.no_baseline,
            update_baseline=args.update_baseline,
            engine_opts=args.engine_opt,
        )
    except AutortcError as e:
        print(f"tts-regress: error: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
