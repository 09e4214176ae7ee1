"""Each tag the docs name selects a part of the image build that works alone (one host, the roles run once first)."""

import json
import os
import re

import pytest

from tests.integration import harness
from tests.integration.roles.test_roles import APP_FILES, changed_tasks, converge, image_vars
from tests.testbed import runtimes

pytestmark = pytest.mark.integration

ROLE = "appenv.python.app : "
GUIDE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "guides", "image-pipeline.md")


def documented_tags():
    with open(GUIDE) as handle:
        line = re.search(r"^- Tags: (.*?) select", handle.read(), re.M | re.S).group(1)
    return re.findall(r"`(appenv\w*)`", line)


def run_tagged(host, variables, tag, check=False):
    report = harness.run_playbook("appenv.python.image", [host], check=check, extra_vars=variables, tags=tag)
    results = harness.task_results(report, host.name)
    assert report["_rc"] == 0, (tag, json.dumps([r for r in results if r.get("failed")])[:4000],
                                report["_stderr"][-2000:])
    # The tag selected work: at least one task of the roles ran on the host (not only the argument checks).
    assert [r for r in results if not r.get("skipped") and "argument" not in r["_task"]], (tag, results)
    return report


def test_each_documented_tag_works_alone(amd64_host, runtime_mirror, package_index, tmp_path):
    tags = documented_tags()
    assert {"appenv_runtime", "appenv_tooling", "appenv_app_deps", "appenv_app_code", "appenv_app_env"} <= set(tags)
    runtime_mirror.ensure(runtimes.exact_version("3.11"), "x86_64")
    app_src = tmp_path / "app"
    app_src.mkdir()
    for name, text in APP_FILES.items():
        (app_src / name).write_text(text)
    variables = image_vars(runtime_mirror, package_index, app_src, appenv_app_user="demo",
                           appenv_app_location="venv", appenv_app_installer="uv")
    converge(amd64_host, variables)
    env_file = amd64_host.exec(["cat", "/etc/appenv/demo.env"]).stdout
    assert "APPENV_PYTHON=/opt/appenv/app/venv/bin/python" in env_file

    for tag in tags:  # after the full run, each part alone succeeds and has nothing to do
        assert changed_tasks(run_tagged(amd64_host, variables, tag), amd64_host) == [], tag

    # The environment file alone, after it was lost: predicted, then written again as the full run wrote it.
    amd64_host.exec(["rm", "/etc/appenv/demo.env"])
    predicted = run_tagged(amd64_host, variables, "appenv_app_env", check=True)
    real = run_tagged(amd64_host, variables, "appenv_app_env")
    assert changed_tasks(predicted, amd64_host) == changed_tasks(real, amd64_host) == [ROLE + "Environment file for services"]
    assert amd64_host.exec(["cat", "/etc/appenv/demo.env"]).stdout == env_file
    # The app's code alone, after an edit: its bytecode is compiled again with the layer's interpreter.
    (app_src / "app.py").write_text(APP_FILES["app.py"] + "# edited\n")
    # (Not in check mode: predicting the bytecode of code an earlier task copies is issue 17's chained-tasks item.)
    real = run_tagged(amd64_host, variables, "appenv_app_code")
    assert changed_tasks(real, amd64_host) == [
        ROLE + "App code (root-owned and read-only to the app user unless appenv_app_code_owner is app)",
        ROLE + "Bytecode of the app's code"]
    out = amd64_host.sh("set -a; . /etc/appenv/demo.env; set +a; \"$APPENV_PYTHON\" /srv/demo/app.py", user="demo")
    assert out.stdout.strip() == "app on 1.0"
