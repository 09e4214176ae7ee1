"""roles/runtime + roles/app through the collection playbook appenv.python.image, on real Debian hosts."""

import json

import pytest

from tests.integration import harness
from tests.testbed import runtimes

pytestmark = pytest.mark.integration

APP_FILES = {"requirements.txt": "demo-alpha==1.0\ndemo-delta\n",
             "app.py": "import demo_alpha, demo_delta\n\nprint('app on', demo_alpha.__version__)\n"}


def image_vars(runtime_mirror, index, app_src, **extra):
    data = {
        "appenv_runtime_version": "3.11",
        "appenv_runtime_mirror": runtime_mirror.base_url,
        "appenv_runtime_release": runtime_mirror.tag,
        "appenv_runtime_tools": [{"name": "uv"}],
        "appenv_runtime_index_url": index.simple_url,
        "appenv_app_name": "demo",
        "appenv_app_src": str(app_src),
        "appenv_app_project_dir": "/srv/demo",
        "appenv_app_index_url": index.simple_url,
    }
    data.update(extra)
    return data


def converge(host, variables, check=False):
    """One run of appenv.python.image on host; it must succeed (the failed tasks are shown if not)."""
    report = harness.run_playbook("appenv.python.image", [host], check=check, extra_vars=variables)
    assert report["_rc"] == 0, json.dumps([r for r in harness.task_results(report, host.name) if r.get("failed")])[
        :4000] + report["_stderr"][-2000:]
    return report


def changed_tasks(report, host):
    return sorted(result["_task"] for result in harness.task_results(report, host.name) if result.get("changed"))


@pytest.mark.parametrize("variant", ["root", "app-user-venv"])
def test_image_playbook_converges_once(variant, amd64_host, runtime_mirror, package_index, tmp_path):
    runtime_mirror.ensure(runtimes.exact_version("3.11"), "x86_64")
    app_src = tmp_path / "app"
    app_src.mkdir()
    for name, text in APP_FILES.items():
        (app_src / name).write_text(text)
    extra = {}
    if variant == "app-user-venv":
        extra = {"appenv_app_user": "demo", "appenv_app_location": "venv", "appenv_app_installer": "uv"}
    variables = image_vars(runtime_mirror, package_index, app_src, **extra)

    # Check mode predicts each task of the real run: its action and reasons, not only whether it changed.
    _predicted, first = harness.check_then_real("appenv.python.image", [amd64_host], extra_vars=variables)
    assert first["_rc"] == 0, first["_stderr"][-3000:]
    assert changed_tasks(first, amd64_host), "the first run changed nothing"
    _check_again, second = harness.check_then_real("appenv.python.image", [amd64_host], extra_vars=variables)
    assert harness.play_stats(second, amd64_host.name)["changed"] == 0, changed_tasks(second, amd64_host)

    user = "demo" if variant == "app-user-venv" else None
    out = amd64_host.sh("set -a; . /etc/appenv/demo.env; set +a; \"$APPENV_PYTHON\" /srv/demo/app.py", user=user)
    assert out.stdout.strip() == "app on 1.0"
    # The buildpack defaults (issue 18): unbuffered output and a UTF-8 locale, in both files.
    env_file = amd64_host.sh("cat /etc/appenv/demo.env").stdout.splitlines()
    assert "PYTHONUNBUFFERED=1" in env_file and "LANG=C.UTF-8" in env_file, env_file
    profile = amd64_host.sh("cat /etc/profile.d/appenv-demo.sh").stdout.splitlines()
    assert "export PYTHONUNBUFFERED=1" in profile and "export LANG=C.UTF-8" in profile, profile
    out = amd64_host.sh(". /etc/profile.d/appenv-demo.sh; python3 -c 'import demo_delta, sys; print(sys.prefix)'",
                        user=user)
    expected_prefix = "/opt/appenv/app/venv" if variant == "app-user-venv" else "/opt/appenv/python"
    assert out.stdout.strip() == expected_prefix
    if user:
        owner = amd64_host.exec(["stat", "-c", "%U", "/opt/appenv/app/venv/bin/python"]).stdout.strip()
        assert owner == "demo"


def test_bad_role_input_fails_at_once(amd64_host, runtime_mirror, package_index, tmp_path):
    variables = image_vars(runtime_mirror, package_index, tmp_path, appenv_app_location="nowhere")
    report = harness.run_playbook("appenv.python.image", [amd64_host], extra_vars=variables)
    assert report["_rc"] != 0
    failed = [r for r in harness.task_results(report, amd64_host.name) if r.get("failed")]
    assert failed and "appenv_app_location" in failed[0]["msg"] and "nowhere" in failed[0]["msg"], failed
    # Nothing was installed before the argument check failed.
    assert not amd64_host.exists("/opt/appenv/python")
