# Two commands do all the set-up (README.md): `make serve` and `make test`.
# Both install from the lock files in requirements/ (exact versions and hashes), so a fresh
# machine gets the same packages today and next month. `make lock` re-resolves them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: serve test install install-test lock bench clean

# The runtime set only (what the server needs) ...
$(VENV)/.runtime: requirements/tools.txt requirements/runtime.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --require-hashes -r requirements/tools.txt
	$(PIP) --require-hashes -r requirements/runtime.txt
	$(PIP) --no-deps --no-build-isolation -e .
	touch $@

# ... and the test set on top (test runner, type checker, linter, browser driver).
$(VENV)/.test: $(VENV)/.runtime requirements/test.txt
	$(PIP) --require-hashes -r requirements/test.txt
	touch $@

install: $(VENV)/.runtime
install-test: $(VENV)/.test

# `make serve PORT=9000 HOST=0.0.0.0` (or IMMERSIVERSE_PORT / IMMERSIVERSE_HOST in the environment).
serve: $(VENV)/.runtime  ## start the server on the embedded default (SQLite, in-process broker, shipped catalog)
	$(BIN)/immersiverse serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

test: $(VENV)/.test  ## run the whole test suite
	$(BIN)/python -m pytest -q

# Re-resolve the lock files after changing dependencies in pyproject.toml (docs/operations.md §8).
lock:
	$(PYTHON) -m venv /tmp/immersiverse-lock-venv
	/tmp/immersiverse-lock-venv/bin/python -m pip install --quiet uv==0.13.9
	for set in runtime test; do \
	  extras=$$([ $$set = test ] && echo "--extra test --extra browser"); \
	  /tmp/immersiverse-lock-venv/bin/uv pip compile pyproject.toml $$extras --universal \
	    --python-version 3.11 --generate-hashes --no-header -o requirements/$$set.txt; \
	done
	/tmp/immersiverse-lock-venv/bin/uv pip compile requirements/tools.in --universal \
	  --python-version 3.11 --generate-hashes --no-header -o requirements/tools.txt

bench: $(VENV)/.test  ## run every benchmark (minutes; loopback only)
	$(BIN)/python -m bench all

clean:
	rm -rf $(VENV) data .pytest_cache
