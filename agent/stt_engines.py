"""The reference agent's STT engines: one registry of names, one factory.

- ``scripted``: `agent.scripted.ScriptedSTT`, which reads turn k's utterance from the
  room's script and ignores the audio (timing-faithful, free, exact).
- ``pocketsphinx``: `agent.stt_pocketsphinx.PocketsphinxSTT`, an offline English
  recogniser over the audio itself (about 0.25 s of CPU per second of speech, no network;
  needs the `heard` extra).

Both are non-streaming: the session wraps them in `stt.StreamAdapter` with its VAD.
"""

from __future__ import annotations

from livekit.agents import stt

from agent.scripted import ScriptedSTT, ScriptState
from agent.stt_pocketsphinx import PocketsphinxSTT
from autortc.errors import InputError

STT_ENGINES: tuple[str, ...] = ("scripted", "pocketsphinx")


def make_stt(name: str, script: ScriptState) -> stt.STT[None]:
    """The STT engine called `name` (one of `STT_ENGINES`) for one room's `script`.

    Raises InputError for an unknown name (and, for pocketsphinx, when it is not installed).
    """
    if name == "scripted":
        return ScriptedSTT(script)
    if name == "pocketsphinx":
        return PocketsphinxSTT()
    raise InputError(f"unknown STT engine '{name}': choose one of {', '.join(STT_ENGINES)}")
