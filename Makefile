# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi

.PHONY: venv init demo run serve ticker test test-sqlite lint bench fuzz translations clean

$(BIN)/activate: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(BIN)/activate

venv: $(BIN)/activate

translations: venv
	$(BIN)/pybabel compile -d app/translations

init: venv translations
	$(FLASK) init

demo: init
	@for f in playbooks/demo/roster-*.yaml; do $(FLASK) roster import $$f; done

run: demo
	SCHEDULER_ENABLED=$${SCHEDULER_ENABLED:-1} $(FLASK) run --host 127.0.0.1 --port 5000

# The whole suite: SQLite, and PostgreSQL when reachable (required when CI=true), on one worker per
# core (pytest-xdist; each worker has its own databases, instance folder and ports); the ten slowest
# tests are listed at the end.
TEST_WORKERS ?= auto
test: venv translations
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --durations=10

test-sqlite: venv translations
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --engines sqlite

# Long fuzzing (tests/fuzz): 500 generated requests per API operation and 500 examples per property,
# with a random seed (make test runs the same tests with a few examples and a fixed seed).
fuzz: venv translations
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} FUZZ_SEED=$${FUZZ_SEED:-random} $(BIN)/python -m pytest -q tests/fuzz $(FUZZ_ARGS)

# Production: gunicorn (gunicorn.conf.py) without the in-process ticker, and the ticker on its own.
serve: init
	SCHEDULER_ENABLED=0 $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

ticker: init
	$(FLASK) ticker

lint: venv
	$(BIN)/ruff check app tests bench

bench: venv translations
	$(BIN)/python -m bench.listing $(BENCH_ARGS)
	$(BIN)/python -m bench.incident_page $(BENCH_PAGE_ARGS)
	$(BIN)/python -m bench.escalation_drain $(BENCH_DRAIN_ARGS)
	$(BIN)/python -m bench.review --memory-check $(BENCH_REVIEW_ARGS)
	$(BIN)/python -m bench.review --postgresql --memory-check $(BENCH_REVIEW_ARGS)
	$(BIN)/python -m bench.create_profile --postgresql $(BENCH_PROFILE_ARGS)
	$(BIN)/python -m bench.load $(BENCH_LOAD_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache
