"""Messages are taken only from their rightful sender, and no payload can crash a
receiver: the filter, the bots' rules and the agent's hooks, fuzzed."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from autortc.bots.rules import BarrierState, StopRule
from autortc.protocol import (
    PROBE_IDENTITY,
    TOPIC_AGENT,
    TOPIC_PROBE,
    TOPIC_REPLY,
    TOPIC_TRACE,
    TOPIC_USER,
    TYPES_BY_TOPIC,
    USER_IDENTITY,
    MessageFilter,
    encode,
    make_message,
)

TRACE = "trace-1"
AGENT = "agent-AJ_x"
STRAY = "stray-listener"
FIELDS = {
    "agent_ready": {"in_reply_to": "p0"},
    "utterance_start": {"turn_index": 0},
    "utterance_end": {"turn_index": 0, "eot_t_ns": 5},
    "reply_start": {"reply_seq": 0},
    "reply_end": {"reply_seq": 0},
    "trace": {"point": "user_eot"},
}


def _payload(type_: str, **kw: object) -> bytes:
    msg = make_message(
        type_, trace_id=TRACE, case_id="c", t_ns=1, **{**FIELDS.get(type_, {}), **kw}
    )
    return encode(msg)


def _topic(type_: str) -> str:
    return next(t for t, types in TYPES_BY_TOPIC.items() if type_ in types)


def test_each_message_is_taken_only_from_its_rightful_sender() -> None:
    rightful = {
        "probe_ready": PROBE_IDENTITY,
        "user_ready": USER_IDENTITY,
        "utterance_start": USER_IDENTITY,
        "utterance_end": USER_IDENTITY,
        "agent_ready": AGENT,
        "reply_start": AGENT,
        "reply_end": AGENT,
        "trace": AGENT,
    }
    for type_, owner in rightful.items():
        for sender in (PROBE_IDENTITY, USER_IDENTITY, AGENT, STRAY):
            flt = MessageFilter(TRACE, agent_identity=AGENT)
            is_agent = sender == AGENT
            got = flt.accept(
                _topic(type_), _payload(type_), sender=sender, sender_is_agent=is_agent
            )
            assert (got is not None) == (sender == owner), (type_, sender)
            assert flt.wrong_sender_count == (0 if sender == owner else 1)


def test_before_the_agent_is_pinned_only_a_participant_the_transport_calls_an_agent_counts() -> (
    None
):
    flt = MessageFilter(TRACE)
    reply = _payload("reply_start")
    assert flt.accept(TOPIC_REPLY, reply, sender=STRAY, sender_is_agent=False) is None
    assert flt.accept(TOPIC_REPLY, reply, sender=USER_IDENTITY, sender_is_agent=None) is None
    assert flt.accept(TOPIC_REPLY, reply, sender=AGENT, sender_is_agent=True) is not None
    assert flt.counters()["wrong_sender"] == 2
    # a receiver that cannot tell the sender (None) skips the rule, not the others
    other = MessageFilter(TRACE)
    assert other.accept(TOPIC_REPLY, _payload("reply_end"), sender=None) is not None


def test_a_replay_of_our_own_message_from_anyone_is_a_duplicate() -> None:
    flt = MessageFilter(TRACE)
    own = make_message("probe_ready", trace_id=TRACE, case_id="c", t_ns=1)
    flt.note_sent(own)
    assert flt.accept(TOPIC_PROBE, encode(own), sender=PROBE_IDENTITY) is None
    assert flt.counters()["duplicate"] == 1


# -- fuzz ---------------------------------------------------------------------------------

TOPICS = [TOPIC_PROBE, TOPIC_AGENT, TOPIC_USER, TOPIC_REPLY, TOPIC_TRACE, "other", ""]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def adversarial(draw: st.DrawFn) -> bytes:
    """A well-formed message with one field swapped for anything, or raw bytes."""
    kind = draw(st.sampled_from(["raw", "json", "field"]))
    if kind == "raw":
        return draw(st.binary(max_size=64))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    type_ = draw(st.sampled_from(sorted({t for ts in TYPES_BY_TOPIC.values() for t in ts})))
    body = json.loads(_payload(type_))
    key = draw(st.sampled_from([*sorted(body), "type", "extra"]))
    body[key] = draw(json_values)
    return json.dumps(body).encode()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(TOPICS),
            adversarial(),
            st.sampled_from([PROBE_IDENTITY, USER_IDENTITY, AGENT, STRAY, None]),
        ),
        max_size=12,
    )
)
def test_no_payload_crashes_a_receiver_and_every_message_is_accounted_for(msgs) -> None:
    flt = MessageFilter(TRACE)
    barrier, stop = (
        BarrierState(),
        StopRule(n_turns=1, record_pad_ms=500, tail_ms=300, hard_deadline_ns=10**12),
    )
    accepted = 0
    ours = 0
    for topic, payload, sender in msgs:
        ours += topic in TYPES_BY_TOPIC
        msg = flt.accept(topic, payload, sender=sender, sender_is_agent=sender == AGENT)
        if msg is not None:
            accepted += 1
            barrier.observe(msg, recv_t_ns=1)
            stop.observe(msg, recv_t_ns=1)
            stop.deadline_ns()
    dropped = sum(flt.counters().values())
    assert accepted + dropped == ours  # nothing lost without a count


def test_nothing_the_stray_participant_sends_is_ever_accepted() -> None:
    import random

    from autortc.bots.stray_bot import STRAY_IDENTITY, garbage

    rng = random.Random(7)
    overheard = [_payload("reply_start"), _payload("probe_ready"), _payload("utterance_end")]
    flt = MessageFilter(TRACE)
    kinds = set()
    for k in range(600):
        topic, payload = garbage(rng, TRACE, "c", overheard, t_ns=k)
        kinds.add(topic)
        assert flt.accept(topic, payload, sender=STRAY_IDENTITY, sender_is_agent=False) is None
    assert kinds == set(TYPES_BY_TOPIC)  # it tried every topic
    counts = flt.counters()
    assert counts["wrong_sender"] > 100  # the forgeries with the real trace_id
    assert counts["bad"] > 50
    assert sum(counts.values()) == 600
