"""Session-level defects of the reference agent (agent/defects.py): what it does wrong
while talking. Each is a task of the job that the defect starts; none runs otherwise.

- talk_over: once the caller has been speaking for (their utterance's speech - 1 s), say
  the reply, uninterruptibly, over them;
- stop_on_noise: stop the reply whenever the caller's track carries sound;
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
    """Interrupt the agent's own speech whenever the caller's track is not silent."""
    while True:
        await asyncio.sleep(POLL_S)
        if session.agent_state == "speaking" and audio_in.last_rms > NOISE_RMS:
            logger.warning("defect stop_on_noise: sound on the caller's track, stopping")
            await session.interrupt()


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
