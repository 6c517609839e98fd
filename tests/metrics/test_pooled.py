"""The pooled heard WER (autortc/metrics/pooled.py): replies weigh by their words."""

from __future__ import annotations

import pytest

from autortc.metrics import registry as M
from autortc.metrics.pooled import pooled_heard_wer
from autortc.metrics.rows import AttemptRow


def row(case: str, words: int | None, pre: float | None, post: float | None, attempt: int = 1):
    figures = {
        M.HEARD_WORDS.name: words,
        M.HEARD_WER_PRE.name: pre,
        M.HEARD_WER_POST.name: post,
    }
    return AttemptRow(
        case_id=case,
        priority="P0",
        attempt=attempt,
        trace_id="t",
        capture_status="OK",
        audio_valid=True,
        retry=False,
        slice_source="events",
        reply_start_sample=0,
        reply_end_sample=1,
        figures=figures,
    )


def test_replies_weigh_by_their_words() -> None:
    # a 5-word reply that lost one word (+0.2) and a 20-word reply heard as sent
    pooled = pooled_heard_wer([row("a", 5, 0.0, 0.2), row("b", 20, 0.1, 0.1)])
    assert pooled is not None
    assert (pooled.replies, pooled.words) == (2, 25)
    assert pooled.wer_pre == pytest.approx(2 / 25)
    assert pooled.wer_post == pytest.approx(3 / 25)
    assert pooled.delta == pytest.approx(1 / 25)  # one word in 25, not the short one's 0.2
    assert "post - pre +0.040" in pooled.line()


def test_only_final_attempts_with_both_scores_count() -> None:
    rows = [
        row("a", 5, 1.0, 1.0, attempt=1),  # retried: the second attempt is the one
        row("a", 5, 0.0, 0.0, attempt=2),
        row("c", 8, None, 0.5),  # no pre: not comparable
        row("d", None, 0.0, 0.0),  # not scored
    ]
    pooled = pooled_heard_wer(rows)
    assert pooled is not None
    assert (pooled.replies, pooled.words, pooled.delta) == (1, 5, 0.0)
    assert pooled_heard_wer([row("d", None, None, None)]) is None
