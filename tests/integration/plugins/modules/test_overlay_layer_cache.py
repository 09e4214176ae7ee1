"""Overlay layers through the layer cache on fresh hosts: pip_tooling's packaging layer (pip, setuptools and
wheel inside the runtime) and pyc_compile's pycs are restored from a shared volume instead of rebuilt."""

import json

import pytest

from tests.integration import harness
from tests.integration.hosts import CACHE_HMAC_KEY, DEFAULT_DEST, start_host, install_runtime, install_tooling
from tests.testbed.package_index import OLD_PIP, TOOL_VERSIONS

pytestmark = pytest.mark.integration

HMAC_KEY = CACHE_HMAC_KEY  # entries are signed (HMAC), as a pipeline's are
CACHE = {"path": "/cache", "hmac_key": HMAC_KEY}
PYTHON = DEFAULT_DEST + "/bin/python3.11"
SITE = DEFAULT_DEST + "/lib/python3.11/site-packages"
APP = {"pkg/__init__.py": "VALUE = 1\n", "pkg/mod.py": "def f():\n    return 2\n", "main.py": "import pkg.mod\n"}

# Every pyc of the app: its header (magic number, checked-hash flags, the hash of its source as it is now)
# is what the interpreter checks before it uses it.
CHECK_PYCS = r"""
import importlib.util, json, os, sys
report = {}
for directory, _dirs, files in os.walk("/srv/app"):
    for name in sorted(files):
        if name.endswith(".py"):
            source = os.path.join(directory, name)
            pyc = importlib.util.cache_from_source(source)
            with open(pyc, "rb") as handle:
                header = handle.read(16)
            with open(source, "rb") as handle:
                digest = importlib.util.source_hash(handle.read())
            report[source] = [header[:4] == importlib.util.MAGIC_NUMBER,
                              int.from_bytes(header[4:8], "little"), header[8:16] == digest]
print(json.dumps(report))
"""


def fresh_host(amd64_image, cache_dir):
    return start_host(amd64_image, "x86_64", network="host", volumes=[(str(cache_dir), "/cache")])


def checkout(host, files=None, mtime="2026-01-02 03:04:05"):
    """The app's sources as a new checkout writes them (their own mtimes)."""
    for rel, text in (files or APP).items():
        host.sh("mkdir -p \"$(dirname /srv/app/%s)\" && printf '%%s' '%s' > /srv/app/%s && touch -d '%s' /srv/app/%s"
                % (rel, text, rel, mtime, rel))


def compile_app(host, check=False, **args):
    params = {"paths": ["/srv/app"], "interpreter": PYTHON, "layer_cache": CACHE}
    params.update(args)
    return harness.run_task(host, "appenv.python.pyc_compile", params, check=check)


def tooling(host, package_index, check=False, **args):
    return install_tooling(host, package_index, check=check, layer_cache=CACHE, **args)


def packaging(result):
    return [layer for layer in result["layers"] if layer["name"] == "packaging"][0]


def assert_pip_works(host, version):
    out = host.exec([DEFAULT_DEST + "/bin/pip3", "--version"]).stdout
    assert out.split()[1] == version and SITE in out, out
    assert host.exec([PYTHON, "-m", "pip", "--version"]).stdout.split()[1] == version
    # Exactly one distribution of each tool: the runtime's own pip was removed, as pip would have done.
    listed = host.sh("ls -d %s/pip-*.dist-info %s/setuptools-*.dist-info %s/wheel-*.dist-info" % (SITE, SITE, SITE))
    names = sorted(line.rsplit("/", 1)[1] for line in listed.stdout.split())
    assert names == sorted(["pip-%s.dist-info" % version, "setuptools-%s.dist-info" % TOOL_VERSIONS["setuptools"],
                            "wheel-%s.dist-info" % TOOL_VERSIONS["wheel"]]), names
    check = host.exec([PYTHON, "-m", "pip", "check"], check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    host.exec([PYTHON, "-c", "import setuptools, wheel"])


def assert_pycs_valid_and_used(host):
    report = json.loads(host.exec([PYTHON, "-c", CHECK_PYCS]).stdout)
    assert sorted(report) == sorted("/srv/app/" + rel for rel in APP)
    assert all(value == [True, 3, True] for value in report.values()), report
    # The interpreter loads them instead of compiling: -v names the pyc it reads the code object from.
    verbose = host.exec([PYTHON, "-v", "-c", "import sys; sys.path.insert(0, '/srv/app'); import main"])
    assert "code object from '/srv/app/pkg/__pycache__/mod.cpython-311.pyc'" in verbose.stderr, verbose.stderr[-3000:]
    assert "stale" not in verbose.stderr


def provision(host, runtime_mirror, package_index, check_first=False, **tooling_args):
    harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", layer_cache=CACHE))
    predicted = None
    if check_first:
        predicted = (harness.assert_ok(tooling(host, package_index, check=True, **tooling_args)),
                     harness.assert_ok(compile_app(host, check=True)))
    tools = harness.assert_ok(tooling(host, package_index, **tooling_args))
    pycs = harness.assert_ok(compile_app(host))
    return tools, pycs, predicted


def test_fresh_hosts_restore_the_packaging_layer_and_pycs(amd64_image, runtime_mirror, package_index, tmp_path):
    cache_dir = tmp_path / "layer-cache"
    cache_dir.mkdir()

    first = fresh_host(amd64_image, cache_dir)
    try:
        checkout(first, mtime="2026-01-02 03:04:05")
        tools, pycs, _predicted = provision(first, runtime_mirror, package_index)
        assert packaging(tools)["layer_action"] == "created" and pycs["layer_action"] == "created"
        assert pycs["compiled"] == 3
        assert_pip_works(first, TOOL_VERSIONS["pip"])
        assert_pycs_valid_and_used(first)
    finally:
        first.container.remove()
    kinds = sorted(json.loads(meta.read_text())["kind"] for meta in cache_dir.glob("*/*.json"))
    assert kinds == ["pip_tooling", "pyc_compile", "python_runtime"], kinds

    # Another fresh host, another checkout of the same code (other mtimes): both are restored.
    second = fresh_host(amd64_image, cache_dir)
    try:
        checkout(second, mtime="2026-03-04 05:06:07")
        tools, pycs, predicted = provision(second, runtime_mirror, package_index, check_first=True)
        assert packaging(tools)["layer_action"] == packaging(predicted[0])["layer_action"] == "restored"
        assert tools["layer_action"] == "restored"
        assert "restored from the layer cache" in packaging(tools)["reasons"][-1]
        harness.assert_restored_without_building(tools, "pip or a compiler")
        assert pycs["layer_action"] == predicted[1]["layer_action"] == "restored", pycs["reasons"]
        assert "restored from the layer cache" in pycs["reasons"][-1]
        harness.assert_restored_without_building(pycs, "a compiler")
        assert pycs["compiled"] == 0
        assert_pip_works(second, TOOL_VERSIONS["pip"])
        assert_pycs_valid_and_used(second)
        assert not second.sh("ls -a %s /srv/app | grep appenv-overlay" % DEFAULT_DEST, check=False).stdout

        again_tools = harness.assert_ok(tooling(second, package_index))
        again_pycs = harness.assert_ok(compile_app(second))
        for again in (again_tools, again_pycs):
            assert (again["changed"], again["layer_action"], again["commands"]) == (False, "kept", [])
        # The runtime layer is untouched by the swap inside its site-packages and bin/.
        runtime_again = harness.assert_ok(install_runtime(second, runtime_mirror, "3.11", layer_cache=CACHE))
        assert runtime_again["layer_action"] == "kept", runtime_again["reasons"]
    finally:
        second.container.remove()

    # A changed input misses: another pip version, a changed source.
    third = fresh_host(amd64_image, cache_dir)
    try:
        changed = dict(APP, **{"pkg/mod.py": "def f():\n    return 3\n"})
        checkout(third, changed)
        tools, pycs, _predicted = provision(third, runtime_mirror, package_index, pip=OLD_PIP)
        assert packaging(tools)["layer_action"] == "created" and pycs["layer_action"] == "created"
        assert pycs["compiled"] == 3
        assert third.exec([PYTHON, "-m", "pip", "--version"]).stdout.split()[1] == OLD_PIP
    finally:
        third.container.remove()

    # Corrupt entries are discarded with a warning and rebuilt, never restored.
    for meta in cache_dir.glob("*/*.json"):
        entry = json.loads(meta.read_text())
        if entry["kind"] in ("pip_tooling", "pyc_compile"):
            archive = meta.with_name(entry["key"] + ".tar")
            data = bytearray(archive.read_bytes())
            data[len(data) // 2] ^= 0xFF
            archive.write_bytes(bytes(data))
    fourth = fresh_host(amd64_image, cache_dir)
    try:
        checkout(fourth)
        tools, pycs, _predicted = provision(fourth, runtime_mirror, package_index)
        assert packaging(tools)["layer_action"] == "created" and pycs["layer_action"] == "created"
        for result in (tools, pycs):
            assert any("discarded" in warning for warning in result.get("warnings", [])), result.get("warnings")
        assert_pip_works(fourth, TOOL_VERSIONS["pip"])
        assert_pycs_valid_and_used(fourth)
    finally:
        fourth.container.remove()


def test_pycs_through_an_http_cache(amd64_image, runtime_mirror, webdav_server, tmp_path):
    """The same overlay through layer_cache.url (nginx WebDAV): the archive is PUT and restored over HTTP."""
    url = webdav_server.url("cache/%s/" % tmp_path.name[-20:])
    actions = []
    for mtime in ("2026-01-02 03:04:05", "2026-05-06 07:08:09"):
        host = start_host(amd64_image, "x86_64", network="host")
        try:
            harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", layer_cache={"url": url, "hmac_key": HMAC_KEY}))
            checkout(host, mtime=mtime)
            result = harness.assert_ok(compile_app(host, layer_cache={"url": url, "hmac_key": HMAC_KEY}))
            assert not result.get("warnings"), result.get("warnings")
            actions.append(result["layer_action"])
            assert_pycs_valid_and_used(host)
            again = harness.assert_ok(compile_app(host, layer_cache={"url": url, "hmac_key": HMAC_KEY}))
            assert (again["layer_action"], again["commands"]) == ("kept", [])
        finally:
            host.container.remove()
    assert actions == ["created", "restored"]
