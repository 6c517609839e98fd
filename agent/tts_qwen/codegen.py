"""Incremental code generation: each 80 ms frame's 16 codes as soon as they exist.

qwen-tts drives the talker with HF `generate`, which hands back the codes only at the
end. This module runs the same computation step by step, with the talker's KV cache:

1. `build_prompt`: the talker's prompt, laid out exactly as the package's `generate`
   does for a custom voice in its streaming-text mode (`non_streaming_mode=False`):
   role tokens, think/language/speaker codec ids, the first text token; the rest of
   the text (`trailing_text`) is added to one talker step each, then `pad_embed`.
2. `generate_frames`: prefill, then per frame: the code predictor turns the talker's
   last hidden state and the frame's first code into the other 15 codes (`predict`),
   the frame is yielded, and one talker step (the sum of the frame's 16 code
   embeddings plus that step's text) gives the next frame's first code.

Greedy throughout, with the package's logits rules for the first code: repetition
penalty over the codes generated so far, control ids (the top 1024 of the vocabulary)
suppressed, the end token suppressed for the first two frames. With `stop_at_eos`
False (random weights, which never learnt to end) the end token is always suppressed
and `max_frames` decides. The codes equal the package's `generate(do_sample=False,
subtalker_dosample=False, max_new_tokens=N + 1)` (tests/agent/test_tts_qwen.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from agent.tts_qwen.model import LANGUAGE_NAMES, QwenModel
from autortc.errors import InputError

SUPPRESSED_TOP_IDS = 1024  # the package suppresses vocab_size - 1024 .. vocab_size - 1
MIN_NEW_TOKENS = 2  # ... and the end token for the first two
REAL_FRAMES_PER_BYTE = 2  # real weights: a cap; the end token usually comes first
REAL_MAX_FRAMES = 4096  # the package's max_new_tokens

# (talker's last hidden state (1, 1, H), frame's first code (1, 1)) -> other codes (1, 15)
CodePredictor = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class FramePolicy:
    """How many frames a text gets. Random weights: exactly `ceil(bytes / bytes_per_frame)`
    within [min_frames, max_frames]; real weights: up to the end token, capped."""

    bytes_per_frame: int = 3
    min_frames: int = 8
    max_frames: int = 200

    def frames_for(self, text: str, *, random_weights: bool) -> int:
        n_bytes = len(text.encode("utf-8"))
        if random_weights:
            wanted = math.ceil(n_bytes / self.bytes_per_frame)
            return min(self.max_frames, max(self.min_frames, wanted))
        return min(REAL_MAX_FRAMES, max(self.min_frames, REAL_FRAMES_PER_BYTE * n_bytes))


@dataclass(frozen=True)
class Prompt:
    embeds: Any  # (1, L, H): the prefill
    trailing_text: Any  # (1, T, H): one per talker step, then pad_embed
    pad_embed: Any  # (1, 1, H)


def build_prompt(model: QwenModel, text: str, *, language: str, speaker: str) -> Prompt:
    """The talker's prompt for `text` (see the module docstring)."""
    import torch

    talker, cfg = model.talker, model.config
    tc = cfg.talker_config
    spk = speaker.lower()
    if spk not in tc.spk_id:
        raise InputError(f"qwen speaker '{speaker}': choose from {', '.join(sorted(tc.spk_id))}")
    lang = LANGUAGE_NAMES[language]
    language_id = tc.codec_language_id[lang]
    dialect = tc.spk_is_dialect.get(spk, False)
    if lang == "chinese" and dialect is not False:
        language_id = tc.codec_language_id[dialect]
    with torch.no_grad():
        ids = model.tokenize(text)

        def t(x: object) -> Any:
            return torch.tensor(x, device=ids.device, dtype=ids.dtype)

        te, tp = talker.get_text_embeddings(), talker.text_projection
        ce = talker.get_input_embeddings()
        special = t([[cfg.tts_bos_token_id, cfg.tts_eos_token_id, cfg.tts_pad_token_id]])
        bos, eos, pad = tp(te(special)).chunk(3, dim=1)
        think = [tc.codec_think_id, tc.codec_think_bos_id, language_id, tc.codec_think_eos_id]
        codec = torch.cat(
            [
                ce(t([think])),
                ce(t(tc.spk_id[spk])).view(1, 1, -1),
                ce(t([[tc.codec_pad_id, tc.codec_bos_id]])),
            ],
            dim=1,
        )
        role = tp(te(ids[:, :3]))
        body = torch.cat((pad.expand(-1, codec.shape[1] - 2, -1), bos), dim=1) + codec[:, :-1]
        first = tp(te(ids[:, 3:4])) + codec[:, -1:]
        embeds = torch.cat([torch.cat((role, body), dim=1), first], dim=1)
        trailing = torch.cat((tp(te(ids[:, 4:-5])), eos), dim=1)
    return Prompt(embeds=embeds, trailing_text=trailing, pad_embed=pad)


def eager_code_predictor(talker: Any) -> CodePredictor:
    """The code predictor's 15 greedy steps with a fresh dynamic KV cache per frame."""
    import torch
    from transformers import DynamicCache

    cp = talker.code_predictor
    n_codes = talker.config.num_code_groups - 1
    first_embedding = talker.get_input_embeddings()

    def predict(past_hidden: Any, first_code: Any) -> Any:
        dev = past_hidden.device
        with torch.no_grad():
            cache = DynamicCache()
            x = cp.small_to_mtp_projection(
                torch.cat((past_hidden, first_embedding(first_code)), dim=1)
            )
            mask = torch.ones((1, x.shape[1]), dtype=torch.long, device=dev)
            start, codes = 0, []
            for step in range(n_codes):
                pos = torch.arange(start, start + x.shape[1], device=dev)
                h = cp.model(
                    inputs_embeds=x,
                    attention_mask=mask,
                    position_ids=pos.unsqueeze(0),
                    past_key_values=cache,
                    use_cache=True,
                    cache_position=pos,
                ).last_hidden_state
                code = cp.lm_head[step](h)[:, -1, :].float().argmax(dim=-1, keepdim=True)
                codes.append(code)
                start += x.shape[1]
                if step + 1 < n_codes:
                    x = cp.small_to_mtp_projection(cp.model.codec_embedding[step](code))
                    mask = torch.cat((mask, mask.new_ones((1, 1))), dim=1)
            return torch.cat(codes, dim=1)

    return predict


class _FirstCodePicker:
    """The package's logits rules for a frame's first code, greedy."""

    def __init__(self, talker: Any, *, repetition_penalty: float, stop_at_eos: bool) -> None:
        import torch

        cfg = talker.config
        self.eos = int(cfg.codec_eos_token_id)
        dev = talker.codec_head.weight.device
        self.suppress = torch.zeros(cfg.vocab_size, dtype=torch.bool, device=dev)
        self.suppress[cfg.vocab_size - SUPPRESSED_TOP_IDS :] = True
        self.suppress[self.eos] = not stop_at_eos
        self.penalty = repetition_penalty
        self.generated = torch.empty((1, 0), dtype=torch.long, device=dev)

    def pick(self, logits: Any) -> Any:
        import torch

        scores = logits.float()
        if self.penalty != 1.0 and self.generated.shape[1]:
            seen = torch.gather(scores, 1, self.generated)
            seen = torch.where(seen < 0, seen * self.penalty, seen / self.penalty)
            scores = scores.scatter(1, self.generated, seen)
        scores = scores.masked_fill(self.suppress, -math.inf)
        if self.generated.shape[1] < MIN_NEW_TOKENS:
            scores[:, self.eos] = -math.inf
        code = scores.argmax(dim=-1, keepdim=True)
        self.generated = torch.cat((self.generated, code), dim=1)
        return code


def generate_frames(
    model: QwenModel,
    prompt: Prompt,
    *,
    max_frames: int,
    predict: CodePredictor,
    repetition_penalty: float = 1.05,
    stop_at_eos: bool = False,
) -> Iterator[Any]:
    """Each frame's 16 codes (a LongTensor (16,) on the device), as soon as it exists."""
    import torch
    from transformers import DynamicCache

    talker = model.talker
    picker = _FirstCodePicker(
        talker, repetition_penalty=repetition_penalty, stop_at_eos=stop_at_eos
    )
    first_embedding = talker.get_input_embeddings()
    rest_embeddings = talker.code_predictor.get_input_embeddings()
    dev = prompt.embeds.device
    cache = DynamicCache()
    length = prompt.embeds.shape[1]
    mask = torch.ones((1, length), dtype=torch.long, device=dev)

    def talker_step(x: Any) -> tuple[Any, Any]:
        start = mask.shape[1] - x.shape[1]
        pos = torch.arange(start, mask.shape[1], device=dev)
        h = talker.model(
            inputs_embeds=x,
            attention_mask=mask,
            position_ids=pos.view(1, 1, -1).expand(3, 1, -1),
            past_key_values=cache,
            use_cache=True,
            cache_position=pos,
        ).last_hidden_state
        return h[:, -1:, :], picker.pick(talker.codec_head(h)[:, -1, :])

    with torch.no_grad():
        past_hidden, code = talker_step(prompt.embeds)
    for k in range(max_frames):
        if stop_at_eos and int(code) == picker.eos:
            return
        rest = predict(past_hidden, code)
        frame = torch.cat((code, rest), dim=1)
        yield frame[0]
        if k + 1 == max_frames:
            return
        with torch.no_grad():
            parts = [first_embedding(code)]
            parts += [rest_embeddings[i](rest[:, i : i + 1]) for i in range(rest.shape[1])]
            x = torch.cat(parts, dim=1).sum(1, keepdim=True)
            if k < prompt.trailing_text.shape[1]:
                x = x + prompt.trailing_text[:, k].unsqueeze(1)
            else:
                x = x + prompt.pad_embed
            mask = torch.cat((mask, mask.new_ones((1, 1))), dim=1)
            past_hidden, code = talker_step(x)
