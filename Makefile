# The README's two commands: `make run` (mini suite, embedded transport) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv lint clean

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

clean:
	rm -rf $(VENV) output/autortc output/pre_rtc
