# The README's two commands: `make run` (mini suite, embedded transport) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The Qwen3-TTS engine (agent/tts_qwen) lives in a venv of its own: torch is large, and
# qwen-tts goes in with --no-deps (its dependencies pull a torchaudio that does not load
# next to this torch; agent/tts_qwen/shim.py stands in). TORCH_INDEX_URL: e.g. the CPU
# wheels, https://download.pytorch.org/whl/cpu (default: PyPI's CUDA build).
QWEN_PY ?= python3.11
QWEN_VENV := .venv-qwen
QWEN_BIN := $(QWEN_VENV)/bin
QWEN_STAMP := $(QWEN_VENV)/.installed
QWEN_TORCH := 2.13.0
TORCH_INDEX_URL ?=

# The GPU run of the Qwen bench (scripts/qwen_device/): `make qwen-wheels` downloads the
# wheels the device machine lacks into .whl (carried there); `make qwen-device-dryrun`
# runs the same run.sh here, on the CPU, in a venv standing in for the device image.
QWEN_WHEELS := .whl
GPUSIM_VENV := .venv-gpusim
GPUSIM_STAMP := $(GPUSIM_VENV)/.installed
DRYRUN_OUT := output/bench/qwen_dryrun
# the dry run's wheels: a folder named like .whl, so that run.sh's globs meet the same name
DRYRUN_WHEELS := .cp311.whl

.PHONY: run test venv lint clean qwen-venv test-qwen qwen-wheels qwen-device-dryrun

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,quality,heard]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/autortc run --suite mini

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check autortc agent tests scripts
	$(BIN)/ruff format --check autortc agent tests scripts
	$(BIN)/mypy --strict autortc agent
	$(BIN)/lint-imports

$(QWEN_STAMP): pyproject.toml
	test -x $(QWEN_BIN)/python || $(QWEN_PY) -m venv $(QWEN_VENV)
	$(QWEN_BIN)/python -m pip install -q --upgrade pip
	$(QWEN_BIN)/python -m pip install -q torch==$(QWEN_TORCH) $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(QWEN_BIN)/python -m pip install -q torch==$(QWEN_TORCH) transformers==4.57.3 accelerate==1.12.0 einops librosa soundfile onnxruntime sox
	$(QWEN_BIN)/python -m pip install -q --no-deps qwen-tts==0.1.1
	$(QWEN_BIN)/python -m pip install -q -e '.[dev]'
	$(QWEN_BIN)/python -c "import torch; v = torch.__version__; assert v.split('+')[0] == '$(QWEN_TORCH)', v"
	touch $(QWEN_STAMP)

qwen-venv: $(QWEN_STAMP)

test-qwen: $(QWEN_STAMP)
	$(QWEN_BIN)/python -m pytest -q tests/agent/test_tts_qwen.py tests/agent/test_tts_qwen_core.py

qwen-wheels:
	bash scripts/qwen_device/fetch.sh 3.12 $(QWEN_WHEELS)

$(GPUSIM_STAMP): scripts/qwen_device/image.txt
	test -x $(GPUSIM_VENV)/bin/python || $(QWEN_PY) -m venv $(GPUSIM_VENV)
	$(GPUSIM_VENV)/bin/python -m pip install -q torch==$(QWEN_TORCH) $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(GPUSIM_VENV)/bin/python -m pip install -q torch==$(QWEN_TORCH) -r scripts/qwen_device/image.txt
	touch $(GPUSIM_STAMP)

qwen-device-dryrun: $(GPUSIM_STAMP)
	bash scripts/qwen_device/fetch.sh 3.11 $(DRYRUN_WHEELS)
	rm -rf $(DRYRUN_OUT)
	PY=$(GPUSIM_VENV)/bin/python WHEELS=$(DRYRUN_WHEELS) OUT=$(DRYRUN_OUT) SITE=/tmp/qwen_dryrun_site \
	  BUDGET_S=600 REGRESS_S=600 REGRESS_OPTS="size=tiny device=cpu" \
	  bash scripts/qwen_device/run.sh --size tiny --device cpu --runs 3 --long-frames 80
	$(GPUSIM_VENV)/bin/python scripts/qwen_device/check.py $(DRYRUN_OUT)/qwen_gpu.json

clean:
	rm -rf $(VENV) $(QWEN_VENV) $(GPUSIM_VENV) $(QWEN_WHEELS) $(DRYRUN_WHEELS) output/autortc output/pre_rtc
