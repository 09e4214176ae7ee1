#!/usr/bin/env bash
# ansible-test sanity on the collection. ansible-test needs the collection at
# .../ansible_collections/appenv/python, inside a git repository: build that tree from the
# files git knows (tracked and untracked-but-not-ignored) under .build/sanity.
# The ansible-core (ansible-test) release is the one of .venv, or of the virtualenv APPENV_SANITY_CORE_VENV names,
# run on python3 or APPENV_SANITY_PYTHON (make compat runs the newest release this way: tests/compat/run.sh).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
venv_bin="${APPENV_SANITY_CORE_VENV:-$repo/.venv}/bin"
python=${APPENV_SANITY_PYTHON:-python3}
python_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
core=$("$venv_bin/python" -c 'from ansible.release import __version__; print(__version__)')
tree="$repo/.build/sanity/ansible_collections/appenv/python"
# One run at a time per checkout (make test runs make compat's sanity beside its own): they share the tree below
# and ansible-test's virtualenvs under ~/.ansible/test. The lock is held until ansible-test ends (exec keeps fd 7).
mkdir -p "$repo/.build"
exec 7>"$repo/.build/sanity.lock"
flock 7
rm -rf "$repo/.build/sanity"
mkdir -p "$tree"
cd "$repo"
git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents -P {} "$tree/" 2>/dev/null || true
cd "$tree"
git init -q . && git add -A >/dev/null && git -c user.email=ci@appenv.invalid -c user.name=ci commit -qm sanity
# ansible-test's --venv and --docker modes download a pip bootstrap script / pull images from hosts
# this machine cannot reach, so sanity runs --local in a virtualenv of its own holding ansible-core
# and ansible-test's own pinned requirements for every sanity test (cached by their content).
reqdir=$("$venv_bin/python" -c 'import ansible_test, os; print(os.path.join(os.path.dirname(ansible_test.__file__), "_data", "requirements"))')
stamp=$({ cat "$reqdir"/sanity.*.txt "$repo/requirements-dev.txt"
         [ -z "${APPENV_SANITY_CORE_VENV:-}" ] || echo "ansible-core==$core python$python_version"; } | sha256sum | cut -c1-16)
# In the test bed's cache (keyed by those requirements), so a new checkout on the same machine reuses it.
svenv="${APPENV_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/appenv-testbed}/sanity-venv-$stamp"
if [ ! -f "$svenv/.stamp-$stamp" ]; then
  rm -rf "$svenv"
  "$python" -m venv "$svenv"
  "$svenv/bin/pip" install -q --disable-pip-version-check "ansible-core==$core"
  for req in "$reqdir"/sanity.*.txt; do
    "$svenv/bin/pip" install -q --disable-pip-version-check -r "$req"
  done
  touch "$svenv/.stamp-$stamp"
fi
# Sanity tests with requirements run in virtualenvs ansible-test makes; it bootstraps pip in them with
# a script it caches under ~/.ansible/test/cache (see the stand-in's docstring).
pip_version=$(grep -oE "pip='[0-9.]+'" "$(dirname "$reqdir")/../_internal/python_requirements.py" | head -1 | grep -oE '[0-9.]+[0-9]')
bootstrap_cache="$HOME/.ansible/test/cache"
mkdir -p "$bootstrap_cache"
cp "$repo/tests/sanity/get_pip_standin.py" "$bootstrap_cache/get_pip_${pip_version//./_}.py"
export PATH="$svenv/bin:$PATH"
exec "$svenv/bin/ansible-test" sanity --local --python "$python_version" --color no "$@"
