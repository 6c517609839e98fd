"""The three networks of Qwen3-TTS 12 Hz CustomVoice, built from qwen-tts's own classes.

- talker (`Qwen3TTSTalkerForConditionalGeneration`): text + codec prompt in, the first
  code of each 80 ms frame out; it holds the code predictor, which adds the other 15.
- codec decoder (`Qwen3TTSTokenizerV2Decoder`): 16 codes per frame in, 1920 samples
  (24 kHz float32) per frame out.
- text tokenizer: text -> ids laid out as the package's `_build_assistant_text`.

Two sources of weights:

- `build_random(size, seed=42)`: seeded random weights, built on the CPU (the same
  weights on every machine), then moved to the device. `QwenSize.TINY` (4 M parameters)
  runs on a CPU; `QwenSize.FULL` has the published 0.6B talker and 12 Hz decoder sizes.
  The real text tokenizer's files are hub-only, so both use a byte-level stand-in
  vocabulary (ids 0-255 are UTF-8 bytes, a few special ids above). The decoder's
  codebooks (left at zero by the package's init) are drawn from N(0, 1), its convs and
  linears get torch's fan-in init with zero biases (no DC offset), and its last conv is
  scaled so a fixed probe decodes at `TARGET_RMS`. The audio is noise, not speech.
- `load_local(model_dir)`: a downloaded checkpoint directory, `local_files_only=True`
  and HF_HUB_OFFLINE set: nothing is ever downloaded; a missing file is an InputError.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.tts_qwen import shim
from autortc.errors import InputError

SEED = 42
NUM_CODE_GROUPS = 16
TARGET_RMS = 0.1  # random decoder's output level (-20 dBFS)
PROBE_FRAMES = 8

# the byte-level stand-in text vocabulary (the real ids, 151644..., are config fields)
IM_START, IM_END, TTS_PAD, TTS_BOS, TTS_EOS, ASSISTANT = 300, 301, 302, 303, 304, 305
BYTE_VOCAB = 320
NEWLINE = 10

LANGUAGE_NAMES = {"en": "english", "zh": "chinese"}
REQUIRED_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer_config.json",
    "speech_tokenizer/config.json",
)


class QwenSize(enum.StrEnum):
    TINY = "tiny"
    FULL = "full"


@dataclass(frozen=True)
class QwenDims:
    """The sizes of the three networks (random weights only)."""

    talker_hidden: int
    talker_layers: int
    talker_heads: int
    talker_kv_heads: int
    talker_head_dim: int
    talker_intermediate: int
    mrope_section: tuple[int, int, int]  # sums to head_dim / 2
    text_hidden: int
    cp_hidden: int
    cp_layers: int
    cp_heads: int
    cp_kv_heads: int
    cp_head_dim: int
    cp_intermediate: int
    dec_hidden: int
    dec_layers: int
    dec_heads: int
    dec_head_dim: int
    dec_intermediate: int
    dec_latent: int
    dec_codebook_dim: int
    dec_dim: int
    dec_layer_scale: float = 0.01  # the package's default LayerScale


DIMS = {
    QwenSize.TINY: QwenDims(
        talker_hidden=64,
        talker_layers=2,
        talker_heads=4,
        talker_kv_heads=2,
        talker_head_dim=16,
        talker_intermediate=128,
        mrope_section=(4, 2, 2),
        text_hidden=32,
        cp_hidden=32,
        cp_layers=1,
        cp_heads=2,
        cp_kv_heads=1,
        cp_head_dim=16,
        cp_intermediate=64,
        dec_hidden=32,
        dec_layers=2,
        dec_heads=2,
        dec_head_dim=16,
        dec_intermediate=64,
        dec_latent=32,
        dec_codebook_dim=32,
        dec_dim=64,
    ),
    # the published 0.6B talker and 12 Hz tokenizer sizes; decoder heads 16 x 64 and
    # intermediate 1024 as the tokenizer's config.json, text_hidden the package default
    QwenSize.FULL: QwenDims(
        talker_hidden=1024,
        talker_layers=28,
        talker_heads=16,
        talker_kv_heads=8,
        talker_head_dim=128,
        talker_intermediate=3072,
        mrope_section=(24, 20, 20),
        text_hidden=2048,
        cp_hidden=1024,
        cp_layers=5,
        cp_heads=16,
        cp_kv_heads=8,
        cp_head_dim=128,
        cp_intermediate=3072,
        dec_hidden=512,
        dec_layers=8,
        dec_heads=16,
        dec_head_dim=64,
        dec_intermediate=1024,
        dec_latent=1024,
        dec_codebook_dim=512,
        dec_dim=1536,
    ),
}


@dataclass
class QwenModel:
    """The networks and what the engine needs to drive them (torch objects typed Any)."""

    talker: Any  # Qwen3TTSTalkerForConditionalGeneration, eval mode
    config: Any  # Qwen3TTSConfig
    decoder: Any  # Qwen3TTSTokenizerV2Decoder, eval mode
    tokenize: Callable[[str], Any]  # text -> LongTensor (1, L) on the device
    device: Any  # torch.device
    weights: str  # what the weights are, said plainly
    random_weights: bool


def tts_config(d: QwenDims) -> Any:
    """A Qwen3TTSConfig (12 Hz, custom voice) of these sizes, byte-level text ids."""
    from qwen_tts.core.models import Qwen3TTSConfig

    cp = {
        "vocab_size": 2048,
        "hidden_size": d.cp_hidden,
        "intermediate_size": d.cp_intermediate,
        "num_hidden_layers": d.cp_layers,
        "num_attention_heads": d.cp_heads,
        "num_key_value_heads": d.cp_kv_heads,
        "head_dim": d.cp_head_dim,
        "max_position_embeddings": 64,
        "rope_theta": 1_000_000.0,
        "num_code_groups": NUM_CODE_GROUPS,
    }
    talker = {
        "code_predictor_config": cp,
        "vocab_size": 3072,  # 0..2047 codes, 2048..3071 control, language and speaker ids
        "hidden_size": d.talker_hidden,
        "intermediate_size": d.talker_intermediate,
        "num_hidden_layers": d.talker_layers,
        "num_attention_heads": d.talker_heads,
        "num_key_value_heads": d.talker_kv_heads,
        "head_dim": d.talker_head_dim,
        "max_position_embeddings": 32768,
        "rope_theta": 1_000_000.0,
        "rope_scaling": {
            "rope_type": "default",
            "mrope_section": list(d.mrope_section),
            "interleaved": True,
        },
        "num_code_groups": NUM_CODE_GROUPS,
        "text_vocab_size": BYTE_VOCAB,
        "text_hidden_size": d.text_hidden,
        "codec_eos_token_id": 2150,
        "codec_think_id": 2154,
        "codec_nothink_id": 2155,
        "codec_think_bos_id": 2156,
        "codec_think_eos_id": 2157,
        "codec_pad_id": 2148,
        "codec_bos_id": 2149,
        "codec_language_id": {"english": 2050, "chinese": 2055},
        "spk_id": {"vivian": 3000, "ryan": 3001},
        "spk_is_dialect": {"vivian": False, "ryan": False},
    }
    return Qwen3TTSConfig(
        talker_config=talker,
        tokenizer_type="qwen3_tts_tokenizer_12hz",
        tts_model_size="0b6",
        tts_model_type="custom_voice",
        im_start_token_id=IM_START,
        im_end_token_id=IM_END,
        tts_pad_token_id=TTS_PAD,
        tts_bos_token_id=TTS_BOS,
        tts_eos_token_id=TTS_EOS,
    )


def decoder_config(d: QwenDims) -> Any:
    """A 12 Hz codec decoder config (16 codebooks, 1920 samples per frame)."""
    from qwen_tts.core.tokenizer_12hz.configuration_qwen3_tts_tokenizer_v2 import (
        Qwen3TTSTokenizerV2DecoderConfig,
    )

    return Qwen3TTSTokenizerV2DecoderConfig(
        layer_scale_initial_scale=d.dec_layer_scale,
        codebook_size=2048,
        codebook_dim=d.dec_codebook_dim,  # read by the model, not a named argument
        hidden_size=d.dec_hidden,
        latent_dim=d.dec_latent,
        head_dim=d.dec_head_dim,
        num_attention_heads=d.dec_heads,
        num_key_value_heads=d.dec_heads,
        intermediate_size=d.dec_intermediate,
        num_hidden_layers=d.dec_layers,
        sliding_window=72,
        max_position_embeddings=8000,
        num_quantizers=NUM_CODE_GROUPS,
        upsample_rates=(8, 5, 4, 3),
        upsampling_ratios=(2, 2),
        decoder_dim=d.dec_dim,
    )


def byte_tokenizer(device: Any) -> Callable[[str], Any]:
    """The stand-in tokenizer: the package's prompt layout over UTF-8 bytes."""
    import torch

    def tokenize(text: str) -> Any:
        ids = [IM_START, ASSISTANT, NEWLINE, *text.encode("utf-8")]
        ids += [IM_END, NEWLINE, IM_START, ASSISTANT, NEWLINE]
        return torch.tensor([ids], dtype=torch.long, device=device)

    return tokenize


def _randomise_decoder(decoder: Any, *, seed: int) -> None:
    """Codebooks N(0, 1), fan-in init, zero biases, then the output level set."""
    import torch
    from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import EuclideanCodebook
    from torch import nn

    for m in decoder.modules():
        if isinstance(m, EuclideanCodebook):
            nn.init.normal_(m.embedding_sum)
        elif isinstance(m, nn.Conv1d | nn.ConvTranspose1d | nn.Linear):
            m.reset_parameters()
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    probe = torch.randint(
        0, 2048, (1, NUM_CODE_GROUPS, PROBE_FRAMES), generator=torch.Generator().manual_seed(seed)
    )
    with torch.no_grad():
        rms = float(decoder(probe).float().pow(2).mean().sqrt())
        if rms > 0.0:
            decoder.decoder[-1].conv.weight.mul_(TARGET_RMS / rms)


def build_random(
    size: QwenSize, *, seed: int, device: str, dtype: str, decoder_dtype: str
) -> QwenModel:
    """Seeded random networks of `size` (see the module docstring)."""
    shim.apply()
    import torch
    from qwen_tts.core.models import Qwen3TTSForConditionalGeneration
    from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import (
        Qwen3TTSTokenizerV2Decoder,
    )

    dims = DIMS[size]
    with torch.random.fork_rng(devices=[]):  # the caller's RNG state is left as it was
        torch.manual_seed(seed)
        tts = Qwen3TTSForConditionalGeneration(tts_config(dims)).eval()
        torch.manual_seed(seed)
        decoder = Qwen3TTSTokenizerV2Decoder._from_config(decoder_config(dims)).eval()
        _randomise_decoder(decoder, seed=seed)
    dev = torch.device(device)
    dt = getattr(torch, dtype)
    return QwenModel(
        talker=tts.talker.to(device=dev, dtype=dt),
        config=tts.config,
        decoder=decoder.to(device=dev, dtype=getattr(torch, decoder_dtype)),
        tokenize=byte_tokenizer(dev),
        device=dev,
        weights=f"RANDOM WEIGHTS (seed {seed}, {size.value})",
        random_weights=True,
    )


def load_local(model_dir: Path, *, device: str, dtype: str, decoder_dtype: str) -> QwenModel:
    """A local Qwen3-TTS 12 Hz CustomVoice checkpoint; never downloads (InputError)."""
    where = f"QWEN_TTS_MODEL_DIR={model_dir}"
    if not model_dir.is_dir():
        raise InputError(f"{where}: not a directory")
    missing = [f for f in REQUIRED_FILES if not (model_dir / f).is_file()]
    if missing:
        raise InputError(
            f"{where}: missing {', '.join(missing)}; qwen-tts would fetch them from the hub, "
            "which this engine never does: download the whole checkpoint there first"
        )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    shim.apply()
    import torch
    from qwen_tts import Qwen3TTSModel

    try:
        wrapper = Qwen3TTSModel.from_pretrained(
            str(model_dir), local_files_only=True, dtype=getattr(torch, dtype)
        )
    except (OSError, ValueError, TypeError) as e:
        raise InputError(f"{where}: cannot load it offline: {e}") from e
    cfg = wrapper.model.config
    if cfg.tokenizer_type != "qwen3_tts_tokenizer_12hz" or cfg.tts_model_type != "custom_voice":
        raise InputError(
            f"{where}: {cfg.tts_model_type} / {cfg.tokenizer_type}; "
            "this engine drives a 12 Hz custom_voice checkpoint"
        )
    dev = torch.device(device)
    processor = wrapper.processor

    def tokenize(text: str) -> Any:
        prompt = f"<|im_start|>assistant\n{text}<|im_end|>\n<|im_start|>assistant\n"
        ids = processor(text=prompt, return_tensors="pt", padding=True)["input_ids"]
        return (ids if ids.dim() == 2 else ids.unsqueeze(0)).to(dev)

    return QwenModel(
        talker=wrapper.model.talker.to(dev).eval(),
        config=cfg,
        decoder=wrapper.model.speech_tokenizer.model.decoder.to(
            device=dev, dtype=getattr(torch, decoder_dtype)
        ).eval(),
        tokenize=tokenize,
        device=dev,
        weights=f"weights from {model_dir}",
        random_weights=False,
    )
