#!/usr/bin/env bash
# The controller virtualenv (.venv): ansible-core, molecule, pytest, ansible-lint... from requirements-dev.txt.
# It is built once in the test bed's cache, keyed by requirements-dev.txt, the Python that makes it and the
# machine, and .venv is a symlink to it: a new checkout on the same machine (CI) reuses it instead of
# reinstalling everything. A .venv that is a directory of its own (made by hand) is left alone.
# Usage: controller-venv.sh PYTHON
set -euo pipefail
python=${1:-python3}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
if [ -d .venv ] && [ ! -L .venv ]; then
  if [ ! -f .venv/.installed ] || [ requirements-dev.txt -nt .venv/.installed ]; then
    .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
  fi
  touch .venv/.installed
  exit 0
fi
stamp=$({ "$python" -c 'import sys; print(sys.version)'; uname -m; cat requirements-dev.txt; } | sha256sum | cut -c1-16)
cache="${APPENV_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/appenv-testbed}"
venv="$cache/controller-venv-$stamp"
mkdir -p "$cache"
exec 9>"$venv.lock"
flock 9
if [ ! -f "$venv/.installed" ]; then
  # A venv holds its own absolute path: it is made where it stays; an interrupted build is made anew.
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r requirements-dev.txt
  touch "$venv/.installed"
fi
if [ "$(readlink .venv 2>/dev/null || true)" != "$venv" ]; then
  rm -f .venv
  ln -s "$venv" .venv
fi
touch -h .venv
