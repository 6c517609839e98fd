"""Qwen3-TTS (12 Hz, CustomVoice) as a streaming `TtsEngine`, with incremental decode.

    shim.py    the torchaudio stub `import qwen_tts` needs where torchaudio cannot load
    model.py   talker + code predictor + 12 Hz codec decoder: seeded random weights
               (`QwenSize.TINY` / `FULL`) or real ones from a local directory
    codegen.py the step loop: one frame of 16 codes as soon as talker + code predictor
               made it (greedy, KV cache, no HF `generate`)
    decode.py  packets of frames decoded with a left context; offline decode; 24 kHz
               float32 -> int16 -> 48 kHz through the same streaming resampler
    graphs.py  CUDA graphs for the code predictor's frame and the decoder's packet
    metrics.py per-call figures (TTFA, RTF, per-frame codegen, decode, glue, fallbacks)
    launches.py kernel launches (CUDA) or dispatched operators (CPU) per frame and packet
    engine.py  `QwenEngine`: `synthesize` (all codes, then offline decode) and `stream`

Nothing here is imported by the registry until `make_tts_engine("qwen")` is called;
importing this package alone loads neither torch nor qwen_tts.

With random weights the engine says so everywhere (`version`, log lines): its audio
is deterministic noise shaped by an untrained codec, useful to measure latency,
streaming and bit-exactness, never to listen to as speech.
"""
