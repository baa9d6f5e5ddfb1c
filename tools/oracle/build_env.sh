#!/usr/bin/env bash
# Builds the oracle environment: the TF Object Detection API in its own venv (never .venv).
# Usage: build_env.sh UV PYTHON_VERSION VENV_DIR
set -euo pipefail
uv=$1; python=$2; venv=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$venv"
"$uv" venv --quiet --python "$python" "$venv"
"$uv" pip install --quiet --python "$venv/bin/python" --no-deps -r "$here/requirements.lock"
"$venv/bin/python" -c "from object_detection.builders import model_builder; from object_detection import model_lib_v2" 2>/dev/null
touch "$venv/.installed"
