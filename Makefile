# `make run` and `make test` set up .venv themselves; only Python >= 3.11 is needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_DIR := tests/e2e/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed
export TRACEHOUND_DATA_DIR ?= $(CURDIR)/data
# `make run PORT=9000 HOST=0.0.0.0`
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint unit e2e bench clean

RUN_STAMP := $(VENV)/.installed-run

$(RUN_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required" if sys.version_info < (3, 11) else 0)'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP) examples/tracehound-ntfy/pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	# The example notification backend plugin: the tests deliver through it.
	$(PY) -m pip install --quiet -e examples/tracehound-ntfy
	touch $(STAMP)

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "install Chromium at $(CHROMIUM) for the browser tests"; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

run: $(RUN_STAMP)
	$(VENV)/bin/tracehound migrate --noinput -v 0
	@echo
	@echo "Tracehound data lives in $(TRACEHOUND_DATA_DIR). First steps, in another terminal:"
	@echo "  $(VENV)/bin/tracehound user create <you> --email <your email>"
	@echo "  $(VENV)/bin/tracehound project create my-org/my-project --owner <you>"
	@echo "Then log in at the BASE_URL printed below and point a Sentry SDK at the printed DSN."
	@echo
	$(VENV)/bin/tracehound serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples
	TRACEHOUND_DATA_DIR=$$(mktemp -d) $(VENV)/bin/mypy src/tracehound
	TRACEHOUND_DATA_DIR=$$(mktemp -d) $(VENV)/bin/tracehound makemigrations --check --dry-run
	TRACEHOUND_DATA_DIR=$$(mktemp -d) $(VENV)/bin/tracehound check --fail-level WARNING

test: $(STAMP) $(NODE_STAMP) $(CHROMIUM) lint
	$(VENV)/bin/pytest -q

# Everything but the end-to-end tests (real servers, SDKs, browser). Node packages are
# installed for the schemas the alert-backend tests check payloads against.
unit: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/pytest -q -m "not e2e"

e2e: $(STAMP) $(NODE_STAMP) $(CHROMIUM)
	$(VENV)/bin/pytest -q -m e2e

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) $(NODE_DIR)/node_modules
