# Two commands do all the set-up (README.md): `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= test,browser

.PHONY: serve test install bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)  ## start the server on the embedded default (SQLite, in-process broker, shipped catalog)
	$(BIN)/immersiverse serve

test: $(STAMP)  ## run the whole test suite
	$(BIN)/python -m pytest -q

bench: $(STAMP)  ## run every benchmark (minutes; loopback only)
	$(BIN)/python -m bench all

clean:
	rm -rf $(VENV) data .pytest_cache
