"""appenv.python.engine runs each module of the collection as that module's own file does (module_utils/_modules.py):
the same answer for the same task, named after the module, importing only that module's backend."""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.appenv.python.plugins.module_utils._modules import NAMES, SELECTOR
from tests.collection_path import COLLECTIONS_DIR, REPO_ROOT

MODULES = REPO_ROOT / "plugins" / "modules"
# Run a module file as Ansible's debugging entry point does (its arguments in a file), then list the collection's
# module_utils the process imported (after exit_json/fail_json, which end the process with SystemExit).
_RUN = """
import runpy, sys
path = sys.argv[1]
sys.argv = [path, sys.argv[2]]
try:
    runpy.run_path(path, run_name="__main__")
except SystemExit:
    pass
prefix = "ansible_collections.appenv.python.plugins.module_utils."
print("\\nIMPORTED " + " ".join(sorted(name[len(prefix):] for name in sys.modules if name.startswith(prefix))))
"""
REQUIRED = {"app_dependencies": {"project_dir": "/srv/app"}, "pyc_compile": {"paths": ["/srv/app"]},
            "app_code": {"src": "/srv/app", "dest": "/srv/app"}}
BACKENDS = {"python_runtime": "_runtime", "pip_tooling": "_tooling", "app_dependencies": "_deps",
            "pyc_compile": "_pyc_layer", "app_code": "_code"}


def _run(tmp_path, module_file, args):
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(COLLECTIONS_DIR)] + sys.path))
    proc = subprocess.run([sys.executable, "-c", _RUN, str(module_file), str(args_file)], capture_output=True,
                          text=True, env=env, check=False, timeout=120, cwd=str(tmp_path))
    out, _sep, imported = proc.stdout.rpartition("\nIMPORTED ")
    assert out.strip(), proc.stderr
    return json.loads(out.strip().splitlines()[-1]), set(imported.split())


def test_backends_cover_every_module():
    assert sorted(BACKENDS) == sorted(NAMES)


def test_pyc_compile_through_the_engine_is_the_module_itself(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "mod.py").write_text("X = 1\n")
    args = {"paths": [str(src)], "interpreter": sys.executable, "state_dir": str(tmp_path / "state"),
            "_ansible_check_mode": True, "_ansible_module_name": "appenv.python.pyc_compile"}
    own = _run(tmp_path, MODULES / "pyc_compile.py", args)[0]
    engine, imported = _run(tmp_path, MODULES / "engine.py", dict(args, **{SELECTOR: "pyc_compile"}))
    assert "_pyc_layer" in imported and not imported & {"_deps", "_runtime", "_tooling", "_code"}
    assert own["layer_action"] == "created" and own["changed"] is True, own
    for result in (own, engine):  # the commands' durations differ from run to run
        for command in result["commands"]:
            command.pop("seconds")
    assert engine == own  # its invocation too: the name of the module is not one of its options
    # Where Ansible has modules return their invocation (not 2.21's default), the module name is not in it.
    assert SELECTOR not in engine.get("invocation", {}).get("module_args", {})
    assert not (src / "__pycache__").exists()  # check mode


@pytest.mark.parametrize("name", NAMES)
def test_a_bad_argument_through_the_engine_names_the_module_and_its_options(tmp_path, name):
    args = dict(REQUIRED.get(name, {}), no_such_option=1, _ansible_module_name="appenv.python." + name)
    own = _run(tmp_path, MODULES / (name + ".py"), args)[0]
    engine, imported = _run(tmp_path, MODULES / "engine.py", dict(args, **{SELECTOR: name}))
    assert own["failed"] and "Unsupported parameters for (appenv.python.%s) module: no_such_option" % name in own["msg"]
    assert engine["msg"].replace("_module, ", "") == own["msg"]
    # A module process compiles only its own backend (AnsiballZ sends sources): none of the others'.
    others = set(BACKENDS.values()) - {BACKENDS[name]}
    assert not imported & others, imported & others


def test_run_by_hand_the_engine_takes_nothing_and_names_the_modules(tmp_path):
    result, imported = _run(tmp_path, MODULES / "engine.py", {"paths": ["/srv/app"]})
    assert result["failed"] and "Unsupported parameters for " in result["msg"] and "module: paths" in result["msg"]
    result = _run(tmp_path, MODULES / "engine.py", {SELECTOR: "ansible.builtin.command"})[0]
    assert result["failed"] and "Unsupported parameters" in result["msg"]
    result = _run(tmp_path, MODULES / "engine.py", {})[0]
    assert result["failed"] and all(name in result["msg"] for name in NAMES), result["msg"]
    assert not imported & set(BACKENDS.values())
