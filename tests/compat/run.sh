#!/usr/bin/env bash
# make compat: the controller-side tests on the oldest ansible-core meta/runtime.yml declares (requires_ansible,
# its newest patch release, on the Python that makes .venv) and on the newest ansible-core release (on the newest
# Python 3.13 or 3.12 found: on PATH, else through pyenv). The development virtualenv pins one release in between.
# On each: the unit tests and tests/test_collection.py (build, install, ansible-doc, module_defaults groups); on the
# newest also ansible-test sanity (tests/sanity/run.sh), whose rules grow with each release.
# Each virtualenv is built once in the test bed's cache, keyed by the Python, the machine, the ansible-core release
# and tests/compat/requirements.txt (like tests/testbed/controller-venv.sh). The releases are looked up in the
# configured package registry; offline, the last release found is used.
# Usage: run.sh [floor|newest]...   (both by default)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
cache="${APPENV_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/appenv-testbed}"
mkdir -p "$cache"

# The real interpreter (not a pyenv shim) of the first of these Pythons that runs: python3.X on PATH, else
# the newest pyenv version of that series.
find_python() {
  local minor ver exe
  for minor in "$@"; do
    exe=$("python$minor" -c 'import sys; print(sys.executable)' 2>/dev/null) && { echo "$exe"; return 0; }
    if command -v pyenv >/dev/null; then
      for ver in $(pyenv versions --bare 2>/dev/null | grep -E "^$minor\.[0-9]+$" | sort -t. -k3 -rn); do
        exe=$(PYENV_VERSION=$ver "python$minor" -c 'import sys; print(sys.executable)' 2>/dev/null) \
          && { echo "$exe"; return 0; }
      done
    fi
  done
  return 1
}

# The newest ansible-core release (of a series, when given) this Python can install, from the package registry.
resolve_core() {
  local python=$1 series=${2:-} label=$3
  local found memo="$cache/compat-$label-release"
  found=$("$python" -m pip index versions ansible-core --disable-pip-version-check 2>/dev/null \
    | sed -n 's/^Available versions: //p' | tr -d ' ' | tr ',' '\n' | grep -E "^${series:-[0-9]+\.[0-9]+}\.[0-9]+$" \
    | head -1 || true)
  if [ -n "$found" ]; then
    echo "$found" >"$memo"
  elif [ -f "$memo" ]; then
    found=$(cat "$memo")
    echo "compat: the package registry did not answer; using ansible-core $found found before" >&2
  else
    echo "compat: cannot find an ansible-core ${series:-release} for $python in the package registry" >&2
    return 1
  fi
  echo "$found"
}

# A virtualenv with this Python and ansible-core release, made once in the cache; prints its path.
compat_venv() {
  local python=$1 core=$2 stamp venv
  stamp=$({ "$python" -c 'import sys; print(sys.version)'; uname -m; echo "ansible-core==$core"
            cat tests/compat/requirements.txt; } | sha256sum | cut -c1-16)
  venv="$cache/compat-venv-$stamp"
  exec 8>"$venv.lock"
  flock 8
  if [ ! -f "$venv/.installed" ]; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$core" -r tests/compat/requirements.txt >&2
    touch "$venv/.installed"
  fi
  exec 8>&-
  echo "$venv"
}

# Every step runs; the failed ones are named at the end (and make the script fail).
failed=()
run_tests() {
  local label=$1 python=$2 core=$3 venv
  venv=$(compat_venv "$python" "$core")
  echo "== compat $label: ansible-core $core on Python" \
       "$("$venv/bin/python" -c 'import platform; print(platform.python_version())')"
  "$venv/bin/python" -m pytest -q tests/unit tests/test_collection.py || failed+=("$label ($core): pytest")
  if [ "$label" = newest ]; then
    APPENV_SANITY_CORE_VENV="$venv" APPENV_SANITY_PYTHON="$python" bash tests/sanity/run.sh \
      || failed+=("$label ($core): ansible-test sanity")
  fi
}

floor=$(sed -n 's/^requires_ansible: *">=\([0-9]*\.[0-9]*\).*/\1/p' meta/runtime.yml)
[ -n "$floor" ] || { echo "compat: no requires_ansible \">=X.Y...\" in meta/runtime.yml" >&2; exit 1; }
sets=("$@")
[ $# -gt 0 ] || sets=(floor newest)
for label in "${sets[@]}"; do
  case $label in
    floor)
      python=$(find_python 3.11) || {
        echo "compat: no Python 3.11 (python3.11 on PATH or in pyenv) for ansible-core $floor" >&2; exit 1; }
      core=$(resolve_core "$python" "$floor" floor) || exit 1
      run_tests floor "$python" "$core";;
    newest)
      python=$(find_python 3.13 3.12) || {
        echo "compat: the newest ansible-core needs Python 3.12 or later: put python3.13 or python3.12 on PATH" \
             "(or install one with pyenv)" >&2; exit 1; }
      core=$(resolve_core "$python" "" newest) || exit 1
      run_tests newest "$python" "$core";;
    *) echo "compat: unknown set $label (floor, newest)" >&2; exit 2;;
  esac
done
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'compat: failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
