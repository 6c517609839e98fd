"""A text bridge between a streaming LLM and a TTS: deltas in, speakable segments out.

A TTS starts speaking only when it has text, so the first segment (the starter) goes
out as early as possible and is short: `starter_words` complete Latin words, or
`starter_cjk_chars` CJK characters, or less at a punctuation mark (after at least one
word or two CJK characters). After the starter, a segment ends at punctuation
(``. , ! ? ; :``, ``。，！？；：、`` and the newline), or, with no punctuation in sight,
after `max_words` words / `max_cjk_chars` CJK characters, at a word boundary only.

Design decisions:

- Whitespace goes with the segment before it: a segment ends after its punctuation
  run (``...``, ``?!``, closing quotes and brackets) and the whitespace after it, so a
  cut is decided when the next non-whitespace character arrives (a one-character
  look-ahead, which a streaming LLM's `` word`` tokens deliver together with the
  space). Leading whitespace of the stream merges into the first segment. Hence no
  segment is empty or whitespace-only, and ``"".join(segments) == "".join(deltas)``
  for every stream with any non-whitespace text (a whitespace-only stream yields
  nothing: a TTS has nothing to say).
- The segmentation does not depend on how the stream is chunked: a cut depends only
  on the text up to it and the look-ahead, never on where a delta ends.
- ``.``, ``,`` and ``:`` between two digits (``3.5``, ``1,000``, ``10:30``) are part of
  the number, not a break. Abbreviations (``e.g.``, ``U.S.``) are a known limitation.
- Other punctuation and symbols (``'``, ``-``, ``「``, ``$``) are neutral: they neither
  end a word nor count as one, so ``don't`` and ``well-known`` are one word.

Pure: no asyncio, no clock, no I/O. One bridge per LLM response.
"""

# Full-width CJK punctuation is the point of this file, not a look-alike typo:
# ruff: noqa: RUF001, RUF002
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

LATIN_BREAKS = frozenset(".,!?;:")
CJK_BREAKS = frozenset("。，！？；：、")
BREAKS = LATIN_BREAKS | CJK_BREAKS | {"\n"}
# Characters that stay with a punctuation run before them: `"Hi!" he said`.
CLOSERS = frozenset("\"')]}”’」』）》】")
# A break character between two digits is part of a number.
NUMBER_SEPARATORS = frozenset(".,:")
CJK_RANGES = (
    ("\u3040", "\u30ff"),  # hiragana, katakana
    ("\u3400", "\u9fff"),  # CJK unified ideographs (and extension A)
    ("\uac00", "\ud7af"),  # hangul syllables
    ("\uf900", "\ufaff"),  # CJK compatibility ideographs
)


def is_cjk(c: str) -> bool:
    return any(lo <= c <= hi for lo, hi in CJK_RANGES)


def _is_neutral(c: str) -> bool:
    return unicodedata.category(c)[0] in "PS"


def _is_break(s: str, i: int) -> bool | None:
    """Whether `s[i]` ends a phrase; None when the next character is needed to say."""
    c = s[i]
    if c not in BREAKS:
        return False
    if c in NUMBER_SEPARATORS and i > 0 and s[i - 1].isdigit():
        if i + 1 == len(s):
            return None
        return not s[i + 1].isdigit()
    return True


@dataclass(frozen=True)
class BridgeOptions:
    starter_words: int = 2
    starter_cjk_chars: int = 4
    max_words: int = 10
    max_cjk_chars: int = 10

    def __post_init__(self) -> None:
        for name, lo, hi in (
            ("starter_words", 1, 3),
            ("starter_cjk_chars", 2, 6),
            ("max_words", 8, 12),
            ("max_cjk_chars", 8, 12),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(f"{name} must be an integer in {lo}..{hi}, got {value!r}")


class TextBridge:
    """Segments a streaming LLM's text for a TTS; see the module docstring."""

    def __init__(self, options: BridgeOptions | None = None) -> None:
        self.options = options if options is not None else BridgeOptions()
        self._pending = ""
        self._flushed = False
        self.segments_out = 0
        self.starter_sent = False

    def push(self, delta: str) -> list[str]:
        """Take the next text delta; return the segments now ready, in order."""
        if self._flushed:
            raise RuntimeError("the bridge was flushed; use a new TextBridge per LLM response")
        self._pending += delta
        out: list[str] = []
        while (cut := self._find_cut(self._pending)) is not None:
            out.append(self._emit(self._pending[:cut]))
            self._pending = self._pending[cut:]
        return out

    def flush(self) -> list[str]:
        """End of the LLM stream: return what is left (nothing for pure whitespace)."""
        self._flushed = True
        rest, self._pending = self._pending, ""
        if not rest.strip():
            return []
        return [self._emit(rest)]

    def _emit(self, segment: str) -> str:
        self.segments_out += 1
        self.starter_sent = True
        return segment

    def _find_cut(self, s: str) -> int | None:
        """The end of the first segment of `s`, or None if it is not decided yet."""
        o = self.options
        starter = not self.starter_sent
        word_limit = o.starter_words if starter else o.max_words
        cjk_limit = o.starter_cjk_chars if starter else o.max_cjk_chars
        min_cjk_for_break = 2 if starter else 1
        words = 0
        cjk = 0
        in_word = False
        for i, c in enumerate(s):
            brk = _is_break(s, i)
            if brk is None:
                return None
            if brk:
                if in_word:
                    words += 1
                    in_word = False
                if words >= 1 or cjk >= min_cjk_for_break:
                    return self._after_run(s, i)
                continue
            if c.isspace() or is_cjk(c):
                if in_word:
                    words += 1
                    in_word = False
                    if words >= word_limit:
                        cut = self._boundary(s, i)
                        if cut != -1:
                            return cut
                if c.isspace():
                    continue
                cjk += 1
                if cjk >= cjk_limit:
                    cut = self._boundary(s, i + 1)
                    if cut != -1:
                        return cut
                continue
            if not _is_neutral(c):
                in_word = True
        return None

    @staticmethod
    def _after_run(s: str, i: int) -> int | None:
        """The cut after the punctuation run at `s[i]` and the whitespace after it."""
        j = i + 1
        while j < len(s):
            c = s[j]
            if c.isspace() or (c in CLOSERS and not s[j - 1].isspace()):
                j += 1
                continue
            brk = _is_break(s, j)
            if brk is None:
                return None
            if not brk:
                return j
            j += 1
        return None

    @staticmethod
    def _boundary(s: str, i: int) -> int | None:
        """The cut at a word boundary at `s[i]`, after the whitespace there.

        None: not decided yet; -1: no cut here, a break follows and will cut after it.
        """
        j = i
        while j < len(s) and s[j].isspace():
            j += 1
        if j == len(s):
            return None
        brk = _is_break(s, j)
        if brk is None:
            return None
        return -1 if brk else j
