"""What an upstream task's registered result predicts for the task that sits on it (check mode of a chain)."""

import pytest

from ansible_collections.appenv.python.plugins.module_utils._upstream import (
    predicted_runtime, predicted_versions, runtime_entry)

RUNTIME = {"changed": True, "layer_action": "recreated", "dest": "/opt/appenv/python", "fingerprint": "k" * 64,
           "python_version": "3.13.5", "arch": "x86_64"}


def test_a_runtime_result_that_changes_the_runtime_predicts_it():
    record, action = predicted_runtime(RUNTIME, "/opt/appenv/python/")
    assert action == "recreated"
    assert record == {"key": "k" * 64, "inputs": {"python_version": "3.13.5", "arch": "x86_64", "variant": None},
                      "facts": {}}


def test_a_downstream_result_passes_its_runtime_entry_on():
    assert predicted_runtime({"layer_action": "created", "runtime": RUNTIME}, "/opt/appenv/python")[1] == "recreated"
    assert predicted_runtime({"layer_action": "created", "runtime": RUNTIME})[0]["key"] == "k" * 64


@pytest.mark.parametrize("upstream", [
    None, "text", {}, dict(RUNTIME, layer_action="kept"), dict(RUNTIME, skipped=True), dict(RUNTIME, failed=True),
    dict(RUNTIME, dest="/opt/other"), dict(RUNTIME, fingerprint=None), dict(RUNTIME, python_version=""),
])
def test_anything_else_predicts_nothing_and_the_disk_is_read(upstream):
    assert predicted_runtime(upstream, "/opt/appenv/python") == (None, None)


def test_tool_versions_come_from_pip_toolings_result():
    tooling = {"packages": {"pip": "26.3", "wheel": None}, "tools": {"uv": {"version": "0.13.9"}, "bad": "x"}}
    assert predicted_versions(tooling) == {"pip": "26.3", "uv": "0.13.9"}
    assert predicted_versions(dict(tooling, skipped=True)) == {}
    assert predicted_versions(RUNTIME) == {}


def test_the_runtime_entry_is_what_the_next_task_reads():
    class Runtime:
        root, key, version, arch, variant, action = "/opt/appenv/python", "k" * 64, "3.13.5", "x86_64", "default", \
            "recreated"

    assert predicted_runtime({"runtime": runtime_entry(Runtime)}, "/opt/appenv/python")[0]["key"] == "k" * 64


def test_an_upstream_result_with_only_the_deprecated_action_key_still_predicts():
    """A result registered before layer_action (0.1: action only) is read the same way."""
    old = dict((key, value) for key, value in RUNTIME.items() if key != "layer_action")
    old["action"] = "recreated"
    assert predicted_runtime(old, "/opt/appenv/python") == predicted_runtime(RUNTIME, "/opt/appenv/python")
    assert predicted_runtime(old, "/opt/appenv/python")[1] == "recreated"
