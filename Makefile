# typhoon — the two commands are `make demo` and `make test`; both set up .venv first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8000

.PHONY: venv demo test lint typecheck contracts unit coverage bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/typhoon run examples.demo:app --host 127.0.0.1 --port $(PORT)

lint: venv
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench

typecheck: venv
	$(BIN)/mypy

contracts: venv
	$(BIN)/lint-imports

unit: venv
	rm -f .coverage .coverage.*
	$(BIN)/coverage run -m pytest $(PYTEST_ARGS)

coverage:
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report
	@echo "--- typhoon/net and typhoon/http (must be >= 95%) ---"
	$(BIN)/coverage report --include='*/typhoon/net/*,*/typhoon/http/*' --fail-under=95

test: lint typecheck contracts unit coverage

# make bench: typhoon runs from .venv, its peers from bench/.venv-peers (pinned in
# bench/requirements-peers.txt, reinstalled when that file changes). QUICK=1: about 1.5 minutes.
PEERS       := bench/.venv-peers
PEERS_STAMP := $(PEERS)/.installed-stamp

$(PEERS_STAMP): bench/requirements-peers.txt
	@test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS)/bin/python -m pip install --quiet -r bench/requirements-peers.txt
	@touch $(PEERS_STAMP)

bench: venv $(PEERS_STAMP)
	$(BIN)/python bench/run.py --peers-python $(PEERS)/bin/python $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) .coverage .coverage.* .mypy_cache .pytest_cache .ruff_cache build src/*.egg-info
