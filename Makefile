# detflow: every target sets up what it needs; on a fresh machine `make demo` or
# `make test` alone builds the environment first.
SHELL := /bin/bash
PYTHON_VERSION := $(shell cat .python-version)
UV_VERSION := 0.13.9
UV := .tools/uv/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.synced
WORKDIR ?= demo-run
PYTEST_ARGS ?=

.PHONY: env demo test test-fast bench protos clean lock

env: $(STAMP)

# uv is pinned and installed beside the repo, so no global tool and no pip
# resolver run is involved; pip only fetches this one wheel.
$(UV):
	PYENV_VERSION=$(PYTHON_VERSION) python3 -m pip install --quiet --disable-pip-version-check --target .tools/uv uv==$(UV_VERSION)

$(STAMP): $(UV) uv.lock pyproject.toml
	$(UV) venv --allow-existing --python $(PYTHON_VERSION) $(VENV)
	$(UV) sync --frozen --python $(VENV)/bin/python
	touch $(STAMP)

lock: $(UV)
	$(UV) lock

protos: env
	$(PY) -m schemas.compile_protos

demo: env
	$(VENV)/bin/detflow demo --workdir $(WORKDIR)

test: env
	$(PY) -m pytest -q -n 2 --durations=15 $(PYTEST_ARGS)

test-fast: env
	$(PY) -m pytest -q -m "not e2e and not slow" $(PYTEST_ARGS)

bench: env
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) .tools demo-run .pytest_cache
