"""Installed distributions, drift, and index options that keep credentials out of fingerprints."""

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


def test_runtime_from_its_fingerprint(tmp_path):
    (tmp_path / "bin").mkdir()
    python = tmp_path / "bin" / "python3.12"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    (tmp_path / ".appenv-fingerprint.json").write_text(json.dumps(
        {"kind": "python_runtime", "key": "k", "inputs": {"python_version": "3.12.7", "arch": "x86_64"}, "facts": {}}))
    runtime = _site.Runtime(str(tmp_path), "pip_tooling")
    assert (runtime.minor, runtime.python) == ("3.12", str(python))
    assert runtime.user_site("/opt/deps") == "/opt/deps/lib/python3.12/site-packages"
    assert (runtime.replaced, runtime.action) == (False, "kept")


def test_runtime_an_upstream_task_predicts_needs_nothing_on_disk(tmp_path):
    upstream = {"runtime": {"action": "recreated", "dest": str(tmp_path), "fingerprint": "new",
                            "python_version": "3.13.5", "arch": "x86_64"},
                "packages": {"pip": "26.3"}, "tools": {"uv": {"version": "0.13.9"}}}
    runtime = _site.Runtime(str(tmp_path), "app_dependencies", upstream)
    assert (runtime.key, runtime.version, runtime.replaced, runtime.action) == ("new", "3.13.5", True, "recreated")
    assert runtime.site_packages == str(tmp_path / "lib" / "python3.13" / "site-packages")
    assert runtime.versions == {"pip": "26.3", "uv": "0.13.9"}
    with pytest.raises(AppenvError):  # an upstream that keeps the runtime: the disk is read, and it has none
        _site.Runtime(str(tmp_path), "app_dependencies", dict(upstream["runtime"], action="kept"))


def test_credentials_stay_out_of_fingerprints():
    index = _site.IndexOptions("https://pypi.example.invalid/simple", ["https://tok%40en@mirror.example.invalid/s"],
                               username="builder", password="pa:ss")
    assert index.index_url == "https://builder:pa%3Ass@pypi.example.invalid/simple"
    text = json.dumps(index.fingerprint())
    assert "pa" not in text.replace("pypi", "") and "tok" not in text
    assert "pa:ss" in index.secrets and "tok%40en" in index.secrets and "tok@en" in index.secrets
    assert index.args()[:2] == ["--index-url", index.index_url]


def test_url_password():
    assert _site.url_password("https://u:p@h/x") == "p"
    assert _site.url_password("https://token@h/x") == "token"
    assert _site.url_password("https://h/x@y") is None
    assert _site.url_password(None) is None
