# The README's commands. Each target installs what it needs into .venv first (once).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TORCH  := torch==2.13.0

.PHONY: install demo test check lint typecheck unit bench clean

install: $(STAMP)

# CPU torch first: torch==2.13.0 is a local CPU wheel on our machines (pip's find-links);
# elsewhere the registry's build is used. Installed first, it satisfies transformer-lens's
# torch requirement, so no CUDA build is pulled in.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[bert,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mechscope reproduce induction

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks notebooks
	$(BIN)/ruff format --check src tests benchmarks notebooks

typecheck: $(STAMP)
	$(BIN)/pyright

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

check: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
