"""A stand-in `torchaudio` for `import qwen_tts`, put in place only when the real one fails.

`import qwen_tts` imports its 25 Hz tokenizer, whose `speech_vq.py` runs
`import torchaudio.compliance.kaldi`. PyPI's torchaudio wheels are CUDA builds: next
to a CPU torch they fail to load (`libc10_cuda.so: cannot open shared object file`),
and the `qwen-venv` installs none at all. The 12 Hz path this engine uses needs
nothing from torchaudio, so when it cannot be imported, empty modules with proper
specs (transformers calls `importlib.util.find_spec("torchaudio")`) take its place.

Call `apply()` before the first `import qwen_tts`; it is idempotent and returns
whether the stub is in place.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import logging
import sys
import types

log = logging.getLogger(__name__)

STUB_MARK = "__autortc_stub__"
_NAMES = ("torchaudio", "torchaudio.compliance", "torchaudio.compliance.kaldi")


def stub_active() -> bool:
    """Whether `sys.modules["torchaudio"]` is this module's stub."""
    return bool(getattr(sys.modules.get("torchaudio"), STUB_MARK, False))


def apply() -> bool:
    """Keep a working torchaudio; otherwise install the stub. True: the stub is in place."""
    if stub_active():
        return True
    try:
        importlib.import_module("torchaudio.compliance.kaldi")
        return False
    except (ImportError, OSError, RuntimeError) as e:
        log.info("torchaudio does not load: stubbed for qwen_tts", extra={"error": str(e)})
    for name in [k for k in sys.modules if k == "torchaudio" or k.startswith("torchaudio.")]:
        del sys.modules[name]
    mods = {name: types.ModuleType(name) for name in _NAMES}
    for name, mod in mods.items():
        mod.__path__ = []
        mod.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        setattr(mod, STUB_MARK, True)
    mods["torchaudio"].compliance = mods["torchaudio.compliance"]  # type: ignore[attr-defined]
    mods["torchaudio.compliance"].kaldi = mods["torchaudio.compliance.kaldi"]  # type: ignore[attr-defined]
    sys.modules.update(mods)
    return True
