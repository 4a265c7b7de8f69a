# Two commands do all setup: `make serve` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ASSETS := node_modules/.package-lock.json
EXTRAS ?= docs,test
# pytest-xdist workers for make test / make quick (auto: one per core); JOBS=0 runs in one process.
JOBS   ?= auto

.PHONY: setup serve build offline test quick long lint doctest parity bench audit mutate lock clean notebook

setup: $(STAMP) $(ASSETS)

# The venv is (re)installed whenever pyproject.toml or the lock file changes.
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[$(EXTRAS)]'
	touch $@

# KaTeX (run by Node.js when the site is built), mermaid and d3-force are served by the site itself;
# their versions are pinned by package-lock.json.
$(ASSETS): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js and npm are needed to install the pinned KaTeX and mermaid assets and to typeset the math (Debian: apt-get install nodejs npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

serve: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

build: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The site as files that work from file:// (Material's offline plugin), zipped: attention-vault-site.zip.
# The tests build their offline copy with this target (OFFLINE_DIR and OFFLINE_ZIP set to a scratch folder).
OFFLINE_DIR ?= site-offline
OFFLINE_ZIP ?= attention-vault-site.zip
offline: setup
	rm -rf $(OFFLINE_DIR) $(OFFLINE_ZIP)
	OFFLINE=true NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $(OFFLINE_DIR)
	cd $(OFFLINE_DIR) && $(abspath $(BIN))/python -m zipfile -c $(abspath $(OFFLINE_ZIP)) .
	@echo "wrote $(OFFLINE_ZIP): unzip it anywhere and open index.html"

# Every test but the full training runs (`make long`); the sites are built once and shared.
test: setup lint
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m pytest -n $(JOBS) $(PYTEST_ARGS)

# The same without the slow and the browser tests, for a quick loop while editing.
quick: setup lint
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m pytest -n $(JOBS) -m "not slow and not browser and not long" $(PYTEST_ARGS)

# The full training runs (minutes each: the reverse task to >= 99% on held-out strings); .ci/run runs them.
long: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m pytest -m long $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

doctest: $(STAMP)
	$(BIN)/python -m pytest src

# Differential tests against PyTorch (installs the bench extra: torch==2.13.0, CPU).
parity: setup
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[bench]'
	$(BIN)/python -m pytest -k torch $(PYTEST_ARGS)

# A note as a notebook in JupyterLab: `make notebook NOTE=scaling` writes every note's notebook into notebooks/
# (both languages) and opens that note's two. Installs the notebook extra first (JupyterLab is not part of the
# default setup). JUPYTER_ARGS passes options to JupyterLab (the tests use --no-browser).
NOTE ?= attention-mechanism
JUPYTER_ARGS ?=
notebook: setup
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[notebook]'
	$(BIN)/python -m attention notebooks --out notebooks
	@test -f notebooks/$(NOTE).zh.ipynb || { echo "no note '$(NOTE)': NOTE is a file name under docs/zh/notes/ without .md (make notebook NOTE=scaling)"; exit 1; }
	cd notebooks && $(abspath $(BIN))/jupyter lab $(NOTE).zh.ipynb $(NOTE).en.ipynb $(if $(filter 0,$(shell id -u)),--allow-root) $(JUPYTER_ARGS)

# Mutation testing (not part of make test): installs the mutate extra (mutmut), mutates each library
# module against its own test file and doctests, prints the table; see tools/mutate.py.
mutate: setup
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[mutate]'
	$(BIN)/python tools/mutate.py $(MUTATE_ARGS)

# Benchmarks (not part of make test): installs the bench extra (torch==2.13.0, CPU) and writes
# benchmarks/results/<cpu-slug>.json; see docs/{zh,en}/notes/long-sequences.md.
bench: setup
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[bench]'
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# Lighthouse (pinned in package-lock.json, mobile preset) on every note and the API page, both languages:
# a table of median scores and timings, written to benchmarks/audit/<cpu-slug>.json (not part of make test;
# CI runs it on one page). AUDIT_ARGS="--pages en/notes/scaling/ --runs 1" for fewer.
audit: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/python benchmarks/audit.py $(AUDIT_ARGS)

# Re-resolve the dependencies in a scratch venv and write the lock file.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[docs,test]'
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) node_modules site site-offline attention-vault-site.zip notebooks .pytest_cache .hypothesis
