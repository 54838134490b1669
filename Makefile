# Two commands a newcomer needs: `make run` and `make test`. Everything else is here for them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME := $(VENV)/.runtime
PORT ?= 8000
export AWS_DEFAULT_REGION ?= cn-north-1

.PHONY: run test lint typecheck site site-pages package deploy-check stress bench system-deps node-deps zensical-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# `make run` needs the runtime and the site build only; tests and benchmarks add their extras.
$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP): $(RUNTIME)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

# Debian packages the tests drive: Chromium for the browser tests, the CJK font the
# verification form embeds, and poppler's pdftotext to read the form back.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing="$$missing fonts-wqy-microhei"; \
	command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

node-deps: node_modules/.installed

# Zensical, Material for MkDocs' successor, in an environment of its own: it needs a newer
# pymdown-extensions than Material 9 takes. The site build test builds the site with it too.
# 0.1.x depends on a package (zensical-ui) the registry does not serve: 0.0.73 is the newest
# that installs.
ZENSICAL := zensical==0.0.73
ZENSICAL_VENV := .venv-zensical
$(ZENSICAL_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(ZENSICAL_VENV)
	$(ZENSICAL_VENV)/bin/pip install --quiet '$(ZENSICAL)'
	touch $@

zensical-deps: $(ZENSICAL_VENV)/.installed

# The rules-driven pages as Markdown (site/generated/): the plain step MkDocs' hook also runs.
site-pages: $(RUNTIME) node-deps
	$(BIN)/python site_hooks/rules_pages.py site

site: $(RUNTIME) node-deps
	$(BIN)/mkdocs build --strict --quiet

run: $(RUNTIME) site
	$(BIN)/beian serve --port $(PORT)

# ruff, then the architecture's import contracts (pyproject.toml, [tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy api/chalicelib crypto beian api/app.py

test: $(STAMP) system-deps node-deps zensical-deps lint typecheck
	$(BIN)/mkdocs build --strict --quiet
	$(BIN)/pytest -q

# The bundle embeds the CJK font the verification form needs, so packaging installs it too.
package: $(STAMP) system-deps
	$(BIN)/beian package --output build/package

# checkov gets a virtual environment of its own: its pins clash with the project's.
CHECKOV_VENV := .checkov
$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov>=3.3,<4'
	touch $@

# The site is built first: the deployment tests publish it as CloudFront would serve it.
deploy-check: $(STAMP) system-deps site $(CHECKOV_VENV)/.installed
	$(BIN)/beian deploy-check

stress: $(STAMP) system-deps node-deps zensical-deps site
	BEIAN_STRESS=1 $(BIN)/pytest -q -m "not browser" tests

bench: $(STAMP) system-deps site
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf build api/vendor .mypy_cache .ruff_cache $(ZENSICAL_VENV)
