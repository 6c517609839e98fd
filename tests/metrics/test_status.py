import pytest

from autortc.errors import UsageError
from autortc.metrics import status
from autortc.metrics.status import StatusFacts, capture_status

GOOD = dict(infra_status=None, audio_valid=True, all_replies_from_events=True, pre_present=True)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "OK"),
        ({"audio_valid": False}, "POST_SILENT"),
        (
            {"audio_valid": False, "all_replies_from_events": False, "pre_present": False},
            "POST_SILENT",
        ),
        ({"all_replies_from_events": False}, "NO_REPLY_EVENTS"),
        ({"all_replies_from_events": False, "pre_present": False}, "NO_REPLY_EVENTS"),
        ({"pre_present": False}, "PRE_MISSING"),
        ({"infra_status": "BARRIER_TIMEOUT", "audio_valid": False}, "BARRIER_TIMEOUT"),
        ({"infra_status": "AGENT_NOT_JOINED"}, "AGENT_NOT_JOINED"),
        ({"infra_status": "BOT_CRASHED", "pre_present": False}, "BOT_CRASHED"),
        ({"infra_status": "TIMEOUT"}, "TIMEOUT"),
    ],
)
def test_capture_status_first_match_wins(changes, expected):
    assert capture_status(StatusFacts(**{**GOOD, **changes})) == expected


def test_unknown_infra_status_is_rejected():
    with pytest.raises(UsageError, match="unknown infra_status"):
        capture_status(StatusFacts(**{**GOOD, "infra_status": "WHATEVER"}))


def test_audio_valid_uses_the_louder_of_reply_and_full():
    assert status.audio_valid(0.001, 0.02)
    assert status.audio_valid(0.01, 0.0)
    assert not status.audio_valid(0.0099, 0.0099)
    assert not status.audio_valid(None, None)
    assert status.audio_valid(None, 0.5)


def test_should_retry_exactly_the_four_transient_statuses():
    retried = {s for s in status.ALL_STATUSES if status.should_retry(s)}
    assert retried == {"POST_SILENT", "BARRIER_TIMEOUT", "AGENT_NOT_JOINED", "ROOM_GONE"}
    assert status.is_infra("ROOM_GONE")
