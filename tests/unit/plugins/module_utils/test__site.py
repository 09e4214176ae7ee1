"""Installed distributions and their drift, and the runtime a layer sits on, read from files alone."""

import json
import os

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _site
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError


def make_dist(site, name, version, files):
    info = os.path.join(str(site), "%s-%s.dist-info" % (name.replace("-", "_"), version))
    os.makedirs(info)
    rows = []
    for rel in files:
        path = os.path.join(str(site), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").close()
        rows.append("%s,," % rel)
    rows.append("%s/RECORD,," % os.path.basename(info))
    with open(os.path.join(info, "RECORD"), "w") as handle:
        handle.write("\n".join(rows) + "\n")


def test_drift_names_missing_replaced_and_damaged(tmp_path):
    make_dist(tmp_path, "demo-a", "1.0", ["demo_a/__init__.py", "demo_a/x.py"])
    make_dist(tmp_path, "demo-b", "2.0", ["demo_b/__init__.py"])
    assert _site.installed(str(tmp_path))["demo-a"][0] == "1.0"
    assert _site.drift(str(tmp_path), {"demo-a": "1.0", "demo-b": "2.0"}) == []
    os.unlink(str(tmp_path / "demo_a" / "x.py"))
    problems = _site.drift(str(tmp_path), {"demo-a": "1.0", "demo-b": "1.0", "demo-c": "1"})
    assert problems == [
        "demo-a 1.0 is missing 1 of its files (demo_a/x.py)",
        "demo-b was replaced: 2.0 is installed instead of 1.0",
        "demo-c 1 is no longer installed",
    ]


def test_runtime_without_fingerprint_is_a_titled_error(tmp_path):
    with pytest.raises(AppenvError) as caught:
        _site.Runtime(str(tmp_path), "app_dependencies")
    assert caught.value.code == "runtime_missing"
    (tmp_path / ".appenv-fingerprint.json").write_text("{")
    with pytest.raises(AppenvError):
        _site.Runtime(str(tmp_path), "app_dependencies")


def _runtime_dir(root, interpreter, inputs):
    """A runtime directory as python_runtime leaves it: the interpreter and the fingerprint with inputs."""
    (root / "bin").mkdir()
    python = root / "bin" / interpreter
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    (root / ".appenv-fingerprint.json").write_text(json.dumps({"kind": "python_runtime", "key": "k", "inputs": inputs, "facts": {}}))
    return python


def test_runtime_from_its_fingerprint(tmp_path):
    python = _runtime_dir(tmp_path, "python3.12", {"python_version": "3.12.7", "arch": "x86_64"})
    runtime = _site.Runtime(str(tmp_path), "pip_tooling")
    assert (runtime.minor, runtime.python) == ("3.12", str(python))
    assert runtime.user_site("/opt/deps") == "/opt/deps/lib/python3.12/site-packages"
    assert (runtime.replaced, runtime.action) == (False, "kept")


def test_runtime_an_upstream_task_predicts_needs_nothing_on_disk(tmp_path):
    upstream = {"runtime": {"layer_action": "recreated", "dest": str(tmp_path), "fingerprint": "new",
                            "python_version": "3.13.5", "arch": "x86_64"},
                "packages": {"pip": "26.3"}, "tools": {"uv": {"version": "0.13.9"}}}
    runtime = _site.Runtime(str(tmp_path), "app_dependencies", upstream)
    assert (runtime.key, runtime.version, runtime.replaced, runtime.action) == ("new", "3.13.5", True, "recreated")
    assert runtime.site_packages == str(tmp_path / "lib" / "python3.13" / "site-packages")
    assert runtime.versions == {"pip": "26.3", "uv": "0.13.9"}
    with pytest.raises(AppenvError):  # an upstream that keeps the runtime: the disk is read, and it has none
        _site.Runtime(str(tmp_path), "app_dependencies", dict(upstream["runtime"], layer_action="kept"))


def test_a_free_threaded_runtime_names_its_paths_with_the_abi_flag(tmp_path):
    python = _runtime_dir(tmp_path, "python3.13t",
                          {"python_version": "3.13.5", "arch": "x86_64", "variant": "freethreaded"})
    runtime = _site.Runtime(str(tmp_path), "pip_tooling")
    assert (runtime.minor, runtime.abi, runtime.python) == ("3.13", "3.13t", str(python))
    assert runtime.site_packages == str(tmp_path / "lib" / "python3.13t" / "site-packages")
    assert runtime.stdlib == str(tmp_path / "lib" / "python3.13t")
    assert runtime.user_site("/opt/deps") == "/opt/deps/lib/python3.13t/site-packages"


def test_a_snapshot_puts_back_the_console_scripts_and_removes_new_ones(tmp_path):
    root = tmp_path / "runtime"
    site = root / "lib" / "python3.11" / "site-packages"
    make_dist(site, "demo-tool", "1.0", ["demo_tool/__init__.py", "../../../bin/demo-tool"])
    (root / "bin" / "demo-tool").write_text("#!/opt/python/bin/python3.11\nfrom demo_tool import main\n")
    (root / "bin" / "python3.11").write_text("the interpreter")
    assert _site.outside_files(str(site)) == [str(root / "bin" / "demo-tool")]

    snapshot = _site.OutsideSnapshot(str(site), str(root), str(root / ".scripts"), watch=[str(root / "bin")])
    (root / "bin" / "demo-tool").unlink()  # the old package uninstalled...
    (root / "bin" / "demo-new").write_text("#!/bin/sh\n")  # ...a new one installed, then the install failed
    snapshot.restore()
    assert sorted(os.listdir(str(root / "bin"))) == ["demo-tool", "python3.11"]
    assert (root / "bin" / "demo-tool").read_text().endswith("from demo_tool import main\n")
    assert not (root / ".scripts").exists()
