"""Every key a module returns is documented in its RETURN.

The integration harness (tests/integration/harness.py) holds every result of a real run to its module's RETURN
(`undocumented_keys`, in `task_results`), so each integration test checks the results it reads. Here: that check
fails on an undocumented key, and layer_cache_info's backend, which needs no host, is compared whole, nested keys
included.
"""

import ast

import pytest
import yaml

from ansible_collections.appenv.python.plugins.module_utils import _layer_cache_info
from tests.collection_path import REPO_ROOT
from tests.integration import harness
from tests.unit.plugins.module_utils.signed_caches import DirectoryCache
from tests.unit.plugins.module_utils.test__layer_cache_http import converge, fresh

MODULES = sorted(path.stem for path in (REPO_ROOT / "plugins" / "modules").glob("*.py") if path.stem != "__init__")


def _return_doc(module):
    tree = ast.parse((REPO_ROOT / "plugins" / "modules" / (module + ".py")).read_text())
    node, = [node for node in tree.body if isinstance(node, ast.Assign) and node.targets[0].id == "RETURN"]
    return yaml.safe_load(node.value.value)


@pytest.mark.parametrize("module", MODULES)
def test_return_documents_each_key_with_when_and_type(module):
    doc = _return_doc(module)
    assert harness.returned_keys(module) == frozenset(doc)
    for key, entry in doc.items():
        assert entry.get("description") and entry.get("returned") and entry.get("type"), (module, key)
    assert doc["error"]["returned"] == "failure"  # the titled error every module fails with


def test_an_undocumented_key_fails_the_harness_check():
    result = {"changed": False, "layer_action": "kept", "reasons": [], "commands": [], "surprise": 1,
              "_ansible_no_log": False, "invocation": {}}
    assert harness.undocumented_keys("appenv.python.pyc_compile", result) == ["surprise"]
    assert harness.undocumented_keys("appenv.python.pyc_compile", {"results": [result, {"item": 1}]}) == ["surprise"]
    assert harness.undocumented_keys("ansible.builtin.command", result) == []  # another collection's module


def test_a_result_of_documented_keys_passes_the_harness_check():
    doc = _return_doc("pip_tooling")
    result = dict((key, None) for key in doc)
    result.update(changed=True, msg="", warnings=[], diff=[], invocation={}, _ansible_no_log=False)
    assert harness.undocumented_keys("appenv.python.pip_tooling", result) == []


def test_layer_cache_info_returns_what_it_documents(tmp_path):
    cache = DirectoryCache(str(tmp_path / "cache"))
    converge(fresh(tmp_path), cache)
    result = _layer_cache_info.info({"path": str(tmp_path / "cache"), "url": None, "url_username": None,
                                     "url_password": None})
    doc = _return_doc("layer_cache_info")
    assert harness.undocumented_keys("appenv.python.layer_cache_info", result) == []
    assert set(result) - harness.ANSIBLE_RESULT_KEYS == set(doc) - {"error"}
    entry, = result["entries"]
    assert set(entry) == set(doc["entries"]["contains"])
    assert set(result["totals"]) == set(doc["totals"]["contains"])


def test_what_ansible_adds_about_a_returned_dest_is_allowed_only_beside_it():
    stats = {"owner": "root", "group": "root", "mode": "0755", "uid": 0, "gid": 0, "state": "directory", "size": 4096}
    assert harness.undocumented_keys("appenv.python.python_runtime", dict(stats, dest="/opt/appenv/python")) == []
    assert harness.undocumented_keys("appenv.python.pyc_compile", stats) == sorted(stats)
