"""The collection builds, installs, and every module's documentation renders with ansible-doc."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.collection_path import REPO_ROOT

BIN = Path(sys.executable).parent
MODULES = sorted(path.stem for path in (REPO_ROOT / "plugins" / "modules").glob("*.py") if path.stem != "__init__")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(REPO_ROOT)],
                   check=True, capture_output=True, text=True)
    tarball = next(out.glob("appenv-python-*.tar.gz"))
    target = tmp_path_factory.mktemp("collections")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(target))
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--force", "-p", str(target), str(tarball)],
                   check=True, capture_output=True, text=True, env=env)
    assert (target / "ansible_collections" / "appenv" / "python" / "MANIFEST.json").is_file()
    return tarball, target


def test_tarball_holds_the_collection_and_nothing_else(installed):
    tarball, _target = installed
    with tarfile.open(tarball) as tar:
        members = tar.getmembers()
    names = [member.name for member in members]
    assert "galaxy.yml" not in names and "MANIFEST.json" in names
    assert "plugins/module_utils/_layer.py" in names
    assert "LICENSES/GPL-3.0-or-later.txt" in names  # what every file header points to
    for banned in (".venv/", ".build/", ".cache/", "tests/output/", ".git/", "bench/", "extensions/molecule/", "tests/testbed/",
                   "tests/integration/", "docs/images/"):
        assert not [name for name in names if name.startswith(banned)], banned
    assert not [name for name in names if name.endswith(".png")]
    assert max(member.size for member in members) < 5 * 1024 * 1024


def test_every_file_header_points_to_a_licence_that_ships():
    for path in sorted(REPO_ROOT.glob("plugins/**/*.py")):
        if "LICENSES/" in path.read_text():
            assert (REPO_ROOT / "LICENSES" / "GPL-3.0-or-later.txt").is_file(), path
    assert "GNU GENERAL PUBLIC LICENSE" in (REPO_ROOT / "LICENSES" / "GPL-3.0-or-later.txt").read_text()
    assert "Version 3" in (REPO_ROOT / "LICENSES" / "GPL-3.0-or-later.txt").read_text()


def test_galaxy_metadata_names_no_placeholder():
    text = (REPO_ROOT / "galaxy.yml").read_text()
    assert ".invalid" not in text and "example." not in text


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders(installed, module):
    _tarball, target = installed
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(target), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(BIN / "ansible-doc"), "-t", "module", "appenv.python." + module], env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    # The engine takes no option of its own (its action plugins hand it each module's, plugins/modules/engine.py).
    assert "appenv.python." + module in proc.stdout and ("OPTIONS" in proc.stdout) == (module != "engine")


def _doc(installed, module):
    """The module's documentation as ansible-doc merges it (doc fragments included)."""
    _tarball, target = installed
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(target), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(BIN / "ansible-doc"), "-t", "module", "--json", "appenv.python." + module], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)["appenv.python." + module]


@pytest.mark.parametrize("module", MODULES)
def test_every_module_states_its_attributes_and_requirements(installed, module):
    """check_mode, diff_mode and platform as attributes (not notes); the module_defaults groups it is in, as
    meta/runtime.yml has them; what it needs on the host."""
    doc = _doc(installed, module)["doc"]
    attributes = doc["attributes"]
    for name in ("check_mode", "diff_mode", "platform"):
        assert attributes[name]["description"] and attributes[name]["support"] in ("full", "partial", "none", "N/A")
    assert attributes["check_mode"]["support"] == "full"
    assert attributes["platform"]["platforms"] == "posix"
    groups = sorted("appenv.python." + group for group, members in GROUPS.items() if module in members)
    assert sorted((attributes.get("action_group") or {}).get("membership", [])) == groups
    has_action_plugin = (REPO_ROOT / "plugins" / "action" / (module + ".py")).is_file()
    assert (attributes.get("action", {}).get("support") == "full") == has_action_plugin
    assert not [note for note in doc.get("notes", []) if "check mode" in note.lower() or "diff mode" in note.lower()]
    if module != "layer_cache_info":
        assert doc["requirements"]


def test_ansible_doc_lists_every_module(installed):
    _tarball, target = installed
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(target), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(BIN / "ansible-doc"), "-t", "module", "--list", "appenv.python"], env=env,
                          capture_output=True, text=True, check=True)
    for module in MODULES:
        assert "appenv.python." + module in proc.stdout


def _play(installed, tmp_path, defaults, task):
    _tarball, target = installed
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "module_defaults": defaults,
                                         "tasks": [task]}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(target), ANSIBLE_NOCOLOR="1")
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e",
                           "ansible_python_interpreter=" + sys.executable, str(playbook)],
                          env=env, capture_output=True, text=True, check=False, cwd=str(tmp_path))


GROUPS = yaml.safe_load((REPO_ROOT / "meta" / "runtime.yml").read_text())["action_groups"]


def test_module_defaults_groups_hold_the_modules_that_share_their_options():
    # app_code takes no layer_cache (its content comes from the controller), which the layer group's defaults set;
    # the engine is not for plays (its action plugins hand it their module's task, defaults included).
    assert sorted(GROUPS["layer"]) == sorted(set(MODULES) - {"layer_cache_info", "app_code", "engine"})
    assert sorted(GROUPS["network"]) == ["app_dependencies", "pip_tooling", "python_runtime"]
    assert sorted(GROUPS["index"]) == ["app_dependencies", "pip_tooling"]


# The action plugins (python_runtime, app_dependencies) check the arguments with their module's spec first: an option
# no module takes fails there as the module would fail.
@pytest.mark.parametrize("group, module", [(group, module) for group in sorted(GROUPS) for module in GROUPS[group]])
def test_module_defaults_group_reaches_its_modules(installed, tmp_path, group, module):
    """meta/runtime.yml's action groups: what is set once under group/appenv.python.<group> reaches every module of
    the group (an option no module takes makes each one refuse it by name, before it does anything)."""
    required = {"app_dependencies": {"project_dir": str(tmp_path)}, "pyc_compile": {"paths": [str(tmp_path)]}}
    proc = _play(installed, tmp_path, {"group/appenv.python." + group: {"no_such_option": 1}},
                 {"appenv.python." + module: required.get(module, {})})
    assert proc.returncode != 0
    assert "Unsupported parameters for (appenv.python.%s) module: no_such_option" % module in proc.stdout, proc.stdout


def test_module_defaults_group_sets_an_option(installed, tmp_path):
    """A real option through the layer group: pyc_compile gets lock_timeout from it (a wrong type fails naming it)."""
    (tmp_path / "src").mkdir()
    task = {"appenv.python.pyc_compile": {"paths": [str(tmp_path / "src")], "state_dir": str(tmp_path / "state"),
                                          "interpreter": sys.executable}}
    proc = _play(installed, tmp_path, {"group/appenv.python.layer": {"lock_timeout": "soon"}}, task)
    assert proc.returncode != 0 and "lock_timeout" in proc.stdout, proc.stdout
    proc = _play(installed, tmp_path, {"group/appenv.python.layer": {"lock_timeout": 60}}, task)
    assert proc.returncode == 0, proc.stdout


def test_module_defaults_group_spares_modules_outside_it(installed, tmp_path):
    """layer_cache_info is in no group: a layer group's defaults do not reach it (it would refuse them)."""
    (tmp_path / "cache").mkdir()
    proc = _play(installed, tmp_path, {"group/appenv.python.layer": {"timeout": 5}},
                 {"appenv.python.layer_cache_info": {"path": str(tmp_path / "cache")}})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_renamed_option_keeps_working_under_its_old_name_with_a_deprecation(installed, tmp_path):
    """pyc_compile's workers is bytecode_workers now (the other modules' name); the old name is an alias that warns."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("A = 1\n")
    task = {"appenv.python.pyc_compile": {"paths": [str(tmp_path / "src")], "state_dir": str(tmp_path / "state"),
                                          "interpreter": sys.executable, "workers": 1}}
    proc = _play(installed, tmp_path, {}, task)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "workers" in proc.stderr + proc.stdout and "deprecat" in (proc.stderr + proc.stdout).lower()
    assert (tmp_path / "src" / "__pycache__").is_dir()


@pytest.mark.parametrize("given, expected", [({}, []), ({"appenv_app_groups": ["docs"]}, ["docs"]),
                                             ({"appenv_app_dependency_groups": ["dev"]}, ["dev"])])
def test_the_app_roles_dependency_groups_keep_their_old_name(installed, tmp_path, given, expected):
    """appenv_app_dependency_groups (renamed from appenv_app_groups, beside appenv_app_group, the Unix group): the old
    name still fills it, through the role's own defaults and argument check."""
    task = {"ansible.builtin.include_role": {"name": "appenv.python.app", "tasks_from": "validate", "public": True},
            "vars": given}
    check = {"ansible.builtin.assert": {"that": ["appenv_app_dependency_groups == %r" % (expected,)]}, "vars": given}
    _tarball, target = installed
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [task, check]}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(target), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e",
                           "ansible_python_interpreter=" + sys.executable, str(playbook)],
                          env=env, capture_output=True, text=True, check=False, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
