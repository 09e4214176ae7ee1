"""The packaging tools and tool venvs as layers: their inputs, reasons, drift on disk, refusals and check mode.

The runtime is a tree under tmp_path with a python_runtime fingerprint; its interpreter wraps this test's Python.
pip_install is driven with this Python standing in for pip (``python -c <script>``): the argv it builds is what
the script prints.
"""

import json
import os
import platform
import sys

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _fingerprint, _index, _layer, _site, _tooling
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner

VERSION = platform.python_version()
MINOR = ".".join(VERSION.split(".")[:2])
TAG = sys.implementation.cache_tag
PINS = {"pip": "26.3", "setuptools": "80.9.0", "wheel": "0.45.1"}


def make_runtime(root, key="runtime-key-1", version=VERSION):
    os.makedirs(os.path.join(root, "bin"))
    os.makedirs(os.path.join(root, "lib", "python" + MINOR, "site-packages"))
    python = os.path.join(root, "bin", "python" + MINOR)
    with open(python, "w") as handle:
        handle.write('#!/bin/sh\nexec "%s" "$@"\n' % sys.executable)
    os.chmod(python, 0o755)
    with open(os.path.join(root, _fingerprint.FINGERPRINT_FILE), "w") as handle:
        json.dump({"kind": "python_runtime", "key": key, "inputs": {"python_version": version, "arch": "x86_64"},
                   "facts": {"purelib_rel": "lib/python%s/site-packages" % MINOR, "cache_tag": TAG}}, handle)
    return _site.Runtime(root, "pip_tooling")


def make_dist(site, name, version, files):
    """A distribution as an installer leaves it: its files and a dist-info with RECORD (paths relative to site)."""
    info = os.path.join(site, "%s-%s.dist-info" % (name.replace("-", "_"), version))
    os.makedirs(info)
    rows = []
    for rel in files:
        path = os.path.normpath(os.path.join(site, rel))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write("# %s\n" % rel)
        rows.append("%s,," % rel)
    rows.append("%s/RECORD,," % os.path.basename(info))
    with open(os.path.join(info, "RECORD"), "w") as handle:
        handle.write("\n".join(rows) + "\n")
    return info


def store(spec, facts, **inputs):
    """Write the fingerprint spec would write after a build (inputs overridden: an older build's)."""
    record = _layer.make_record(spec, facts)
    record["inputs"] = dict(record["inputs"], **inputs)
    _fingerprint.write_json_atomic(spec.state_path, record)
    return record


@pytest.fixture
def runtime(tmp_path):
    return make_runtime(str(tmp_path / "runtime"))


def params(runtime_root, tools_dir, tools=(), **overrides):
    values = dict(runtime=runtime_root, tools=list(tools), tools_dir=tools_dir, compile_bytecode=True,
                  bytecode_workers=1, retries=0, timeout=60, lock_timeout=5, **PINS)
    values.update(overrides)
    return values


# -- summarise ---------------------------------------------------------------------------

def _result(action, *reasons):
    return _layer.LayerResult(action, list(reasons), None, None, {}, "/layer")


def test_summarise_keeps_only_when_every_layer_is_kept():
    assert _tooling.summarise([("packaging", _result("kept")), ("uv", _result("kept"))]) == ("kept", [])


@pytest.mark.parametrize("actions, overall", [
    (["kept", "updated"], "updated"),
    (["updated", "restored"], "restored"),
    (["restored", "recreated", "kept"], "recreated"),
    (["recreated", "created"], "created"),
])
def test_summarise_reports_the_biggest_change(actions, overall):
    named = [("layer%d" % index, _result(action)) for index, action in enumerate(actions)]
    assert _tooling.summarise(named)[0] == overall


def test_summarise_names_each_reason_after_its_layer():
    action, reasons = _tooling.summarise([
        ("packaging", _result("recreated", "the runtime at /opt/py was reinstalled (Python 3.12.7)")),
        ("uv", _result("kept")),
        ("poetry", _result("created", "no tool_venv layer at /opt/tools/poetry yet", "second reason")),
    ])
    assert action == "created"
    assert reasons == ["packaging: the runtime at /opt/py was reinstalled (Python 3.12.7)",
                       "poetry: no tool_venv layer at /opt/tools/poetry yet", "poetry: second reason"]


# -- pip_install ------------------------------------------------------------------------------

_ECHO_ARGV = ("import json, os, sys; print(json.dumps([sys.argv[1:], os.environ.get('PIP_CONFIG_FILE'), "
              "dict((k, v) for k, v in os.environ.items() if k.endswith(('INDEX_URL', 'FIND_LINKS')))]))")


def test_pip_install_passes_the_index_options_then_the_specs():
    index = _index.IndexOptions("https://pypi.mirror.invalid/simple", ["https://extra.invalid/simple"],
                                ["/srv/wheels"], username="deploy", password="s3cret")
    result = _tooling.pip_install(CommandRunner(secrets=index.secrets), [sys.executable, "-c", _ECHO_ARGV],
                                  ["pip==26.3", "wheel==0.45.1"], index, "Installing pip", retries=0, timeout=60,
                                  env={"PIP_CONFIG_FILE": "/dev/null"})
    argv, config, env = json.loads(result.stdout)
    # the URLs with credentials by environment, never in argv (issue 16: /proc/<pid>/cmdline is world-readable)
    assert argv == ["install", "--no-compile", "--disable-pip-version-check", "--no-input",
                    "--no-warn-script-location",
                    "--find-links", "/srv/wheels",
                    "pip==26.3", "wheel==0.45.1"]
    assert env == {"PIP_INDEX_URL": "https://deploy:s3cret@pypi.mirror.invalid/simple",
                   "UV_INDEX_URL": "https://deploy:s3cret@pypi.mirror.invalid/simple",
                   "PIP_EXTRA_INDEX_URL": "https://deploy:s3cret@extra.invalid/simple",
                   "UV_EXTRA_INDEX_URL": "https://deploy:s3cret@extra.invalid/simple"}
    assert config == "/dev/null"


def test_pip_install_offline_uses_only_the_given_wheels():
    index = _index.IndexOptions("https://pypi.mirror.invalid/simple")
    result = _tooling.pip_install(CommandRunner(), [sys.executable, "-c", _ECHO_ARGV], ["pip==26.3"], index,
                                  "Installing pip", retries=0, timeout=60, offline_dir="/rt/ensurepip/_bundled")
    argv, _config, env = json.loads(result.stdout)
    assert env == {}
    assert argv[-4:] == ["--no-index", "--find-links", "/rt/ensurepip/_bundled", "pip==26.3"]
    assert "--index-url" not in argv


def test_a_failed_install_is_a_titled_error_without_the_password():
    index = _index.IndexOptions("https://pypi.mirror.invalid/simple", username="deploy", password="s3cret")
    script = ("import os, sys; sys.stderr.write('ERROR: No matching distribution found for demo==9 (from %s)\\n'"
              " % os.environ['PIP_INDEX_URL']); sys.exit(1)")
    runner = CommandRunner(secrets=index.secrets)
    with pytest.raises(AppenvError) as caught:
        _tooling.pip_install(runner, [sys.executable, "-c", script], ["demo==9"], index, "Installing demo 9",
                             retries=0, timeout=60)
    error = caught.value
    assert error.code == "tool_install_failed"
    assert error.title == "Installing demo 9 failed"
    assert error.fields["rc"] == 1
    assert "No matching distribution found for demo==9" in error.fields["output"]
    assert "s3cret" not in error.message
    assert "demo==9" in error.fields["command"] and "deploy" not in error.fields["command"]
    assert "***" in error.fields["output"]


def test_a_tool_install_is_retried_after_a_network_failure_not_after_others(tmp_path):
    from tests.unit.plugins.module_utils.test__runner import flaky_program

    index = _index.IndexOptions("https://pypi.mirror.invalid/simple")
    sleeps = []
    runner = CommandRunner(sleep=sleeps.append)
    flaky = flaky_program(tmp_path, 2, "ERROR: Could not install packages: Max retries exceeded with url: /simple/")
    assert _tooling.pip_install(runner, flaky, [], index, "Installing uv", retries=3, timeout=60).rc == 0
    assert sleeps == [1.0, 2.0] and len(runner.history) == 3
    runner = CommandRunner(sleep=sleeps.append)
    (tmp_path / "x").mkdir()
    with pytest.raises(AppenvError):
        _tooling.pip_install(runner, flaky_program(tmp_path / "x", 1, "ERROR: No matching distribution found"),
                             [], index, "Installing uv", retries=3, timeout=60)
    assert len(runner.history) == 1


# -- the packaging tools ----------------------------------------------------------------------------

def test_packaging_tools_live_in_the_runtime_and_skip_unpinned_ones(runtime):
    spec = _tooling.PackagingToolsSpec(runtime, {"pip": "26.3", "setuptools": "", "wheel": None},
                                       _index.IndexOptions())
    assert spec.packages == {"pip": "26.3"}
    assert spec.path == runtime.site_packages
    assert spec.state_path == os.path.join(runtime.root, ".appenv-pip-tooling.json")
    assert os.path.dirname(spec.lock_path()) == runtime.root
    assert spec.wanted["runtime"] == "runtime-key-1"
    assert spec.wanted["python_version"] == VERSION
    assert spec.wanted["bytecode"] == "unchecked-hash"
    assert _tooling.PackagingToolsSpec(runtime, PINS, _index.IndexOptions(),
                                       compile_bytecode=False).wanted["bytecode"] == "none"


def test_the_index_credentials_stay_out_of_the_fingerprint(runtime):
    index = _index.IndexOptions("https://pypi.mirror.invalid/simple", username="deploy", password="s3cret")
    spec = _tooling.PackagingToolsSpec(runtime, PINS, index)
    assert "s3cret" not in json.dumps(spec.wanted)
    assert spec.wanted["index"]["index_url"] == "https://***@pypi.mirror.invalid/simple"


def _installed_pins(runtime):
    site = runtime.site_packages
    make_dist(site, "pip", PINS["pip"], ["pip/__init__.py", "pip/_internal/main.py",
                                         "../../../bin/pip3", "../../../bin/pip%s" % MINOR])
    make_dist(site, "setuptools", PINS["setuptools"], ["setuptools/__init__.py"])
    make_dist(site, "wheel", PINS["wheel"], ["wheel/__init__.py"])
    make_dist(site, "packaging", "25.0", ["packaging/__init__.py"])
    return {"packages": dict(PINS), "distributions": dict(PINS, packaging="25.0")}


def test_packaging_tools_installed_as_recorded_are_kept(runtime):
    spec = _tooling.PackagingToolsSpec(runtime, PINS, _index.IndexOptions())
    store(spec, _installed_pins(runtime))
    assert _layer.decide(spec)[:2] == (_layer.ACTION_KEPT, [])


def test_a_damaged_dependency_of_pip_is_found(runtime):
    spec = _tooling.PackagingToolsSpec(runtime, PINS, _index.IndexOptions())
    store(spec, _installed_pins(runtime))
    os.unlink(os.path.join(runtime.site_packages, "packaging", "__init__.py"))
    action, reasons, _stored = _layer.decide(spec)
    assert action == _layer.ACTION_RECREATED
    assert reasons == ["the layer was changed on disk: packaging 25.0 is missing 1 of its files "
                       "(packaging/__init__.py)"]


def test_a_reinstalled_runtime_is_named_as_such(runtime):
    spec = _tooling.PackagingToolsSpec(runtime, PINS, _index.IndexOptions())
    store(spec, _installed_pins(runtime), runtime="runtime-key-0")
    action, reasons, _stored = _layer.decide(spec)
    assert (action, reasons) == (_layer.ACTION_RECREATED,
                                 ["the runtime at %s was reinstalled (Python %s)" % (runtime.root, VERSION)])


def test_a_new_pin_is_named(runtime):
    spec = _tooling.PackagingToolsSpec(runtime, PINS, _index.IndexOptions())
    store(spec, _installed_pins(runtime), packages=dict(PINS, pip="26.2"))
    action, reasons, _stored = _layer.decide(spec)
    assert action == _layer.ACTION_RECREATED
    assert reasons == ["Packaging tools changed from %s to %s" % (
        _layer.canonical_json(dict(PINS, pip="26.2")), _layer.canonical_json(PINS))]


def test_the_packaging_layer_is_the_files_of_its_distributions(runtime):
    facts = _installed_pins(runtime)
    pyc = os.path.join(runtime.site_packages, "pip", "__pycache__", "__init__.%s.pyc" % TAG)
    os.makedirs(os.path.dirname(pyc))
    open(pyc, "w").close()
    spec = _tooling.PackagingToolsSpec(runtime, {"pip": PINS["pip"]}, _index.IndexOptions())
    site = os.path.relpath(runtime.site_packages, runtime.root)
    assert spec.overlay_root() == runtime.root
    assert spec.overlay_files({"distributions": {"pip": PINS["pip"]}}) == sorted([
        "bin/pip3", "bin/pip" + MINOR,
        site + "/pip-%s.dist-info/RECORD" % PINS["pip"],
        site + "/pip/__init__.py", site + "/pip/__pycache__/__init__.%s.pyc" % TAG,
        site + "/pip/_internal/main.py",
    ])
    everything = spec.overlay_files(facts)
    assert site + "/packaging/__init__.py" in everything
    assert site + "/wheel/__init__.py" in everything


def test_a_packaging_layer_with_a_file_outside_the_runtime_cannot_be_cached(runtime):
    make_dist(runtime.site_packages, "pip", "26.3", ["pip/__init__.py", "../../../../outside/pip3"])
    spec = _tooling.PackagingToolsSpec(runtime, {"pip": "26.3"}, _index.IndexOptions())
    assert spec.overlay_files({"distributions": {"pip": "26.3"}}) is None


# -- tool venvs ---------------------------------------------------------------------------------

def _tool(runtime, tools_dir, name="uv", version="0.13.9", extras=()):
    return _tooling.ToolVenvSpec(runtime, tools_dir, name, version, list(extras), _index.IndexOptions())


def test_a_tool_pip_tooling_does_not_install_is_refused(runtime, tmp_path):
    with pytest.raises(AppenvError) as caught:
        _tool(runtime, str(tmp_path / "tools"), name="pdm")
    assert caught.value.code == "bad_argument"
    assert caught.value.fields["option"] == "tools"
    assert "'pdm' is not a tool pip_tooling installs" in caught.value.cause


def test_a_tool_venv_and_its_inputs(runtime, tmp_path):
    tools = str(tmp_path / "tools")
    spec = _tool(runtime, tools, name="poetry", version="2.5.1", extras=["poetry-plugin-export==1.10.1", "a==1"])
    assert spec.path == os.path.join(tools, "poetry")
    assert spec.executable == os.path.join(tools, "poetry", "bin", "poetry")
    assert spec.site_dir() == os.path.join(tools, "poetry", "lib", "python" + MINOR, "site-packages")
    assert spec.wanted["with"] == ["a==1", "poetry-plugin-export==1.10.1"]  # order does not matter
    assert (spec.wanted["tool"], spec.wanted["version"]) == ("poetry", "2.5.1")
    assert spec.wanted["runtime_path"] == runtime.root


def _installed_tool(spec):
    os.makedirs(os.path.join(spec.path, "bin"))
    os.symlink(spec.runtime.python, os.path.join(spec.path, "bin", "python"))
    with open(spec.executable, "w") as handle:
        handle.write("#!/bin/sh\n")
    os.chmod(spec.executable, 0o755)
    make_dist(spec.site_dir(), spec.name, spec.wanted["version"], ["%s/__init__.py" % spec.name])
    return {"packages": {spec.name: spec.wanted["version"]}, "executable": spec.executable}


def test_a_tool_venv_as_recorded_is_kept_and_a_missing_executable_found(runtime, tmp_path):
    spec = _tool(runtime, str(tmp_path / "tools"))
    store(spec, _installed_tool(spec))
    assert _layer.decide(spec)[:2] == (_layer.ACTION_KEPT, [])
    os.unlink(spec.executable)
    os.unlink(os.path.join(spec.path, "bin", "python"))
    action, reasons, _stored = _layer.decide(spec)
    assert action == _layer.ACTION_RECREATED
    assert reasons == [
        "the layer was changed on disk: its interpreter %s/bin/python does not start (the runtime moved?)" % spec.path,
        "the layer was changed on disk: %s is missing" % spec.executable,
    ]


def test_a_tool_venv_on_a_reinstalled_runtime_of_the_same_version(runtime, tmp_path):
    spec = _tool(runtime, str(tmp_path / "tools"))
    store(spec, _installed_tool(spec), runtime="runtime-key-0")
    assert _layer.decide(spec)[:2] == (_layer.ACTION_RECREATED, ["the runtime at %s was reinstalled" % runtime.root])


def test_a_tool_venv_on_another_python_names_each_change(runtime, tmp_path):
    spec = _tool(runtime, str(tmp_path / "tools"))
    store(spec, _installed_tool(spec), runtime="runtime-key-0", python_version="3.10.1")
    assert _layer.decide(spec)[:2] == (_layer.ACTION_RECREATED, [
        "Python version changed from 3.10.1 to %s" % VERSION,
        "Runtime fingerprint changed from runtime-key-0 to runtime-key-1",
    ])


# -- run_pip_tooling -----------------------------------------------------------------------------

def test_check_mode_before_the_runtime_exists_predicts_an_install(tmp_path):
    root = str(tmp_path / "no-runtime")
    result = _tooling.run_pip_tooling(params(root, str(tmp_path / "tools")), _index.IndexOptions(), CommandRunner(),
                                      check_mode=True)
    assert result["changed"] is True and result["layer_action"] == "created"
    assert result["reasons"] == ["no runtime at %s yet (check mode: an earlier task would install it); the tools "
                                 "would be installed" % root]
    assert not os.path.exists(root)


def test_without_a_runtime_it_is_a_titled_error(tmp_path):
    with pytest.raises(AppenvError) as caught:
        _tooling.run_pip_tooling(params(str(tmp_path / "no-runtime"), str(tmp_path / "tools")),
                                 _index.IndexOptions(), CommandRunner())
    assert caught.value.code == "runtime_missing"
    assert caught.value.fields["module"] == "pip_tooling"


def test_a_tool_listed_twice_is_refused_before_anything_runs(runtime, tmp_path):
    runner = CommandRunner()
    tools = [{"name": "uv", "version": None, "with": None}, {"name": "uv", "version": "0.13.0", "with": None}]
    with pytest.raises(AppenvError) as caught:
        _tooling.run_pip_tooling(params(runtime.root, str(tmp_path / "tools"), tools), _index.IndexOptions(), runner)
    assert caught.value.code == "bad_argument"
    assert caught.value.cause == "uv is listed twice"
    assert runner.history == []


def test_check_mode_predicts_every_layer_and_changes_nothing(runtime, tmp_path):
    tools_dir = str(tmp_path / "tools")
    runner = CommandRunner()
    tools = [{"name": "uv", "version": "0.13.0", "with": None}, {"name": "poetry", "version": None, "with": None}]
    result = _tooling.run_pip_tooling(params(runtime.root, tools_dir, tools), _index.IndexOptions(), runner,
                                      check_mode=True, diff=True)
    assert result["changed"] is True and result["layer_action"] == "created"
    assert result["reasons"] == [
        "packaging: no pip_tooling layer at %s yet" % runtime.site_packages,
        "uv: no tool_venv layer at %s yet" % os.path.join(tools_dir, "uv"),
        "poetry: no tool_venv layer at %s yet" % os.path.join(tools_dir, "poetry"),
    ]
    assert [(layer["name"], layer["layer_action"]) for layer in result["layers"]] == [
        ("packaging", "created"), ("uv", "created"), ("poetry", "created")]
    assert result["packages"] == PINS
    assert result["interpreter"] == result["python"] == runtime.python
    assert result["tools"]["uv"] == {"version": "0.13.0", "venv": os.path.join(tools_dir, "uv"),
                                     "executable": os.path.join(tools_dir, "uv", "bin", "uv")}
    assert result["tools"]["poetry"]["version"]  # the collection's default pin
    assert len(result["diff"]) == 3 and result["diff"][0]["before"] == ""
    assert runner.history == []
    assert _site.installed(runtime.site_packages) == {}
    assert not os.path.exists(os.path.join(tools_dir, "uv"))
    assert not os.path.exists(os.path.join(runtime.root, ".appenv-pip-tooling.json"))


def test_a_second_run_keeps_everything_without_a_process(runtime, tmp_path):
    tools_dir = str(tmp_path / "tools")
    facts = _installed_pins(runtime)
    store(_tooling.PackagingToolsSpec(runtime, PINS, _index.IndexOptions(), True, 1, 0, 60), facts)
    uv = _tooling.ToolVenvSpec(runtime, tools_dir, "uv", "0.13.0", [], _index.IndexOptions(), True, 1, 0, 60)
    store(uv, _installed_tool(uv))
    runner = CommandRunner()
    result = _tooling.run_pip_tooling(params(runtime.root, tools_dir, [{"name": "uv", "version": "0.13.0",
                                                                        "with": []}]),
                                      _index.IndexOptions(), runner)
    assert (result["changed"], result["layer_action"], result["reasons"]) == (False, "kept", [])
    assert result["packages"] == PINS
    assert [layer["layer_action"] for layer in result["layers"]] == ["kept", "kept"]
    assert runner.history == []


def test_a_cached_packaging_record_may_list_only_site_packages_and_bin(runtime):
    spec = _tooling.PackagingToolsSpec(runtime, PINS, _index.IndexOptions())
    site = os.path.relpath(runtime.site_packages, runtime.root)
    ours = [site + "/pip/__init__.py", site + "/pip-26.3.dist-info/RECORD", "bin/pip", "bin/pip3"]
    foreign = ["lib/libpython3.so", "bin/../lib/x", "include/python.h", site + "-x/evil.pth"]
    assert spec.overlay_unexpected(ours + foreign) == foreign[:1] + foreign[2:]
