"""Participant attributes: LiveKit's rules, written once for every transport.

Pure: no I/O, no clock. What LiveKit does (read in livekit-server
`ParticipantImpl.SetAttributes` and rust-sdks `calculate_changed_attributes`):

- `set_attributes(update)` merges `update` into the participant's attributes: each
  key is set to its value, and a key set to the empty string is deleted (a key that
  is absent stays absent). Keys not named are kept.
- Everyone else in the room then sees the new attributes and gets one
  `participant_attributes_changed` event naming what changed: each key whose value
  changed, with its new value, and each deleted key with "" (so "" means gone).
  An update that changes nothing raises no event.
- Only strings: keys and values are `str`; one update carries at most
  MAX_ATTRIBUTES_BYTES of keys and values (livekit-server's `limit.max_attributes_size`
  default, checked on each update).

Which roles may set their own attributes (`ATTRIBUTE_ROLES`): the agent only; it
publishes `lk.agent.state` as livekit-agents does. On LiveKit this is the token's
`canUpdateOwnMetadata` grant (livekit_tokens.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from autortc.errors import UsageError, WireError

ATTRIBUTE_ROLES: Final = frozenset({"agent"})
MAX_ATTRIBUTES_BYTES: Final = 64_000

AGENT_STATE_ATTRIBUTE: Final = "lk.agent.state"  # livekit-agents' ATTRIBUTE_AGENT_STATE


def validate_attributes(attributes: object) -> dict[str, str]:
    """A copy of `attributes` as `dict[str, str]`; UsageError naming the first bad item."""
    if not isinstance(attributes, Mapping):
        raise UsageError(
            f"participant attributes must be a mapping of str to str, "
            f"not {type(attributes).__name__}"
        )
    checked: dict[str, str] = {}
    for key, value in attributes.items():
        if not isinstance(key, str):
            raise UsageError(
                f"participant attribute key {key!r} is a {type(key).__name__}, not a str"
            )
        if not isinstance(value, str):
            raise UsageError(
                f"participant attribute {key!r} has a {type(value).__name__} value "
                f"({value!r}), not a str (use '' to delete the key)"
            )
        checked[key] = value
    size_bytes = sum(_utf8_len(k) + _utf8_len(v) for k, v in checked.items())
    if size_bytes > MAX_ATTRIBUTES_BYTES:
        raise UsageError(
            f"participant attributes update is {size_bytes} bytes of keys and values, "
            f"over LiveKit's limit of {MAX_ATTRIBUTES_BYTES}"
        )
    return checked


def _utf8_len(text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise UsageError(f"participant attribute text {text!r} is not valid Unicode") from None


def attributes_from_wire(raw: object) -> dict[str, str]:
    """Attributes received on the local wire; WireError unless a JSON object of strings."""
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise WireError("attributes must be a JSON object of strings")
    return dict(raw)


def merge_attributes(
    current: Mapping[str, str], update: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """`current` after LiveKit's SetAttributes(`update`): (new attributes, changed).

    `changed` maps each key whose value changed to its new value, "" for a deleted key
    (the payload of `participant_attributes_changed`); empty when nothing changed.
    """
    merged = dict(current)
    changed: dict[str, str] = {}
    for key, value in update.items():
        if value == "":
            if key in merged:
                del merged[key]
                changed[key] = ""
        elif merged.get(key) != value:
            merged[key] = value
            changed[key] = value
    return merged, changed
