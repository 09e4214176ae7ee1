"""pyc_compile on a real Debian host with a real runtime: twice, check mode, updates, repair."""

import pytest

from tests.integration import harness
from tests.integration.hosts import DEFAULT_DEST, install_runtime

pytestmark = pytest.mark.integration

INTERPRETER = DEFAULT_DEST + "/bin/python3.11"


def compile_app(host, check=False, **args):
    params = {"paths": ["/srv/app"], "interpreter": INTERPRETER}
    params.update(args)
    return harness.run_task(host, "appenv.python.pyc_compile", params, check=check)


def test_compile_twice_check_mode_update_and_repair(amd64_host, runtime_mirror):
    harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))
    amd64_host.sh("mkdir -p /srv/app/pkg && echo 'X = 1' > /srv/app/pkg/__init__.py && "
                  "echo 'import pkg' > /srv/app/main.py && echo 'def broken(:' > /srv/app/bad.py")

    predicted = harness.assert_ok(compile_app(amd64_host, check=True))
    assert predicted["layer_action"] == "created" and predicted["changed"]
    assert amd64_host.sh("find /srv/app -name '*.pyc' | wc -l").stdout.strip() == "0"
    first = harness.assert_ok(compile_app(amd64_host, invalidation_mode="unchecked-hash"))
    assert first["layer_action"] == "created" and first["compiled"] == 2 and first["sources"] == 3
    assert [item["file"] for item in first["compile_errors"]] == ["/srv/app/bad.py"]
    assert amd64_host.exec(["test", "-f", "/srv/app/pkg/__pycache__/__init__.cpython-311.pyc"]).returncode == 0

    second = harness.assert_ok(compile_app(amd64_host, invalidation_mode="unchecked-hash"))
    assert (second["changed"], second["layer_action"], second["commands"]) == (False, "kept", [])
    assert harness.assert_ok(compile_app(amd64_host, check=True, invalidation_mode="unchecked-hash"))["layer_action"] == "kept"

    amd64_host.sh("echo 'Y = 2' >> /srv/app/main.py && rm /srv/app/pkg/__init__.py")
    predicted = harness.assert_ok(compile_app(amd64_host, check=True, invalidation_mode="unchecked-hash"))
    updated = harness.assert_ok(compile_app(amd64_host, invalidation_mode="unchecked-hash"))
    assert updated["layer_action"] == predicted["layer_action"] == "updated"
    assert updated["reasons"] == predicted["reasons"] == ["2 source files changed (changed: main.py; removed: __init__.py)"]
    assert updated["compiled"] == 1 and updated["removed"] == 1

    recreated = harness.assert_ok(compile_app(amd64_host))
    assert recreated["layer_action"] == "recreated"
    assert recreated["reasons"] == ["Invalidation mode changed from unchecked-hash to checked-hash"]

    amd64_host.sh("rm /srv/app/__pycache__/main.cpython-311.pyc")
    repaired = harness.assert_ok(compile_app(amd64_host))
    assert repaired["layer_action"] == "recreated" and "missing" in repaired["reasons"][0]
    assert amd64_host.exec(["test", "-f", "/srv/app/__pycache__/main.cpython-311.pyc"]).returncode == 0
    assert not harness.assert_ok(compile_app(amd64_host))["changed"]


def test_bad_paths_and_interpreter_are_titled_errors(amd64_host, runtime_mirror):
    missing = compile_app(amd64_host, paths=["/nonexistent"])
    assert missing.get("failed") and missing["error"]["title"] == "Invalid value for paths"
    amd64_host.sh("mkdir -p /srv/app && echo 'x = 1' > /srv/app/a.py")
    unknown = compile_app(amd64_host, interpreter="/bin/true")
    assert unknown.get("failed") and unknown["error"]["code"] == "interpreter_unusable"  # not a CPython: the identity probe refuses it
