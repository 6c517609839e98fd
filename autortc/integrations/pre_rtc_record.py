"""The agent's side of the audio record, written for the harness to collect:

- pre_rtc.wav + pre_rtc.json: the agent's replies before the network, after every
  reply and once more, `complete`, when the hooks close;
- trace.json: every trace point the agent sent (`turn_id`, `point`, `t_ns` on its
  monotonic clock), beside pre_rtc, written with it;
- agent_in.wav + agent_in.json: the user track as the agent received it, with each
  frame's receive time, written once before the complete pre_rtc.json. The harness
  finds the EoT sample in it: the user bot -> agent hop.

Each file is replaced atomically and each JSON after its WAV, so a reader that takes
the JSON first and the WAV second always gets a WAV covering what the JSON lists.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from autortc import protocol as P
from autortc.audio import SAMPLE_RATE_HZ, write_wav

MAX_HEARD_S = 900  # keep at most this much of what the agent heard (a long soak)


class PreRtcRecord:
    def __init__(self, out_dir: Path | None) -> None:
        self.out_dir = out_dir  # <pre_rtc_dir>/<trace_id>; None: write nothing
        self._chunks: list[np.ndarray] = []
        self._replies: list[P.PreRtcReply] = []
        self._samples = 0
        self._heard: list[np.ndarray] = []
        self._heard_t_ns: list[int] = []
        self._trace: list[dict[str, object]] = []

    def traced(self, turn_id: int, point: str, t_ns: int) -> None:
        self._trace.append({"turn_id": turn_id, "point": point, "t_ns": t_ns})

    def add_reply(self, reply_seq: int, pcm: np.ndarray, *, interrupted: bool) -> None:
        start = self._samples
        self._chunks.append(pcm)
        self._samples += len(pcm)
        self._replies.append(
            P.PreRtcReply(
                reply_seq=reply_seq,
                start_sample=start,
                end_sample=self._samples,
                interrupted=interrupted,
            )
        )

    def heard(self, pcm: np.ndarray, recv_t_ns: int) -> None:
        """One 10 ms frame of the user track as received, before any processing."""
        if self.out_dir is None or len(self._heard_t_ns) >= MAX_HEARD_S * 100:
            return
        self._heard.append(np.asarray(pcm, dtype=np.int16))
        self._heard_t_ns.append(int(recv_t_ns))

    def write(self, *, complete: bool = False) -> Path | None:
        if self.out_dir is None:
            return None
        if complete and self._heard:
            write_wav(self.out_dir / "agent_in.wav", np.concatenate(self._heard))
            body = P.AgentInManifest(
                sample_rate_hz=SAMPLE_RATE_HZ, frame_recv_t_ns=self._heard_t_ns
            )
            _write_json(self.out_dir / "agent_in.json", body)
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        write_wav(self.out_dir / "pre_rtc.wav", pcm, sample_rate_hz=SAMPLE_RATE_HZ)
        manifest = P.PreRtcManifest(
            sample_rate_hz=SAMPLE_RATE_HZ, replies=self._replies, complete=complete
        )
        _write_json(self.out_dir / "pre_rtc.json", manifest)
        if self._trace:
            tmp = self.out_dir / f".trace.json.{os.getpid()}.tmp"
            tmp.write_text(json.dumps({"points": self._trace}, indent=1))
            os.replace(tmp, self.out_dir / "trace.json")
        return self.out_dir


def _write_json(path: Path, body: BaseModel) -> None:
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    tmp.write_text(body.model_dump_json(indent=1))
    os.replace(tmp, path)
