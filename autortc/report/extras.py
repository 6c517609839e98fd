"""Extra reports: junit.xml and report.html (called by autortc.report.write).

Both render from data: the outcome, and the `CaseView`s the attempt runner built
from each attempt's analysed inputs (`autortc.report.views`). Nothing here reads an
attempt directory. An HTML failure is logged and never loses junit.xml or the other
reports.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from autortc.metrics.rows import final_attempts
from autortc.report.audio_files import AUDIO_DIR, safe_name, write_ogg_opus
from autortc.report.html import CaseView, render_html, wav_data_uri
from autortc.report.junit import render_junit
from autortc.report.outcome import SuiteOutcome

log = logging.getLogger(__name__)


def final_views(outcome: SuiteOutcome, views: Sequence[CaseView]) -> list[CaseView]:
    """The views of each case's final attempt, by case id; a case without one gets a note.
    With --repeat, the first repeat's (the report's repeats table covers the rest)."""
    by_key = {(v.case_id, v.row.repeat, v.attempt): v for v in views}
    out = []
    for row in sorted(final_attempts(outcome.rows), key=lambda r: r.case_id):
        if row.repeat is not None and row.repeat > 1:
            continue
        view = by_key.get((row.case_id, row.repeat, row.attempt))
        if view is None:
            view = CaseView(case_id=row.case_id, attempt=row.attempt, row=row)
            view.notes.append(f"attempt {row.tag}: no recordings were analysed for it")
        out.append(view)
    return out


def write_clips(run_dir: Path, views: Sequence[CaseView]) -> None:
    """Each clip's audio as `audio/<case>_<attempt>_<label>.ogg` beside the page, linked
    by relative path; a clip that cannot be encoded is embedded as a WAV data URI."""
    for view in views:
        for clip in view.clips:
            if clip.samples is None:
                continue
            name = safe_name(view.case_id, view.row.tag, clip.label) + ".ogg"
            try:
                write_ogg_opus(
                    run_dir / AUDIO_DIR / name, clip.samples, sample_rate_hz=clip.sample_rate_hz
                )
                clip.src = f"{AUDIO_DIR}/{name}"
            except Exception as e:  # a listening copy: never lose the page for it
                log.warning("clip not written as Opus", extra={"clip": name, "error": repr(e)})
                clip.src = wav_data_uri(clip.samples, sample_rate_hz=clip.sample_rate_hz)
            clip.samples = None


def write_extras(
    run_dir: Path, outcome: SuiteOutcome, views: Sequence[CaseView] = ()
) -> dict[str, Path]:
    """Write junit.xml and report.html into `run_dir`; returns the written paths."""
    paths: dict[str, Path] = {"junit": run_dir / "junit.xml"}
    paths["junit"].write_text(render_junit(outcome.summary, outcome.rows), encoding="utf-8")
    html_path = run_dir / "report.html"
    try:
        shown = final_views(outcome, views)
        write_clips(run_dir, shown)
        page = render_html(outcome.summary, outcome.rows, shown)
        html_path.write_text(page, encoding="utf-8")
    except Exception as e:  # the HTML page is a convenience: never lose the other reports
        log.warning("report.html not written", extra={"run_dir": str(run_dir), "error": repr(e)})
        return paths
    paths["html"] = html_path
    return paths
