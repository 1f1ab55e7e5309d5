# Every target builds what it needs from this repository's own files.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app learning

.PHONY: help setup run stop test test-fast lint translations bench clean

help:
	@echo "make run    - set up and run the platform (SQLite, filesystem broker, worker, beat, demo data); Ctrl-C stops it"
	@echo "make stop   - stop a platform that 'make run' started (e.g. in the background)"
	@echo "make test   - set up and run the whole test suite"
	@echo "make lint   - ruff"
	@echo "make bench  - run the benchmarks in bench/"

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/activate

setup: $(BIN)/activate

# exec: the script replaces make's shell and catches Ctrl-C itself, stopping everything and exiting 0.
run: setup
	@exec bash scripts/run.sh

stop:
	@bash scripts/stop.sh

test: setup
	bash scripts/test.sh

lint: setup
	$(BIN)/ruff check learning tests bench

# Extract every message (a "# TRANSLATORS:" comment above a string reaches the translators),
# merge it into each language's .po, and compile the .mo files the app reads (they are committed).
translations: setup
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --add-comments=TRANSLATORS: -o learning/translations/messages.pot .
	$(BIN)/pybabel update -i learning/translations/messages.pot -d learning/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d learning/translations --statistics

bench: setup
	bash scripts/bench.sh

clean:
	rm -rf $(VENV) instance .pytest_cache
