"""What users of ansible.builtin.pip expect (issue 18): state: absent, force and extra_args on a real host.

One container for the file (a 3.11 runtime with uv); each scenario is a play of several tasks, run in check mode
then for real (harness.check_then_real: the prediction equals the real run, task by task), then again (no change).
"""

import json
import shlex

import pytest

from tests.integration import harness
from tests.integration.harness import error_of
from tests.integration.hosts import DEFAULT_DEST, install_runtime_and_tooling, running_host, runtime_args
# The loopback index of the file (module-scoped fixture), as the lock tests make it.
from tests.integration.plugins.modules.test_app_dependencies_locks import index  # noqa: F401 pylint: disable=unused-import

pytestmark = pytest.mark.integration

APP = "/srv/app"
DESTS = {"user": "/opt/state/user", "venv": "/opt/state/venv", "target": "/opt/state/target", "system": None}
SITE = DEFAULT_DEST + "/lib/python3.11/site-packages"
PTH = SITE + "/appenv-opt-state-target.pth"


@pytest.fixture(scope="module")
def host(amd64_image, runtime_mirror, index):
    """One bookworm container for the file: a 3.11 runtime with uv, an app with a requirements.txt and code."""
    with running_host(amd64_image, "x86_64") as host:
        install_runtime_and_tooling(host, runtime_mirror, index, "3.11", ("uv",))
        host.sh("mkdir -p %s/pkg && printf 'demo-alpha==1.0\\n' > %s/requirements.txt && "
                "echo 'VALUE = 1' > %s/pkg/__init__.py" % (APP, APP, APP))
        yield host


def deps(index, location="venv", dest=None, **extra):
    args = {"project_dir": APP, "index_url": index.simple_url, "location": location}
    if dest or DESTS.get(location):
        args["dest"] = dest or DESTS[location]
    args.update(extra)
    return "appenv.python.app_dependencies", args


def play(tasks):
    """A play of (module, args[, register]) tasks, named by their position."""
    steps = []
    for number, task in enumerate(tasks):
        step = {"name": "%d %s" % (number, task[0].rsplit(".", 1)[-1]), task[0]: task[1]}
        if len(task) > 2:
            step["register"] = task[2]
        steps.append(step)
    return [{"hosts": "all", "gather_facts": False, "tasks": steps}]


def check_then_real(host, tasks):
    """The results of the real run of tasks' play, check mode having predicted each of them."""
    _predicted, real = harness.check_then_real(play(tasks), [host])
    return harness.task_results(real, host.name)


def exists(host, path):
    return host.exec(["test", "-e", path], check=False).returncode == 0


def test_absent_removes_each_location_cleanly_and_a_second_run_changes_nothing(host, index):
    locations = sorted(DESTS)
    for result in harness.run_tasks(host, [deps(index, location) for location in locations]):
        assert harness.assert_ok(result)["layer_action"] in ("created", "kept"), result["reasons"]
    for path in [dest for dest in DESTS.values() if dest] + [PTH, DEFAULT_DEST + "/.appenv-deps.json",
                                                             DEFAULT_DEST + "/bin/demo-alpha"]:
        assert exists(host, path), path

    absent = [deps(index, location, state="absent") for location in locations]
    removed = dict(zip(locations, check_then_real(host, absent)))
    for location, dest in DESTS.items():
        result = harness.assert_ok(removed[location])
        assert (result["changed"], result["layer_action"], result["fingerprint"]) == (True, "removed", None), location
        if dest:  # a directory goes without a process; the system packages by pip (below)
            assert result["commands"] == [], (location, result["commands"])
    assert removed["user"]["reasons"] == ["state is absent: %s/.appenv-fingerprint.json, %s is removed" % (
        DESTS["user"], DESTS["user"])], removed["user"]["reasons"]
    # venv and target are switched layers (a link at dest and its versions beside it): both go.
    assert removed["venv"]["reasons"] == ["state is absent: %s/.appenv-fingerprint.json, %s, %s.appenv-versions is "
                                          "removed" % (DESTS["venv"], DESTS["venv"], DESTS["venv"])], \
        removed["venv"]["reasons"]
    assert removed["target"]["reasons"] == [
        "state is absent: %s/.appenv-fingerprint.json, %s, %s.appenv-versions, %s is removed" % (
            DESTS["target"], DESTS["target"], DESTS["target"], PTH)], removed["target"]["reasons"]
    assert removed["system"]["reasons"] == [
        "state is absent: demo-alpha, demo-beta uninstalled from the runtime %s" % DEFAULT_DEST,
        "state is absent: %s/.appenv-deps.json is removed" % DEFAULT_DEST]
    assert [command["argv"][1:4] for command in removed["system"]["commands"]] == [["-m", "pip", "uninstall"]]

    # Gone: the layers, their fingerprints, the target's .pth, the system packages and their console script; the
    # runtime's own pip stays, and only the lock files (which serialise runs) are left beside the layers.
    assert host.sh("ls -A /opt/state").stdout.split() == [".target.appenv-lock", ".user.appenv-lock",
                                                          ".venv.appenv-lock"]
    for path in (PTH, DEFAULT_DEST + "/.appenv-deps.json", DEFAULT_DEST + "/bin/demo-alpha"):
        assert not exists(host, path), path
    left = host.sh("ls %s" % SITE).stdout.split()
    assert not [name for name in left if name.startswith("demo")], left
    host.exec([DEFAULT_DEST + "/bin/python3", "-m", "pip", "--version"])

    # Again, and in check mode: nothing there, no change, no process.
    for check in (True, False):
        for location, result in zip(locations, harness.run_tasks(host, absent, check=check)):
            result = harness.assert_ok(result)
            assert (result["changed"], result["layer_action"], result["reasons"], result["commands"]) == (
                False, "absent", [], []), (location, check)


def chain(index, runtime_mirror, host, **extra):
    """The roles' chain as module tasks (each task handed its upstream's result), extra given to each."""
    return [
        ("appenv.python.python_runtime", dict(runtime_args(host, runtime_mirror, "3.11"), **extra), "runtime"),
        ("appenv.python.pip_tooling", dict(index_url=index.simple_url, tools=[{"name": "uv"}],
                                           upstream="{{ runtime }}", **extra), "tooling"),
        ("appenv.python.app_dependencies", dict(deps(index, dest="/opt/force/deps")[1], upstream="{{ tooling }}",
                                                **extra), "deps"),
        ("appenv.python.pyc_compile", dict(paths=[APP + "/pkg"], interpreter="{{ deps.python }}",
                                           upstream="{{ deps }}", **extra)),
    ]


def test_force_rebuilds_every_layer_module_once_with_the_reason_forced(host, index, runtime_mirror):
    settled = harness.run_playbook(play(chain(index, runtime_mirror, host)), [host])
    assert [result.get("failed") for result in harness.task_results(settled, host.name)] == [None] * 4, settled

    forced = check_then_real(host, chain(index, runtime_mirror, host, force=True))
    runtime, tooling, deps_result, pyc = (harness.assert_ok(result) for result in forced)
    for name, result in (("python_runtime", runtime), ("app_dependencies", deps_result), ("pyc_compile", pyc)):
        assert (result["changed"], result["layer_action"], result["reasons"]) == (True, "recreated", ["forced"]), name
    # pip_tooling's packaging layer sits in the runtime that was rebuilt (made again), forced all the same; one
    # reason list for its layers, each named.
    assert tooling["changed"] and tooling["reasons"][-1] == "uv: forced", tooling["reasons"]
    assert "packaging: forced" in tooling["reasons"], tooling["reasons"]
    installs = [command for command in deps_result["commands"] if "install" in command["argv"]]
    assert installs, "a forced run did not install: %s" % deps_result["commands"]

    # Once: without force, every task is a no-op again (check mode agrees).
    for check in (True, False):
        report = harness.run_playbook(play(chain(index, runtime_mirror, host)), [host], check=check)
        for result in harness.task_results(report, host.name):
            assert (result.get("failed"), result["changed"], result["layer_action"]) == (None, False, "kept"), result


def test_extra_args_go_to_pip_and_uv_are_fingerprinted_and_never_show_credentials(host, index):
    secret = "s3cr3t-Pa55word"
    private = index.simple_url.replace("http://", "http://builder:%s@" % secret)
    wheels = "--only-binary :all:"
    tasks = [deps(index, dest="/opt/args/pip", extra_args=wheels),
             deps(index, dest="/opt/args/uv", installer="uv", extra_args=wheels)]
    first = check_then_real(host, tasks)
    for result in first:
        assert harness.assert_ok(result)["layer_action"] == "created", result["reasons"]
        install = [command["argv"] for command in result["commands"] if "install" in command["argv"]][-1]
        assert " --only-binary :all: " in " %s " % " ".join(install), install

    # Another value: rebuilt, the reason naming the option; the credentials of its URL shown nowhere.
    changed_args = "%s --extra-index-url %s" % (wheels, shlex.quote(private))
    tasks = [deps(index, dest="/opt/args/pip", extra_args=changed_args),
             deps(index, dest="/opt/args/uv", installer="uv", extra_args=changed_args)]
    second = check_then_real(host, tasks)
    shown = '["--only-binary",":all:","--extra-index-url","%s"]' % private.replace("builder:%s@" % secret, "***@")
    for result in second:
        assert harness.assert_ok(result)["layer_action"] == "recreated"
        assert result["reasons"] == ['Installer arguments (extra_args) changed from ["--only-binary",":all:"] to '
                                     + shown], result["reasons"]
        assert secret not in json.dumps(result) and "***@" in json.dumps(result["commands"])
    for dest in ("/opt/args/pip", "/opt/args/uv"):
        fingerprint = host.exec(["cat", dest + "/.appenv-fingerprint.json"]).stdout
        assert secret not in fingerprint and "***@" in fingerprint
    for result in harness.run_tasks(host, tasks):
        assert (harness.assert_ok(result)["changed"], result["layer_action"], result["commands"]) == (False, "kept", [])

    # An option the module sets itself: a titled error, in check mode too; the layer stays.
    refused = [deps(index, dest="/opt/args/pip", extra_args="--target /tmp/elsewhere")]
    for check in (True, False):
        error = error_of(harness.run_tasks(host, refused, check=check)[0])
        assert error["code"] == "deps_extra_args_refused", error
        assert error["title"] == "extra_args holds --target, which app_dependencies sets itself"
    assert host.sh("/opt/args/pip/bin/python -c 'import demo_alpha; print(demo_alpha.__version__)'").stdout == "1.0\n"
