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
# The test oracle: the TF Object Detection API in a venv of its own (never .venv), and the
# zoo-layout fixtures it writes (checkpoints + reference tensors), both ignored by git.
ORACLE_VENV := .oracle/venv
ORACLE_STAMP := $(ORACLE_VENV)/.installed
ZOO_FIXTURES := .cache/zoo-fixtures
ZOO_STAMP := $(ZOO_FIXTURES)/.complete

# The edge consumer: the TFLite Task Library in a venv without TensorFlow (they clash in one process).
EDGE_VENV := .edge/venv
EDGE_STAMP := $(EDGE_VENV)/.installed

.PHONY: env demo test test-fast test-long bench protos clean lock oracle edge zoo-large airflow

env: $(STAMP)

oracle: $(ZOO_STAMP)

# Airflow 2 in a venv of its own (never .venv): the shipped DAG is loaded and run by Airflow itself in
# `make test-long` (tests/infra/test_airflow.py). Its task runs `detflow run` from .venv.
AIRFLOW_VENV := .airflow/venv
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
airflow: $(AIRFLOW_STAMP)

$(AIRFLOW_STAMP): $(UV) infra/airflow/requirements.lock
	rm -rf $(AIRFLOW_VENV)
	$(UV) venv --quiet --python $(PYTHON_VERSION) $(AIRFLOW_VENV)
	$(UV) pip sync --quiet --python $(AIRFLOW_VENV)/bin/python infra/airflow/requirements.lock
	$(AIRFLOW_VENV)/bin/python -c "import airflow.operators.bash"
	touch $(AIRFLOW_STAMP)

edge: $(EDGE_STAMP)

$(EDGE_STAMP): $(UV) tools/edge/requirements.lock tools/edge/build_env.sh tools/edge/sitecustomize.py
	tools/edge/build_env.sh $(UV) $(PYTHON_VERSION) $(EDGE_VENV)

$(ORACLE_STAMP): $(UV) tools/oracle/requirements.lock tools/oracle/build_env.sh
	tools/oracle/build_env.sh $(UV) $(PYTHON_VERSION) $(ORACLE_VENV)

# Written to a temporary folder and moved into place, so a killed run leaves no half set. Two processes,
# each every other architecture, keep both cores busy while models are built and traced.
$(ZOO_STAMP): $(ORACLE_STAMP) tools/oracle/make_zoo_fixtures.py $(wildcard tests/data/configs/ssd_*.config tests/data/configs/faster_rcnn_*.config tests/data/configs/centernet_*.config tests/data/label_maps/*.pbtxt)
	rm -rf $(ZOO_FIXTURES) $(ZOO_FIXTURES).tmp
	$(ORACLE_VENV)/bin/python tools/oracle/make_zoo_fixtures.py tests/data/configs $(ZOO_FIXTURES).tmp --shard=1/2 & \
	first=$$!; \
	$(ORACLE_VENV)/bin/python tools/oracle/make_zoo_fixtures.py tests/data/configs $(ZOO_FIXTURES).tmp --shard=2/2; \
	second=$$?; wait $$first && test $$second -eq 0
	mv $(ZOO_FIXTURES).tmp $(ZOO_FIXTURES)
	touch $(ZOO_STAMP)

# Zoo networks too large for `make test` (EfficientDet-D7: EfficientNet-b6, the BiFPN's `sum` combine; CenterNet
# HourGlass-104: 188M variables), written by
# the oracle on demand and checked by the same parity tests (every variable, every stage, detections).
ZOO_LARGE := .cache/zoo-fixtures-large
zoo-large: $(ORACLE_STAMP) $(STAMP)
	rm -rf $(ZOO_LARGE)
	$(ORACLE_VENV)/bin/python tools/oracle/make_zoo_fixtures.py tests/data/configs $(ZOO_LARGE) ssd_efficientdet_d7_256 \
		center_net_hourglass104_256
	touch $(ZOO_LARGE)/.complete
	DETFLOW_ZOO_FIXTURES=$(ZOO_LARGE) DETFLOW_ZOO_ONLY=ssd_efficientdet_d7_256,center_net_hourglass104_256 $(PY) -m pytest \
		-q -p no:cacheprovider tests/zoo/test_zoo_parity.py tests/zoo/test_zoo_center_net.py \
		-k "restores_with_full or every_stage or class_agnostic or nms_post_processing" $(PYTEST_ARGS)

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
	$(VENV)/bin/detflow demo --workdir $(WORKDIR) --tflite none,int8

# The three environments and the fixtures are built side by side (downloads and installs overlap the
# oracle's model building), then the suite runs on both cores.
test:
	$(MAKE) --no-print-directory -j3 --output-sync=target env oracle edge
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15 -m "not long" $(PYTEST_ARGS)

# The checks beyond `make test`'s 20 minutes (`.ci/run` runs them after it): the tests marked `long` (learning
# tests of the zoo's Faster R-CNN and EfficientDet networks, multi-worker training with two TensorFlow
# processes) and the zoo networks too large for the fixtures `make test` builds (zoo-large).
test-long: env oracle edge airflow
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=10 -m long $(PYTEST_ARGS)
	$(MAKE) --no-print-directory zoo-large

test-fast: env
	$(PY) -m pytest -q -m "not e2e and not slow" $(PYTEST_ARGS)

bench: env
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) .tools demo-run .pytest_cache .oracle .cache .edge
