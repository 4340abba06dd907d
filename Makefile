# Encore: `make demo` and `make test` are all a newcomer needs; both install into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
PACKAGES := core pipelines models tools agent
PYTEST_ARGS ?=
DEMO_ARGS ?=

export AWS_EC2_METADATA_DISABLED := true

.PHONY: install demo test lint format bench lock clean

install: $(STAMP)

# uv installs the locked set in seconds; bytecode is compiled up front so commands start fast
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(UV) pip install --python $(BIN)/python --compile-bytecode --quiet -r requirements.lock
	$(UV) pip install --python $(BIN)/python --compile-bytecode --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

demo: install
	$(BIN)/encore demo $(DEMO_ARGS)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(PACKAGES)

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/encore bench all

# Re-resolve the pinned dependency set after changing pyproject.toml
lock:
	$(UV) pip compile pyproject.toml --extra dev --extra aws --extra bench --extra openai --extra anthropic --extra ollama --python-version 3.11 --quiet -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
