"""Session-level defects of the reference agent (agent/defects.py): what it does wrong
while talking. Each is a task of the job that the defect starts; none runs otherwise.

- talk_over: once the caller has been speaking for (their utterance's speech - 1 s), say
  the reply, uninterruptibly, over them;
- stop_on_noise: a slow, over-eager interruption detector: a reply that starts while
  the caller's track carried sound in the last `NOISE_MEMORY_S` is stopped
  `NOISE_REACTION_S` into it;
- crash_mid_reply: 0.5 s into the first reply, the job dies (`JobCrashed`): nothing more
  is sent, the connection is dropped, the worker lives on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from agent.defects import Defect
from agent.fault_messenger import FaultyMessenger
from agent.io_adapters import TransportAudioInput, TransportAudioOutput
from agent.scripted import ScriptState

logger = logging.getLogger(__name__)

POLL_S = 0.01
NOISE_RMS = 0.003  # the caller's track "has sound"
NOISE_MEMORY_S = 1.0
NOISE_REACTION_S = 0.3
TALK_OVER_LEAD_S = 1.0
CRASH_AFTER_S = 0.5


class JobCrashed(Exception):
    """The crash_mid_reply defect: the job dies mid-reply."""


async def talk_over(session: Any, script: ScriptState) -> None:
    """Say turn k's reply 1 s before the caller would finish turn k."""
    spoke_for: set[int] = set()
    while True:
        await asyncio.sleep(POLL_S)
        k = script.committed_turns
        if k in spoke_for or session.user_state != "speaking":
            continue
        expected = script.expected_speech_s(k)
        if expected is None:
            continue
        spoke_for.add(k)
        await asyncio.sleep(max(0.0, expected - TALK_OVER_LEAD_S))
        logger.warning("defect talk_over: replying over the caller", extra={"turn": k})
        session.say(script.reply_text(k), allow_interruptions=False, add_to_chat_ctx=False)


async def stop_on_noise(session: Any, audio_in: TransportAudioInput) -> None:
    """Stop a reply that began while the caller's track had sound (see module doc)."""
    last_sound = float("-inf")
    speaking_since: float | None = None
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(POLL_S)
        now = loop.time()
        if audio_in.last_rms > NOISE_RMS:
            last_sound = now
        if session.agent_state != "speaking":
            speaking_since = None
            continue
        if speaking_since is None:
            speaking_since = now
            heard_sound = now - last_sound <= NOISE_MEMORY_S
        if heard_sound and now - speaking_since >= NOISE_REACTION_S:
            logger.warning("defect stop_on_noise: stopping the reply for the noise it heard")
            await session.interrupt()
            heard_sound = False


async def crash_mid_reply(output: TransportAudioOutput, messenger: FaultyMessenger | None) -> None:
    """Die 0.5 s into the first reply the output hands over."""
    while True:
        await asyncio.sleep(POLL_S)
        rec = output.current_playout
        if rec is not None and rec.first_frame_t_ns is not None:
            break
    await asyncio.sleep(CRASH_AFTER_S)
    if messenger is not None:
        messenger.dead = True
    logger.warning("defect crash_mid_reply: the job dies now", extra={"t": time.time()})
    raise JobCrashed


def start(
    defect: Defect,
    tg: asyncio.TaskGroup,
    *,
    session: Any,
    script: ScriptState,
    audio_in: TransportAudioInput,
    output: TransportAudioOutput,
    messenger: FaultyMessenger | None,
) -> None:
    """Start the task of a session-level defect, if this is one."""
    if defect.is_("talk_over"):
        tg.create_task(talk_over(session, script), name="defect.talk_over")
    elif defect.is_("stop_on_noise"):
        tg.create_task(stop_on_noise(session, audio_in), name="defect.stop_on_noise")
    elif defect.is_("crash_mid_reply"):
        tg.create_task(crash_mid_reply(output, messenger), name="defect.crash_mid_reply")
