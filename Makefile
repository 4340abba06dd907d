# Encore: `make demo` and `make test` are all a newcomer needs; both install into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
# one stamp per installed lock, named after its content: a changed lock or pyproject reinstalls
STAMP      := $(VENV)/.installed-full-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
DEMO_STAMP := $(VENV)/.installed-demo-$(shell cat requirements-demo.lock pyproject.toml 2>/dev/null | cksum | cut -d' ' -f1)
PACKAGES := core pipelines models tools agent evals mcp_servers
PYTEST_ARGS ?=
DEMO_ARGS ?=

export AWS_EC2_METADATA_DISABLED := true

.PHONY: install install-demo system-deps demo test lint format bench eval lock clean

# everything: the tests, lint, benchmarks, the AWS adapters, Spark and the LLM providers
install: $(STAMP)

# only what the demo and the evals run on (no extras: no pyspark, moto, pytest, ...); an
# up-to-date complete install serves too, and `make test` after it installs the rest
install-demo: $(if $(wildcard $(STAMP)),$(STAMP),$(DEMO_STAMP))

# uv installs the locked set in seconds; bytecode is compiled up front so commands start fast
define install_lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(UV) pip install --python $(BIN)/python --compile-bytecode --quiet -r $(1)
	$(UV) pip install --python $(BIN)/python --compile-bytecode --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@
endef

$(STAMP): requirements.lock pyproject.toml
	$(call install_lock,requirements.lock)

$(DEMO_STAMP): requirements-demo.lock pyproject.toml
	$(call install_lock,requirements-demo.lock)

# Debian packages the tests drive for real: Chromium (UI tests, PNG charts), PostgreSQL
# (semantic-query parity) and a Java runtime (the Spark ETL on a local Spark). Installed only
# when missing; needs root or sudo.
APT_PACKAGES := chromium fonts-liberation postgresql openjdk-17-jre-headless
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-deps:
	@if ! command -v chromium >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| ! command -v java >/dev/null; then \
		echo "installing $(APT_PACKAGES) with apt-get"; \
		$(SUDO) apt-get install -y -qq $(APT_PACKAGES) >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(APT_PACKAGES); }; \
	fi

# MCP Inspector's CLI, an independent MCP client the tests drive (pinned; Node 20 takes 0.15)
INSPECTOR := $(VENV)/node/node_modules/.bin/mcp-inspector
$(INSPECTOR):
	npm install --silent --no-audit --no-fund --prefix $(VENV)/node @modelcontextprotocol/inspector@0.15.0

demo: install-demo
	$(BIN)/encore demo $(DEMO_ARGS)

test: install system-deps $(INSPECTOR)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(PACKAGES) chainlit_app.py

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/encore bench all

# Every eval case against the demo warehouse (build it first: `make demo`, or
# `encore demo --no-ui --scale small`); gates on evals/thresholds.yaml and writes the report
EVAL_REPORT ?= .encore/eval-report.md
eval: install-demo
	$(BIN)/encore eval --report $(EVAL_REPORT)

# Re-resolve the pinned dependency sets after changing pyproject.toml: every extra, then the
# demo's subset (no extras) constrained by it, so both pin the same version of a shared package
lock:
	$(UV) pip compile pyproject.toml --extra dev --extra aws --extra bench --extra spark --extra openai --extra anthropic --extra ollama --python-version 3.11 --quiet -o requirements.lock
	$(UV) pip compile pyproject.toml --constraint requirements.lock --python-version 3.11 --quiet -o requirements-demo.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
