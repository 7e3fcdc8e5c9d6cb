# FlagBridge: `make run` sets everything up and serves; `make test` sets up and runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
export HOST PORT

STAMP := $(VENV)/.installed

.PHONY: run test lint format typecheck openapi install clean bench fuzz i18n-extract i18n-update

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install only when the dependency list changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/flagbridge migrate
	$(BIN)/flagbridge demo
	$(BIN)/flagbridge serve --host $(HOST) --port $(PORT)

# pytest-xdist: TEST_WORKERS processes, each on its own embedded PostgreSQL under var/
# (tests/conftest.py); a module with one expensive server keeps its tests on one worker
# (xdist_group). 0 runs in one process. The 15 slowest tests are listed at the end.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15

# Also pip-audit over the installed packages: fails on a known vulnerability, warns (and
# passes) when its vulnerability service cannot be reached (tools/audit_dependencies.py).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tools/audit_dependencies.py

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

openapi: $(STAMP)
	$(BIN)/flagbridge openapi > openapi/openapi.json

# The transparency page's messages (babel.cfg says where they are read from): extract them
# into the template, then merge it into every catalogue, keeping translations and review
# comments; a new message arrives with an empty msgstr, which tests/stats/test_i18n.py
# refuses until it is translated. A new language: `pybabel init -l xx -d $(LOCALES)
# -i $(LOCALES)/messages.pot`, then translate.
LOCALES := app/stats/locales
i18n-extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --project FlagBridge \
		--copyright-holder FlagBridge -o $(LOCALES)/messages.pot .

i18n-update: i18n-extract
	$(BIN)/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) --no-fuzzy-matching \
		--ignore-obsolete

# The fuzzing that `make test` runs briefly, long: FUZZ_EXAMPLES per operation and role.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} $(BIN)/python -m pytest tests/fuzz -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
