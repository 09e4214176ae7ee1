"""The app user tries to become root through the app role, on real hosts.

A real unprivileged app user (`demo`, made by the role) in a real Debian container tries each attack of issue
16 section 1 against roles/app and pyc_compile: a .pth file in its venv, a planted overlay journal whose paths
go through links out of the tree, a __pycache__ that links outside the tree. Each is refused with a titled error
or ignored, no marker a root-run attack would leave exists, nothing outside the trees changes, and the next run
still converges (the run after reports no change). The threat model is docs/security.md.

Each test's docstring is its row in docs/reliability.md: the first paragraph is the scenario, the paragraph
starting "Expected:" the expected outcome. One container for the module (created on first use).
"""

import hashlib
import json

import pytest

from tests.integration import harness
from tests.integration.hosts import make_package_index, running_host
from tests.integration.harness import error_of
from tests.integration.roles.test_roles import APP_FILES, changed_tasks, converge, image_vars
from tests.testbed import runtimes

pytestmark = [pytest.mark.integration, pytest.mark.faults]

RUNTIME = "/opt/appenv/python"
VENV = "/opt/appenv/app/venv"
CODE = "/srv/demo"
PYC_TASK = "appenv.python.app : Bytecode of the app's code"
# The role's own variables for the app user with a venv of its own (the layout of issue 16).
APP_USER = {"appenv_app_user": "demo", "appenv_app_location": "venv", "appenv_app_installer": "uv"}
# A second app, whose code the app user owns (the opt-out): it compiles the code itself.
APP_OWNED = dict(APP_USER, appenv_app_name="demo2", appenv_app_project_dir="/srv/demo2",
                 appenv_app_home="/opt/appenv/app2", appenv_app_code_owner="app")
PROFILE = "/etc/profile.d/appenv-demo2.sh"  # the app-owned app's profile script, written by the role
BECOME_APP_USER = {"ansible_become_flags": "-s /bin/sh"}  # its login shell is nologin


@pytest.fixture(scope="module")
def host(amd64_image):
    with running_host(amd64_image, "x86_64") as host:
        yield host


@pytest.fixture(scope="module")
def index(index_server):
    return make_package_index(*index_server, ["x86_64"])


@pytest.fixture(scope="module")
def app_src(tmp_path_factory):
    src = tmp_path_factory.mktemp("app")
    for name, text in dict(APP_FILES, **{"pkg/__init__.py": "", "pkg/mod.py": "VALUE = 1\n"}).items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    return src


@pytest.fixture(scope="module")
def image(host, runtime_mirror, index, app_src):
    """The app role with an app user and its venv, the defaults otherwise: (variables, check run, first run)."""
    runtime_mirror.ensure(runtimes.exact_version("3.11"), "x86_64")
    variables = image_vars(runtime_mirror, index, app_src, **APP_USER)
    predicted = converge(host, variables, check=True)
    first = converge(host, variables)
    return variables, predicted, first


def play(host, variables):
    """A run of the image playbook that may fail: the report."""
    return harness.run_playbook("appenv.python.image", [host], extra_vars=variables)


def converges_again(host, variables):
    """The next run succeeds, the one after changes nothing, and check mode then predicts no change."""
    again = converge(host, variables)
    second = converge(host, variables)
    assert harness.play_stats(second, host.name)["changed"] == 0, changed_tasks(second, host)
    check = converge(host, variables, check=True)
    assert harness.play_stats(check, host.name)["changed"] == 0, changed_tasks(check, host)
    return again


def failed_task(report, host):
    failed = [result for result in harness.task_results(report, host.name) if result.get("failed")]
    assert report["_rc"] != 0 and failed, json.dumps(harness.task_results(report, host.name))[-3000:]
    return failed[0]


def snapshot(host, *paths, **kwargs):
    """Every entry under paths with its type, owner, mode and content hash (missing paths say so), but the
    lines naming kwargs' `but` (a file the role writes there itself)."""
    script = ("for p in \"$@\"; do if [ -e \"$p\" ] || [ -L \"$p\" ]; then find \"$p\" -printf '%p %y %u %m\\n' "
              "-type f -exec sha256sum {} + ; else echo \"$p missing\"; fi; done")
    lines = host.exec(["sh", "-c", script, "snapshot"] + list(paths)).stdout.splitlines()
    return sorted(line for line in lines if not (kwargs.get("but") and kwargs["but"] in line))


def stat(host, path):
    return host.exec(["stat", "-c", "%U %a", path]).stdout.strip()


def exists(host, path):
    return host.exec(["test", "-e", path], check=False).returncode == 0


def compile_as(host, user, **args):
    """pyc_compile as root (user None) or as the app user (become with su)."""
    return harness.run_task(host, "appenv.python.pyc_compile", args, become_user=user,
                            vars=BECOME_APP_USER if user else None)


def test_app_role_end_to_end_as_the_app_user(host, image):
    """roles/app end to end with an unprivileged app user that owns its venv, the code root-owned (the default).

    Expected: check mode predicts the first run; the second run and check mode then change nothing; the app
    runs as the app user; its code and pycs belong to root and the app user cannot change them; root compiled
    the code with the runtime's own interpreter, never the app user's venv python; root's pyc state directory is
    root's, 0700.
    """
    variables, predicted, first = image
    assert changed_tasks(predicted, host) == changed_tasks(first, host)
    converges_again(host, variables)
    out = host.sh("set -a; . /etc/appenv/demo.env; set +a; \"$APPENV_PYTHON\" %s/app.py" % CODE, user="demo")
    assert out.stdout.strip() == "app on 1.0"
    assert stat(host, VENV + "/bin/python").startswith("demo ")
    for path in (CODE, CODE + "/app.py", CODE + "/pkg", CODE + "/pkg/__pycache__"):
        assert stat(host, path).split()[0] == "root", path
    assert host.sh("echo 'X = 1' >> %s/pkg/mod.py" % CODE, user="demo", check=False).returncode != 0
    compiled = [result for result in harness.task_results(first, host.name) if result["_task"] == PYC_TASK][0]
    assert [command["argv"][0] for command in compiled["commands"]] == [RUNTIME + "/bin/python3"], compiled
    assert stat(host, "/var/lib/appenv/pyc") == "root 700"


def test_pth_in_the_app_users_venv_never_runs_as_root(host, image, index):
    """The app user drops a .pth into its venv's site-packages that creates a marker file when Python starts;
    then the app's code changes (a deploy) and the role recompiles it, and, asked straight as root,
    pyc_compile is to compile the root-owned code with the app user's venv python and app_dependencies to
    install into that venv.

    Expected: the role recompiles the code as root with the runtime's interpreter (the .pth never runs as root:
    no root marker); both straight requests are refused before any process starts with a titled error naming
    the venv and its owner; the .pth does run for the app user itself (the trap is live); the next run
    converges and the one after changes nothing.
    """
    variables = image[0]
    site = host.sh("ls -d %s/lib/python3*/site-packages" % VENV).stdout.strip()
    pth = site + "/zz-hostile.pth"
    host.exec(["sh", "-c", "echo \"import os; open('/tmp/pth-ran-as-%d' % os.getuid(), 'w').close()\" > " + pth],
              user="demo")
    try:
        host.sh("touch %s/pkg/mod.py" % CODE)  # a deploy of new code, by root (same content: the copy keeps it)
        report = converge(host, variables)
        assert changed_tasks(report, host) == [PYC_TASK]
        result = compile_as(host, None, paths=[CODE], interpreter=VENV + "/bin/python",
                            state_dir="/var/lib/appenv/pyc-straight")
        error = error_of(result)
        assert error["code"] == "unsafe_path", error
        assert "demo" in error["cause"] and VENV in error["title"] + error["cause"], error
        assert result.get("commands") == [], result.get("commands")
        result = harness.run_task(host, "appenv.python.app_dependencies", {
            "project_dir": CODE, "location": "venv", "dest": VENV, "installer": "uv", "index_url": index.simple_url})
        error = error_of(result)
        assert error["code"] == "unsafe_path", error
        assert "demo" in error["cause"] and VENV in error["title"] + error["cause"], error
        assert result.get("commands") == [], result.get("commands")
        assert not exists(host, "/tmp/pth-ran-as-0"), "the app user's .pth ran as root"
        host.exec([VENV + "/bin/python", "-c", "pass"], user="demo")
        uid = host.exec(["id", "-u", "demo"]).stdout.strip()
        assert exists(host, "/tmp/pth-ran-as-" + uid), "the .pth trap did not work for the app user itself"
        converges_again(host, variables)
        assert not exists(host, "/tmp/pth-ran-as-0")
    finally:
        host.sh("rm -f %s /tmp/pth-ran-as-*" % pth)


def _overlay_tag(state_path):
    return hashlib.sha256(state_path.encode("utf-8")).hexdigest()[:12]


def test_planted_journal_in_the_tree_is_ignored(host, image, runtime_mirror, index, app_src):
    """The app user owns its code (appenv_app_code_owner: app) and, before the role first runs, plants overlay
    journals in it where earlier releases kept them (.appenv-overlay-<tag>.old/.appenv-journal.json, for root's
    and its own state directory) that name paths through links it made: one to a root-owned directory outside
    the tree (a file there to delete), one to /etc/profile.d (a script to put there).

    Expected: the role compiles the app user's code as the app user, with its state in a 0700 directory of its
    own, and never reads the planted journals; pyc_compile asked to compile that tree as root refuses it with
    a titled error naming the tree's owner; the outside directory and /etc/profile.d are unchanged; the next
    run converges and the one after changes nothing.
    """
    variables = image_vars(runtime_mirror, index, app_src, **APP_OWNED)
    tree, home = "/srv/demo2", "/opt/appenv/app2"
    assert not exists(host, PROFILE)
    host.sh("mkdir -p %s /srv/outside && chown demo %s && echo keep > /srv/outside/victim.sh" % (tree, tree))
    host.sh("ln -s /srv/outside %s/outside && ln -s /etc/profile.d %s/profile" % (tree, tree), user="demo")
    name = hashlib.sha256(tree.encode("utf-8")).hexdigest()[:16]
    for state_dir in ("/var/lib/appenv/pyc", home + "/.appenv-state/pyc"):
        state_path = "%s/%s.json" % (state_dir, name)
        aside = "%s/.appenv-overlay-%s.old" % (tree, _overlay_tag(state_path))
        journal = {"key": "planted", "new": ["outside/victim.sh"], "state_path": state_path,
                   "existing": ["profile/zz-planted.sh", "outside/planted.sh"]}
        host.exec(["sh", "-c", "mkdir -p $1/profile $1/outside && echo 'echo pwned' > $1/profile/zz-planted.sh && "
                   "cp $1/profile/zz-planted.sh $1/outside/planted.sh && printf '%s' \"$2\" > $1/.appenv-journal.json",
                   "plant", aside, json.dumps(journal)], user="demo")
    before = snapshot(host, "/srv/outside", "/etc/profile.d", but=PROFILE)

    # No check run first: the app user's planted directory exists but the code is not copied yet (check mode
    # would look for its requirements); converges_again below checks that check mode then predicts no change.
    first = converge(host, variables)
    assert snapshot(host, "/srv/outside", "/etc/profile.d", but=PROFILE) == before
    compiled = [result for result in harness.task_results(first, host.name) if result["_task"] == PYC_TASK][0]
    assert compiled["layer_action"] == "created" and compiled["commands"][0]["argv"][0] == home + "/venv/bin/python"
    assert stat(host, home + "/.appenv-state/pyc") == "demo 700"
    assert stat(host, tree + "/pkg/__pycache__").split()[0] == "demo"

    result = compile_as(host, None, paths=[tree], interpreter=RUNTIME + "/bin/python3")
    error = error_of(result)
    assert error["code"] == "unsafe_path" and "demo" in error["cause"] and tree in error["cause"], error
    assert snapshot(host, "/srv/outside", "/etc/profile.d", but=PROFILE) == before
    converges_again(host, variables)
    assert snapshot(host, "/srv/outside", "/etc/profile.d", but=PROFILE) == before
    assert not exists(host, "/etc/profile.d/zz-planted.sh") and not exists(host, "/srv/outside/planted.sh")


def test_symlinked_pycache_is_refused(host, image):
    """A __pycache__ that is a link to a directory outside the tree: in the root-owned code (the role compiles
    it as root), and in a tree the app user owns (pyc_compile run as the app user).

    Expected: both runs fail with a titled error naming the link, before anything is compiled; the directories
    the links point to stay empty; once the link is removed the next run compiles (a real __pycache__) and the
    one after changes nothing.
    """
    variables = image[0]
    # Root-owned code compiled by root through the role (a link shipped with the code, or made by hand).
    host.sh("mkdir -p /srv/outside-pyc && rm -rf {0}/pkg/__pycache__ && ln -s /srv/outside-pyc {0}/pkg/__pycache__ "
            "&& touch {0}/pkg/mod.py".format(CODE))
    try:
        error = error_of(failed_task(play(host, variables), host))
        assert error["code"] == "tree_symlink" and CODE + "/pkg/__pycache__" in error["title"], error
        assert host.exec(["ls", "-A", "/srv/outside-pyc"]).stdout == ""
    finally:
        host.sh("rm -f %s/pkg/__pycache__" % CODE)
    converges_again(host, variables)
    assert stat(host, CODE + "/pkg/__pycache__").split()[0] == "root"

    # The app user's own tree, compiled as the app user.
    mine, elsewhere = "/opt/appenv/app/mine", "/opt/appenv/app/elsewhere"
    host.sh("mkdir -p {0}/pkg {1} && echo 'X = 1' > {0}/pkg/x.py && ln -s {1} {0}/pkg/__pycache__".format(
        mine, elsewhere), user="demo")
    args = {"paths": [mine], "interpreter": VENV + "/bin/python", "state_dir": "/opt/appenv/app/.appenv-state/mine"}
    error = error_of(compile_as(host, "demo", **args))
    assert error["code"] == "tree_symlink" and mine + "/pkg/__pycache__" in error["title"], error
    assert host.exec(["ls", "-A", elsewhere]).stdout == ""
    host.sh("rm %s/pkg/__pycache__" % mine, user="demo")
    assert harness.assert_ok(compile_as(host, "demo", **args))["layer_action"] == "created"
    again = harness.assert_ok(compile_as(host, "demo", **args))
    assert (again["layer_action"], again["changed"], again["commands"]) == ("kept", False, [])
    assert host.exec(["ls", "-A", elsewhere]).stdout == ""
