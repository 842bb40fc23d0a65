# Two commands on a fresh clone:  `make demo`  and  `make test`.
# Both create .venv, install torch (TORCH_SPEC) and then this package with its test and demo extras,
# and Debian's chromium and chromium-driver for the browser test of `hilight serve` when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# On the project's CPU machines `torch==2.13.0` resolves to a local CPU wheel. GPU users: set
# TORCH_SPEC (and PIP_EXTRA_INDEX_URL) to the CUDA build you want, or pre-install torch in $(VENV).
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: setup browser demo test test-slow bench bench-full bundled-model clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[test,demo]"
	touch $@

setup: $(BIN)/.installed browser

# The browser test drives Debian's chromium through its chromedriver (no browser can be downloaded).
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -q && apt-get install -y -q chromium chromium-driver; \
	else echo "chromium and chromium-driver are missing and cannot be installed here (needs root and apt-get):"; \
		echo "install them (sudo apt-get install chromium chromium-driver), or the browser test is skipped."; fi

demo: setup
	$(BIN)/hilight demo

test: setup
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: setup
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

# Trains the model that ships in modeling_hilight/bundled/ (about 25 min on 2 CPU cores); then `hilight eval --data runs/bundled/data` measures it.
bundled-model: setup
	$(BIN)/python -m modeling_hilight.training.bundle --out runs/bundled

# Every benchmark (about 15 min on 2 CPU cores) -> benchmarks/results.md and the README's Performance table.
bench: setup
	$(BIN)/python -m benchmarks

# ... and the runs at the published sizes (Gemma-2B shapes; minutes each on a CPU, about 12 GB of memory).
bench-full: setup
	$(BIN)/python -m benchmarks --full

clean:
	rm -rf $(VENV) build *.egg-info
