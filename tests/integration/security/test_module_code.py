"""The app user against root's compiled copy of the collection's own code, on a real Debian host.

The collection's module_utils are kept compiled between runs in root's own cache (module_utils/_pycache.py); the
app user tries to make root run compiled code it planted there.

Each test's docstring is its row in docs/reliability.md: the first paragraph is the scenario, the paragraph
starting "Expected:" the expected outcome. The threat model is docs/security.md (rule 2).
"""

import base64
import hashlib

import pytest

from tests.collection_path import REPO_ROOT
from tests.integration import harness

pytestmark = [pytest.mark.integration, pytest.mark.faults]

MODULE = "appenv.python.app_code"
CACHE = "/var/cache/appenv/pycache"
PWNED = "/tmp/appenv-planted-code-ran"
# Every module run imports _options; its entry is named after the sha256 of its source.
SOURCE = (REPO_ROOT / "plugins" / "module_utils" / "_options.py").read_bytes()
ENTRY = hashlib.sha256(SOURCE).hexdigest()
# Run on the host by its python3: replace the entry at argv[1] by the same module plus a line that leaves a mark.
_PLANT = r"""
import base64, importlib.util, marshal, sys
path, source, mark = sys.argv[1], base64.b64decode(sys.argv[2]), sys.argv[3]
header = open(path, "rb").read()[:len(importlib.util.MAGIC_NUMBER) + 32]
code = compile(source + b"\nopen(%r, 'w').close()\n" % mark.encode(), "planted", "exec", dont_inherit=True)
open(path, "wb").write(header + marshal.dumps(code))
"""


def _listing(host):
    return host.sh("cd %s && stat -c '%%a %%U %%n %%Y' . * */*" % CACHE).stdout.split("\n")


def _plant(host, path):
    host.exec(["python3", "-c", _PLANT, path, base64.b64encode(SOURCE).decode(), PWNED])


def test_module_utils_are_kept_compiled_for_root_and_never_read_from_a_way_the_app_user_owns(amd64_host, tmp_path):
    """Root runs a module twice, then the cache's entry of a module_util every run imports is replaced by the same
    code plus a line that leaves a marker; then the app user gets the way to root's cache (an admin's chown of
    /var/cache/appenv to it), then links root's cache to a directory of its own holding the planted entry.

    Expected: root's cache is 0700 and its entries 0600, both root's, and the second run writes nothing there; the
    planted entry runs while root owns the way to it (the cache is what runs); once the app user owns the way,
    or links the cache to its own directory, the entry is never read (no marker) and every run still converges.
    """
    src = tmp_path / "app"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "mod.py").write_text("VALUE = 1\n")
    args = {"src": str(src), "dest": "/srv/engine-under-test"}
    assert harness.assert_ok(harness.run_task(amd64_host, MODULE, args))["layer_action"] == "created"
    first = _listing(amd64_host)
    assert first[0].startswith("755 root .") and first[1].split()[:2] == ["700", "root"]  # pycache/, its magic dir
    entries = [line for line in first[2:] if line]
    assert len(entries) > 10 and all(line.startswith("600 root ") for line in entries)
    assert any(ENTRY in line for line in entries)
    assert harness.assert_ok(harness.run_task(amd64_host, MODULE, args))["layer_action"] == "kept"
    assert _listing(amd64_host) == first  # the second run compiled and wrote nothing

    # What root keeps there is what runs (so the refusals below are what keeps planted code out).
    entry = amd64_host.sh("ls %s/*/%s" % (CACHE, ENTRY)).stdout.strip()
    _plant(amd64_host, entry)
    assert harness.assert_ok(harness.run_task(amd64_host, MODULE, args))["layer_action"] == "kept"
    assert amd64_host.exists(PWNED)

    # The app user owns the way to the cache (an admin's chown): root compiles from the zip, never reads it.
    amd64_host.sh("rm -f %s; id demo >/dev/null 2>&1 || useradd --system demo; chown demo /var/cache/appenv" % PWNED)
    assert harness.assert_ok(harness.run_task(amd64_host, MODULE, args))["layer_action"] == "kept"
    assert not amd64_host.exists(PWNED)

    # The app user's own directory of planted entries, linked where root's cache was.
    amd64_host.sh("chown root /var/cache/appenv && mkdir -p /home/demo && cp -a %s /home/demo/pycache && "
                  "chown -R demo /home/demo && rm -rf %s && ln -s /home/demo/pycache %s" % (CACHE, CACHE, CACHE))
    assert harness.assert_ok(harness.run_task(amd64_host, MODULE, args))["layer_action"] == "kept"
    assert not amd64_host.exists(PWNED)
    assert amd64_host.sh("readlink %s" % CACHE).stdout.strip() == "/home/demo/pycache"  # left as it was, unused
