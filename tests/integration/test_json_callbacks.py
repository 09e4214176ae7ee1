"""The layer decision where pipelines read results by machine.

Ansible's JSON callbacks (ansible.posix.json, which the harness runs every test through, and ansible.posix.jsonl)
write the task's module name into a result's ``action``, where the modules returned their decision until 0.1; the
decision is read from ``layer_action``. One cheap module (pyc_compile with the host's own Python) through each.
"""

import json
import subprocess

import pytest
import yaml

from tests.collection_path import REPO_ROOT
from tests.integration import harness

pytestmark = pytest.mark.integration

MODULE = "appenv.python.pyc_compile"
ARGS = {"paths": ["/srv/app"], "interpreter": "/usr/bin/python3"}


def _jsonl_results(host, tmp_path, check=False):
    """The per-host results of a playbook of two pyc_compile tasks, as ansible.posix.jsonl prints them (one JSON
    event a line)."""
    play = [{"hosts": "all", "gather_facts": False,
             "tasks": [{"name": "compile %d" % number, MODULE: ARGS} for number in (1, 2)]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    (tmp_path / "inventory.ini").write_text(harness.inventory_for([host]))
    argv = [str(harness.VENV_BIN / "ansible-playbook"), "-i", str(tmp_path / "inventory.ini"), str(tmp_path / "play.yml")]
    if check:
        argv.append("--check")
    proc = subprocess.run(argv, env=harness.ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.jsonl"}),
                          capture_output=True, text=True, timeout=600, cwd=str(REPO_ROOT), check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return [(event["task"]["name"], event["hosts"][host.name]) for event in events
            if event.get("_event") == "v2_runner_on_ok"]


def test_layer_action_survives_the_json_callbacks(amd64_host, tmp_path):
    amd64_host.sh("mkdir -p /srv/app/pkg && echo 'X = 1' > /srv/app/pkg/__init__.py && echo 'import pkg' > /srv/app/main.py")

    # ansible.posix.json (the harness): in check mode, then for real.
    predicted, = harness.run_tasks(amd64_host, [(MODULE, ARGS)], check=True)
    assert predicted["action"] == MODULE  # the callback's: the module's own action is gone
    assert predicted["layer_action"] == "created" and predicted["changed"] is True

    # ansible.posix.jsonl: check mode predicts, the run creates then keeps.
    (tmp_path / "check").mkdir()
    checked = _jsonl_results(amd64_host, tmp_path / "check", check=True)
    assert [(name, result["action"], result["layer_action"]) for name, result in checked] == [
        ("compile 1", MODULE, "created"), ("compile 2", MODULE, "created")]
    ran = _jsonl_results(amd64_host, tmp_path)
    assert [(name, result["action"], result["layer_action"], result["changed"]) for name, result in ran] == [
        ("compile 1", MODULE, "created", True), ("compile 2", MODULE, "kept", False)]
    assert ran[0][1]["reasons"] and ran[1][1]["reasons"] == [] and ran[1][1]["commands"] == []
    for _name, result in ran:
        assert harness.undocumented_keys(result["action"], result) == []
