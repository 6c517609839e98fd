"""The suite's pooled heard WER: every scored reply's word errors over all their words.

One short reply's WER moves in steps of 1/len(words) (0.1-0.2 for a 5-10 word reply),
so a per-reply bound of +-0.05 says little; pooled over the suite, each reply weighs
by its words (`heard_words`), and the difference post - pre is what the way to the
caller cost in words, suite-wide. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from autortc.metrics import registry as M
from autortc.metrics.rows import AttemptRow, final_attempts


@dataclass(frozen=True)
class PooledWer:
    replies: int
    words: int
    wer_pre: float
    wer_post: float

    @property
    def delta(self) -> float:
        return self.wer_post - self.wer_pre

    def line(self) -> str:
        return (
            f"heard WER pooled over {self.replies} replies ({self.words} words): "
            f"pre {self.wer_pre:.3f}, post {self.wer_post:.3f}, post - pre {self.delta:+.3f}"
        )


def pooled_heard_wer(rows: Sequence[AttemptRow]) -> PooledWer | None:
    """Over the final attempts with both WERs and a word count; None when there are none."""
    n = words = 0
    pre = post = 0.0
    for r in final_attempts(rows):
        f = r.figures
        w, a, b = (
            f.get(M.HEARD_WORDS.name),
            f.get(M.HEARD_WER_PRE.name),
            f.get(M.HEARD_WER_POST.name),
        )
        if not isinstance(w, int | float) or w <= 0:
            continue
        if not isinstance(a, int | float) or not isinstance(b, int | float):
            continue
        n += 1
        words += int(w)
        pre += a * w
        post += b * w
    if n == 0:
        return None
    return PooledWer(replies=n, words=words, wer_pre=pre / words, wer_post=post / words)
