#!/bin/sh
# Install Governance Proxy into a fresh virtual environment, exactly as the image does.
#
#   docker/install.sh VENV [WHEELS]
#
# 1. Builds wheels of the project and of every dependency at the versions pinned in
#    constraints.txt into WHEELS (a temporary directory if omitted). Dependencies must
#    come as binary wheels (--only-binary): no compiler is needed, and none is present.
# 2. Creates VENV without pip and installs the project into it from WHEELS alone
#    (--no-index), with the same constraints: nothing is resolved a second time.
#
# The image's builder stage runs it; tests/test_docker_config.py runs it in a temp dir.
# PYTHON names the interpreter (default python3); it must be Python 3.11.
set -eu

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 VENV [WHEELS]" >&2; exit 64; }
src=$(cd "$(dirname "$0")/.." && pwd)
venv=$1
python=${PYTHON:-python3}
if [ $# -eq 2 ]; then
  wheels=$2
else
  wheels=$(mktemp -d)
  trap 'rm -rf "$wheels"' EXIT
fi

"$python" -m pip wheel --quiet --disable-pip-version-check \
  --constraint "$src/constraints.txt" --only-binary=:all: \
  --wheel-dir "$wheels" "$src"
"$python" -m venv --without-pip "$venv"
"$python" -m pip --python "$venv/bin/python" install --quiet --disable-pip-version-check \
  --no-index --find-links "$wheels" --constraint "$src/constraints.txt" governance-proxy
