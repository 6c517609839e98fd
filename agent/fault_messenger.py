"""Message defects: a `Messenger` that misbehaves as the defect says (agent/defects.py).

It wraps the hooks' real messenger, so the protocol code itself stays honest: the
faults happen where a buggy agent's would, on the way out.
"""

from __future__ import annotations

import json

from agent.defects import Defect
from autortc.integrations.messengers import Messenger, OnMessage

STALE_TRACE_ID = "stale-trace-of-an-older-attempt"
MALFORMED = b'{"type": "reply_end", "trace_id": '


class FaultyMessenger:
    def __init__(self, inner: Messenger, defect: Defect) -> None:
        self._inner = inner
        self._defect = defect
        self.metadata = inner.metadata
        self.sent_faults = 0
        self.dead = False  # crash_mid_reply: a dead process sends nothing more

    def _dropped(self, msg_type: str) -> bool:
        d = self._defect
        if msg_type == "agent_ready":
            return d.is_("no_agent_ready")
        if msg_type == "reply_end":
            return d.is_("no_reply_end") or d.is_("stop_mid_reply")
        return False

    async def send(self, topic: str, payload: bytes) -> None:
        if self.dead:
            return
        body = json.loads(payload)
        if self._dropped(str(body.get("type"))):
            self.sent_faults += 1
            return
        await self._inner.send(topic, payload)
        d = self._defect
        if d.is_("stale_trace"):
            stale = {**body, "trace_id": STALE_TRACE_ID, "msg_id": body["msg_id"] + "-stale"}
            await self._inner.send(topic, json.dumps(stale).encode())
        elif d.is_("bad_json"):
            await self._inner.send(topic, MALFORMED)
        elif d.is_("dup_msg_id"):
            await self._inner.send(topic, payload)
        else:
            return
        self.sent_faults += 1

    async def receive(self, on_message: OnMessage) -> None:
        await self._inner.receive(on_message)

    def own_audio_published(self) -> bool:
        return self._inner.own_audio_published()

    def connected(self) -> bool:
        return self._inner.connected()
