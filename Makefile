# make run: install, migrate, load the demo, serve web + worker + beat on :8000
# make test: install and run the whole test suite
# make test-fast: the suite without browser, live-server and slow tests
# make bench: run the benchmarks
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: install run test test-fast bench lint migrate demo clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py setup_schedules
	$(BIN)/python manage.py seed_demo $${DEMO_PASSWORD:+--password "$$DEMO_PASSWORD"}

run: demo
	DEBUG=$${DEBUG:-true} ./scripts/run.sh

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -m "not browser and not live and not slow" $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/run.py

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
