#!/usr/bin/env bash
# Builds the edge consumer environment: tflite-support (the TFLite Task Library) in its own venv.
# Its native libraries link libusb-1.0; the pinned libusb-package wheel carries that library and a
# sitecustomize.py in the venv loads it before anything else, so no system package is needed.
# Usage: build_env.sh UV PYTHON_VERSION VENV_DIR
set -euo pipefail
uv=$1; python=$2; venv=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$venv"
"$uv" venv --quiet --python "$python" "$venv"
"$uv" pip install --quiet --python "$venv/bin/python" --no-deps -r "$here/requirements.lock"
site=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
cp "$here/sitecustomize.py" "$site/sitecustomize.py"
"$venv/bin/python" -c "from tflite_support.task import vision"
touch "$venv/.installed"
