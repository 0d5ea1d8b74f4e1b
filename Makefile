# Set-up-free entry points: each target creates .venv and installs what is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DB ?= sqlite:///demo/mentor_match.db
DEMO_ART ?= demo/artifacts
DEMO_REPORT ?= demo/report
DB_URL ?= $(DEMO_DB)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo ab-demo migrate serve test lint clean

install: $(STAMP)

# torch first and pinned to the CPU build: otherwise sentence-transformers pulls CUDA torch.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,distributed]'
	touch $(STAMP)

# The whole pipeline on the embedded SQLite database; safe to rerun (it rebuilds its world).
demo: $(STAMP)
	mkdir -p demo
	$(PY) scripts/generate_synthetic_data.py --db-url $(DEMO_DB) --reset
	$(PY) scripts/build_index.py --db-url $(DEMO_DB) --artifacts $(DEMO_ART)
	$(PY) scripts/train.py --db-url $(DEMO_DB) --artifacts $(DEMO_ART)
	$(PY) scripts/evaluate.py --db-url $(DEMO_DB) --artifacts $(DEMO_ART) --report $(DEMO_REPORT)
	$(PY) scripts/inference.py --db-url $(DEMO_DB) --artifacts $(DEMO_ART) --k 5 --mentee-id 1 2 3
	@echo "Report: $(DEMO_REPORT)/report.html  Try: $(PY) scripts/inference.py --db-url $(DEMO_DB) --artifacts $(DEMO_ART)"

# An A/B test end to end: two rankers, a 50/50 experiment, logged lists, drawn outcomes, the report.
ab-demo: $(STAMP)
	$(PY) scripts/ab_demo.py --out demo/ab

# Upgrade a database to this code's schema (make migrate DB_URL=postgresql://...); keeps every row.
migrate: $(STAMP)
	$(PY) scripts/migrate.py --db-url $(DB_URL)

# The REST service (docs/service.md): 2 uvicorn workers on loopback, one BLAS/XGBoost thread each,
# metrics summed over the workers. Keys: scripts/apikey.py create --scopes read,feedback.
SERVE_DB ?= $(DEMO_DB)
SERVE_ART ?= $(DEMO_ART)
SERVE_PORT ?= 8000
SERVE_WORKERS ?= 2
SERVE_METRICS_DIR ?= /tmp/mentor-match-metrics
serve: $(STAMP)
	rm -rf $(SERVE_METRICS_DIR) && mkdir -p $(SERVE_METRICS_DIR)
	MENTOR_MATCH_DB_URL=$${MENTOR_MATCH_DB_URL:-$(SERVE_DB)} MENTOR_MATCH_ARTIFACTS=$${MENTOR_MATCH_ARTIFACTS:-$(SERVE_ART)} \
	MENTOR_MATCH_MMAP=$${MENTOR_MATCH_MMAP:-1} PROMETHEUS_MULTIPROC_DIR=$(SERVE_METRICS_DIR) OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	$(VENV)/bin/uvicorn --factory service.app:create_app --host 127.0.0.1 --port $(SERVE_PORT) \
		--workers $(SERVE_WORKERS) --timeout-graceful-shutdown 30

# lint-imports first: a wrong arrow between the layers (pyproject.toml) fails the run.
test: $(STAMP)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf demo .pytest_cache
