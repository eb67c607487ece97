# scenewatch — two commands: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml scripts/install.sh | sha1sum | cut -c1-12)
SAMPLE := tests/fixtures/scene/scene.mp4

.PHONY: demo test test-slow lint install system-deps clean

$(STAMP): pyproject.toml scripts/install.sh
	bash scripts/install.sh "$(PY)" "$(VENV)"
	touch $(STAMP)

install: $(STAMP)

system-deps:
	bash scripts/system-deps.sh

demo: $(STAMP)
	bash scripts/demo.sh "$(BIN)" "$(SAMPLE)"

lint: $(STAMP)
	$(BIN)/ruff check scenewatch tests benchmarks
	$(BIN)/mypy scenewatch

test: $(STAMP) lint
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
