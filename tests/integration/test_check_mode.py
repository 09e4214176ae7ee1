"""Check mode predicts the real run, task by task, with the same action and reasons; it writes nothing.

Every scenario is a play run twice by harness.check_then_real: in check mode, then for real. The chain is
the one the roles run (python_runtime -> pip_tooling -> app_dependencies -> pyc_compile), each downstream task
handed the registered result of the task it sits on (``upstream``), so a check run predicts what the chain
does, not what the disk held before the chain ran. One container for the module; each test starts from a
wiped host, so the tests do not depend on each other's order.
"""

import shlex

import pytest

from tests.integration import harness
from tests.integration.hosts import make_package_index, signed_cache, start_host
from tests.testbed import runtimes

pytestmark = pytest.mark.integration

RUNTIME = "/opt/appenv/python"
CACHE = "/var/cache/appenv-layers"
# Everything the chain writes lives below these; a check run and a no-op run change nothing in them.
WATCHED = ["/opt", "/var/lib", "/var/cache", "/srv"]
APPS = {
    # name: (installer, files, tools it needs, dest)
    "pip": ("pip", {"requirements.txt": "demo-alpha==1.0\ndemo-delta\n"}, (), "/opt/appenv/venv-pip"),
    "uv-pip": ("uv", {"requirements.txt": "demo-alpha==1.0\n"}, ("uv",), "/opt/appenv/venv-uv-pip"),
    "uv": ("auto", None, ("uv",), "/opt/appenv/venv-uv"),
    "poetry": ("auto", None, ("poetry",), "/opt/appenv/venv-poetry"),
    "pipenv": ("auto", None, ("pipenv",), "/opt/appenv/venv-pipenv"),
}


@pytest.fixture(scope="module")
def host(amd64_image):
    started = start_host(amd64_image, "x86_64", network="host")
    yield started
    started.container.remove()


@pytest.fixture(scope="module")
def index(index_server):
    root, base_url = index_server
    return make_package_index(root, base_url, ["x86_64"])


def wipe(host, keep_cache=False):
    """Back to a fresh host (the layers, their state, the apps; the layer cache too unless keep_cache)."""
    host.sh("rm -rf /opt/appenv /opt/.appenv* /var/lib/appenv /srv/app-*%s" % ("" if keep_cache else " " + CACHE))


def project_files(kind, index):
    if kind in ("uv", "poetry"):
        tool = ("[tool.uv]\npackage = false\n\n[[tool.uv.index]]\nname = \"local\"\nurl = \"%s/\"\ndefault = true\n"
                if kind == "uv" else
                "[tool.poetry]\npackage-mode = false\n\n[[tool.poetry.source]]\nname = \"local\"\nurl = \"%s/\"\n"
                "priority = \"primary\"\n") % index.simple_url
        return {"pyproject.toml": "[project]\nname = \"app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\n"
                                  "dependencies = [\"demo-alpha\"]\n\n" + tool}
    if kind == "pipenv":
        return {"Pipfile": "[[source]]\nname = \"local\"\nurl = \"%s/\"\nverify_ssl = false\n\n[packages]\n"
                           "demo-alpha = \"*\"\n" % index.simple_url}
    return APPS[kind][1]


def write_app(host, kind, index):
    """The app's files on the host (its project directory exists before the play, as a copied checkout would)."""
    root = "/srv/app-%s" % kind
    script = ["set -e", "mkdir -p %s/pkg" % root, "echo 'VALUE = 1' > %s/pkg/__init__.py" % root]
    for rel, text in project_files(kind, index).items():
        script.append("printf '%%s' %s > %s/%s" % (shlex.quote(text), root, rel))
    host.sh("\n".join(script))


LOCKS = {
    "uv": "UV_CACHE_DIR=/tmp/uc UV_PYTHON_DOWNLOADS=never /opt/appenv/tools/uv/bin/uv lock --python %s/bin/python3"
          % RUNTIME,
    "poetry": "POETRY_CACHE_DIR=/tmp/pc /opt/appenv/tools/poetry/bin/poetry lock --no-interaction",
    "pipenv": "PIPENV_VENV_IN_PROJECT=1 PIPENV_CACHE_DIR=/tmp/pc PIPENV_PYTHON=%s/bin/python3 "
              "/opt/appenv/tools/pipenv/bin/pipenv lock" % RUNTIME,
}


def lock_app(host, kind):
    host.sh("cd /srv/app-%s && %s" % (kind, LOCKS[kind]))


def chain(runtime_mirror, index, version="3.11", apps=("pip",), tools=(), cache=None):
    """The play the roles run, as module tasks: each downstream task is handed its upstream's result."""
    runtime_mirror.ensure(runtimes.exact_version(version), "x86_64")
    cached = {"layer_cache": signed_cache(path=cache)} if cache else {}
    tasks = [
        {"name": "runtime", "appenv.python.python_runtime": dict(
            version=version, mirror=runtime_mirror.base_url, release=runtime_mirror.tag, dest=RUNTIME, **cached),
         "register": "runtime"},
        {"name": "tooling", "appenv.python.pip_tooling": dict(
            runtime=RUNTIME, index_url=index.simple_url, tools=[{"name": name} for name in tools],
            upstream="{{ runtime }}", **cached),
         "register": "tooling"},
    ]
    for kind in apps:
        installer, _files, _tools, dest = APPS[kind]
        tasks.append({"name": "deps %s" % kind, "appenv.python.app_dependencies": dict(
            project_dir="/srv/app-%s" % kind, installer=installer, location="venv", dest=dest, runtime=RUNTIME,
            index_url=index.simple_url, upstream="{{ tooling }}", **cached),
            "register": "deps_" + kind.replace("-", "_")})
        tasks.append({"name": "pyc %s" % kind, "appenv.python.pyc_compile": dict(
            paths=["/srv/app-%s/pkg" % kind], interpreter="{{ deps_%s.python }}" % kind.replace("-", "_"),
            upstream="{{ deps_%s }}" % kind.replace("-", "_"), **cached)})
    return [{"hosts": "all", "gather_facts": False, "tasks": tasks}]


def snapshot(host):
    """Every entry under WATCHED with its type, mtime and ctime (atime is left out: reading is allowed)."""
    out = host.sh("find %s -xdev -printf '%%p %%y %%T@ %%C@\\n' 2>/dev/null; true" % " ".join(WATCHED)).stdout
    return dict(line.rsplit(" ", 3)[0:1] + [line] for line in out.splitlines() if line)


def changes(before, after):
    return sorted(set(after) ^ set(before)) + sorted(path for path in before if path in after and
                                                     before[path] != after[path])


def actions(report, host):
    return dict((result["_task"], result.get("layer_action")) for result in harness.task_results(report, host.name))


def assert_writes_nothing(host, playbook, check):
    """Run playbook (check mode or a no-op run): no entry appears, goes or has its mtime/ctime changed."""
    before = snapshot(host)
    assert before, "nothing to watch: the snapshot is empty"
    report = harness.run_playbook(playbook, [host], check=check)
    harness.decisions(report, host.name)  # the play reached the host and ran its tasks
    assert report["_rc"] == 0, report["_stderr"][-3000:]
    assert changes(before, snapshot(host)) == [], "a %s run wrote to the host" % ("check" if check else "no-op")
    return report


def check_writes_nothing_then_real(host, playbook):
    """harness.check_then_real on one host, the check run also watched by assert_writes_nothing's snapshot: one
    check run proves both that it wrote nothing and that it predicted the real run (two plays, not three)."""
    before = snapshot(host)
    assert before, "nothing to watch: the snapshot is empty"
    predicted = harness.run_playbook(playbook, [host], check=True)
    harness.decisions(predicted, host.name)  # the play reached the host and ran its tasks
    assert predicted["_rc"] == 0, predicted["_stderr"][-3000:]
    assert changes(before, snapshot(host)) == [], "a check run wrote to the host"
    real = harness.run_playbook(playbook, [host])
    harness.assert_same_decisions(predicted, real, host.name)
    return predicted, real


def test_the_chain_from_a_fresh_host_through_each_installer_to_a_no_op_is_predicted(host, index, runtime_mirror):
    """Fresh host, each installer, no-op: check mode predicts every task's action and reasons; check runs and
    no-op runs write nothing."""
    wipe(host)
    for kind in APPS:
        write_app(host, kind, index)
    fresh = chain(runtime_mirror, index, apps=["pip"], tools=("uv", "poetry", "pipenv"))
    # The check run writes nothing (no layer parent, no lock file on a fresh host) and predicts the real run.
    _predicted, real = check_writes_nothing_then_real(host, fresh)
    assert set(actions(real, host).values()) == {"created"}, actions(real, host)

    for kind in LOCKS:
        lock_app(host, kind)
    every = chain(runtime_mirror, index, apps=list(APPS), tools=("uv", "poetry", "pipenv"))
    _predicted, real = harness.check_then_real(every, [host])
    assert actions(real, host)["deps poetry"] == "created" and actions(real, host)["deps pip"] == "kept"

    # A no-op: every task kept, no process started, nothing written (the lock files keep their mtime).
    assert_writes_nothing(host, every, check=True)
    noop = assert_writes_nothing(host, every, check=False)
    for result in harness.task_results(noop, host.name):
        assert (result["changed"], result["layer_action"], result.get("commands")) == (False, "kept", []), result


def test_a_runtime_upgrade_under_installed_tools_and_dependencies_is_predicted(host, index, runtime_mirror):
    """The runtime changes under the installed chain: check mode predicts each downstream rebuild (it sits on
    the runtime the runtime task predicts, not on the one still on disk)."""
    wipe(host)
    for kind in ("pip", "uv-pip", "uv"):
        write_app(host, kind, index)
    # (uv only: the test bed's index holds poetry's and pipenv's compiled dependencies for 3.11 alone.)
    installed = chain(runtime_mirror, index, apps=["pip", "uv-pip"], tools=("uv",))
    assert harness.run_playbook(installed, [host])["_rc"] == 0
    lock_app(host, "uv")
    harness.check_then_real(chain(runtime_mirror, index, apps=["pip", "uv-pip", "uv"], tools=("uv",)), [host])
    upgrade = chain(runtime_mirror, index, "3.13", apps=["pip", "uv-pip", "uv"], tools=("uv",))
    _predicted, real = harness.check_then_real(upgrade, [host])
    assert actions(real, host)["runtime"] == "recreated"
    assert actions(real, host)["deps pip"] == "recreated" and actions(real, host)["pyc pip"] != "kept", \
        actions(real, host)


def test_a_fresh_host_with_a_warm_layer_cache_is_predicted_as_restores(host, index, runtime_mirror):
    """Fresh host + warm layer cache: check mode predicts the restores (a lookup is a read) and writes nothing."""
    wipe(host)
    write_app(host, "pip", index)
    play = chain(runtime_mirror, index, apps=["pip"], tools=("uv",), cache=CACHE)
    warm = harness.run_playbook(play, [host])
    assert set(actions(warm, host).values()) == {"created"}, actions(warm, host)
    wipe(host, keep_cache=True)
    write_app(host, "pip", index)
    _predicted, real = check_writes_nothing_then_real(host, play)
    assert set(actions(real, host).values()) == {"restored"}, actions(real, host)
