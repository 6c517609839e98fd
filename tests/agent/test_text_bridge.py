"""The LLM-to-TTS text bridge: starter, punctuation and length flushes, numbers, flush,
and the invariant that the segments are exactly the pushed text, however it is chunked."""

# Full-width CJK punctuation is the point of this file, not a look-alike typo:
# ruff: noqa: RUF001, RUF003
from __future__ import annotations

import dataclasses
import random

import pytest

from agent.text_bridge import BridgeOptions, TextBridge

WEATHER_ZH = "明天北京晴转多云，最高气温二十五度，晚上有点凉。"
PARAGRAPHS = [
    "Sure! Tomorrow in Boston it will be mostly sunny, with a high of 23.5 degrees "
    "and a light breeze from the west. In the evening it cools down quickly so bring "
    "a jacket; the low is around 12 degrees.\n\nAnything else I can help you with today?",
    WEATHER_ZH + "周末可能下雨，记得带伞！需要我帮你查一下其他城市吗？",
    "好的，我帮你订了 Friday 晚上七点的 table for two。The total is 1,250 yuan, "
    "payable at 10:30 tomorrow.  Thanks!\n",
    "  \n Leading whitespace, then a very long sentence without any punctuation at all "
    "that just keeps going and going well past the maximum number of words per segment "
    "so the bridge must cut it at word boundaries only  ",
    "こんにちは、今日はいい天気ですね。明日も晴れるでしょう。",
    '"Really?!" she asked... "Yes." Then (quietly) he left.',
]


def run(deltas: list[str], options: BridgeOptions | None = None) -> tuple[list[str], list[str]]:
    """Push every delta, then flush: (segments from the pushes, segments from flush)."""
    bridge = TextBridge(options)
    pushed = [seg for delta in deltas for seg in bridge.push(delta)]
    return pushed, bridge.flush()


def segments_of(text: str, options: BridgeOptions | None = None) -> list[str]:
    pushed, flushed = run([text], options)
    return pushed + flushed


def random_chunks(text: str, rng: random.Random) -> list[str]:
    chunks, i = [], 0
    while i < len(text):
        n = rng.randint(1, 7)
        chunks.append(text[i : i + n])
        i += n
    return chunks


# -- starter ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("starter_words", "starter"),
    [(1, "Hello "), (2, "Hello world "), (3, "Hello world how ")],
)
def test_english_starter_is_the_first_starter_words_complete_words(starter_words, starter):
    options = BridgeOptions(starter_words=starter_words)
    assert segments_of("Hello world how are you doing", options)[0] == starter


def test_english_starter_goes_out_as_soon_as_the_second_word_is_complete():
    bridge = TextBridge()
    assert bridge.push("Hello") == []
    assert bridge.push(" wor") == []
    assert bridge.push("ld") == []  # "world" may go on: "worldwide"
    assert bridge.push(" h") == ["Hello world "]
    assert bridge.starter_sent
    assert bridge.segments_out == 1


@pytest.mark.parametrize(
    ("text", "starter"),
    [
        ("Hi, there, how are you?", "Hi, "),
        ("Yes. I can do that.", "Yes. "),
        ("Okay! Let me check.", "Okay! "),
        ("Well... maybe not.", "Well... "),
        ("Title\nThe body follows here.", "Title\n"),
    ],
)
def test_starter_goes_out_earlier_at_punctuation_after_one_word(text, starter):
    assert segments_of(text)[0] == starter


@pytest.mark.parametrize(
    ("text", "starter"),
    [
        (WEATHER_ZH, "明天北京"),
        ("你好，欢迎光临本店。", "你好，"),
        ("好的，我来查一下。", "好的，"),
        ("好，今天天气很好", "好，今天天"),  # one character is too few to go at "，"
        ("こんにちは、今日はいい天気ですね。", "こんにち"),
    ],
)
def test_cjk_starter_is_four_characters_or_earlier_at_cjk_punctuation(text, starter):
    assert segments_of(text)[0] == starter


@pytest.mark.parametrize("starter_cjk_chars", [2, 3, 4, 5, 6])
def test_cjk_starter_length_follows_the_option(starter_cjk_chars):
    options = BridgeOptions(starter_cjk_chars=starter_cjk_chars)
    starter = segments_of("一二三四五六七八九十", options)[0]
    assert starter == "一二三四五六七八九十"[:starter_cjk_chars]


# -- punctuation and length flushes --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        (
            "Hello world. This is a test, with commas; and more: yes! Right?",
            ["Hello world. ", "This is a test, ", "with commas; ", "and more: ", "yes! ", "Right?"],
        ),
        (WEATHER_ZH, ["明天北京", "晴转多云，", "最高气温二十五度，", "晚上有点凉。"]),
        (
            "你好，苹果、香蕉；还有：橙子！好吗？",
            ["你好，", "苹果、", "香蕉；", "还有：", "橙子！", "好吗？"],
        ),
        ("One two\nthree four\n\nfive.", ["One two\n", "three four\n\n", "five."]),
        ('So "yes." Then (maybe!) no.', ['So "yes." ', "Then (maybe!) ", "no."]),
    ],
)
def test_punctuation_flushes_a_segment_including_the_mark_and_following_space(text, segments):
    assert segments_of(text) == segments


WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
]
LONG_TEXT = " ".join(WORDS * 3)


@pytest.mark.parametrize("max_words", [8, 10, 12])
def test_no_punctuation_flushes_after_max_words_at_a_word_boundary(max_words):
    segments = segments_of(LONG_TEXT, BridgeOptions(max_words=max_words))
    assert len(segments[0].split()) == 2  # the starter
    for segment in segments[1:-1]:
        assert len(segment.split()) == max_words
        assert segment.endswith(" ")
    assert 1 <= len(segments[-1].split()) <= max_words


@pytest.mark.parametrize("seed", range(5))
def test_no_punctuation_flush_never_cuts_a_word_split_across_pushes(seed):
    rng = random.Random(seed)
    deltas = random_chunks(LONG_TEXT, rng)
    pushed, flushed = run(deltas)
    assert pushed  # the cuts happen while streaming, not only at flush
    for segment in pushed + flushed:
        assert all(word in WORDS for word in segment.split())
    assert "".join(pushed + flushed) == LONG_TEXT


def test_a_word_split_across_pushes_is_not_cut_at_the_delta_boundary():
    bridge = TextBridge()
    assert bridge.push("Hello wor") == []
    assert bridge.push("ldwide fame") == ["Hello worldwide "]


@pytest.mark.parametrize("max_cjk_chars", [8, 10, 12])
def test_cjk_without_punctuation_flushes_after_max_cjk_chars(max_cjk_chars):
    text = "甲乙丙丁戊己庚辛壬癸" * 4
    segments = segments_of(text, BridgeOptions(max_cjk_chars=max_cjk_chars))
    assert segments[0] == text[:4]
    assert [len(s) for s in segments[1:-1]] == [max_cjk_chars] * len(segments[1:-1])
    assert 1 <= len(segments[-1]) <= max_cjk_chars
    assert "".join(segments) == text


def test_cjk_length_flush_keeps_a_following_punctuation_mark_in_the_segment():
    segments = segments_of("一二三四，五六七八九十甲乙丙丁，戊。")
    assert segments == ["一二三四，", "五六七八九十甲乙丙丁，", "戊。"]


# -- numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "deltas",
    [
        ["It is 3.5 degrees today. Nice."],
        ["It is 3.", "5 degrees today. Nice."],
        ["It is 3", ".5 degrees today. Nice."],
        list("It is 3.5 degrees today. Nice."),
    ],
)
def test_a_decimal_point_between_digits_does_not_split_the_number(deltas):
    pushed, flushed = run(deltas)
    assert pushed + flushed == ["It is ", "3.5 degrees today. ", "Nice."]


@pytest.mark.parametrize("number", ["1,250", "10:30", "0.75"])
def test_separators_between_digits_are_part_of_the_number(number):
    segments = segments_of(f"The answer is {number} exactly, okay")
    assert any(number in segment for segment in segments)


def test_a_period_after_a_digit_at_a_sentence_end_still_flushes():
    assert segments_of("The count was 3. Then it rose.") == [
        "The count ",
        "was 3. ",
        "Then it rose.",
    ]


# -- flush ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deltas", "pushed", "flushed"),
    [
        (["Hello world how"], ["Hello world "], ["how"]),
        (["Hi."], [], ["Hi."]),  # the cut waits for the next character; flush decides
        (["It is 3."], ["It is "], ["3."]),
        (["一二三"], [], ["一二三"]),
        ([], [], []),
        (["   \n "], [], []),  # whitespace only: nothing to say
    ],
)
def test_flush_returns_the_remainder(deltas, pushed, flushed):
    assert run(deltas) == (pushed, flushed)


def test_leading_whitespace_merges_into_the_first_segment():
    assert segments_of("  \n Hello world again") == ["  \n Hello world ", "again"]


def test_counters_track_segments_and_the_starter():
    bridge = TextBridge()
    assert (bridge.segments_out, bridge.starter_sent) == (0, False)
    bridge.push("Hello world. This is ")
    assert (bridge.segments_out, bridge.starter_sent) == (1, True)
    bridge.push("fine. Bye")
    bridge.flush()
    assert bridge.segments_out == 3
    assert bridge.flush() == []


def test_push_after_flush_is_refused():
    bridge = TextBridge()
    bridge.flush()
    with pytest.raises(RuntimeError, match="new TextBridge"):
        bridge.push("late")


# -- invariant -----------------------------------------------------------------------


@pytest.mark.parametrize("paragraph", PARAGRAPHS)
@pytest.mark.parametrize("seed", range(8))
def test_segments_concatenate_to_the_pushed_text_for_any_chunking(paragraph, seed):
    rng = random.Random(seed)
    deltas = random_chunks(paragraph, rng)
    pushed, flushed = run(deltas)
    segments = pushed + flushed
    assert "".join(segments) == paragraph
    assert all(segment.strip() for segment in segments)  # none empty or whitespace-only
    assert segments == segments_of(paragraph)  # the chunking does not move the cuts


@pytest.mark.parametrize("seed", range(4))
def test_invariant_holds_with_every_option_extreme(seed):
    rng = random.Random(seed)
    options = BridgeOptions(
        starter_words=rng.choice([1, 3]),
        starter_cjk_chars=rng.choice([2, 6]),
        max_words=rng.choice([8, 12]),
        max_cjk_chars=rng.choice([8, 12]),
    )
    text = "".join(PARAGRAPHS)
    pushed, flushed = run(random_chunks(text, rng), options)
    assert "".join(pushed + flushed) == text
    assert pushed + flushed == segments_of(text, options)


# -- options -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        {"starter_words": 0},
        {"starter_words": 4},
        {"starter_cjk_chars": 1},
        {"starter_cjk_chars": 7},
        {"max_words": 7},
        {"max_words": 13},
        {"max_cjk_chars": 7},
        {"max_cjk_chars": 13},
    ],
)
def test_options_out_of_range_raise(field):
    with pytest.raises(ValueError, match=next(iter(field))):
        BridgeOptions(**field)


def test_options_are_frozen_and_default_within_range():
    options = BridgeOptions()
    assert (options.starter_words, options.starter_cjk_chars) == (2, 4)
    assert (options.max_words, options.max_cjk_chars) == (10, 10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.max_words = 11  # type: ignore[misc]
