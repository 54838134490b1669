# Two commands a newcomer needs: `make run` and `make test`. Everything else is here for them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
export AWS_DEFAULT_REGION ?= cn-north-1

.PHONY: run test lint typecheck site package deploy-check stress bench system-deps node-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
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

site: $(STAMP) node-deps
	$(BIN)/mkdocs build --strict --quiet

run: $(STAMP) site
	$(BIN)/beian serve --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy api/chalicelib crypto beian api/app.py

test: $(STAMP) system-deps node-deps lint typecheck
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

stress: $(STAMP) system-deps site
	BEIAN_STRESS=1 $(BIN)/pytest -q -m "not browser" tests

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf build api/vendor .mypy_cache .ruff_cache
