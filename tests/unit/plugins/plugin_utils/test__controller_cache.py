"""The controller-side layer cache: what crosses the connection, when, and what the controller keeps.

The action plugin's Ansible half (connection, shell, module execution) is a stand-in working on local
directories; the module it runs is a real layer converged by the engine with a real directory cache.
"""

import json
import os
import shlex
import shutil
import tempfile

from ansible_collections.appenv.python.plugins.module_utils import _layer, _layer_cache_options
from tests.unit.plugins.module_utils.signed_caches import TEST_HMAC_KEY, DirectoryCache
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner
from ansible_collections.appenv.python.plugins.plugin_utils import _controller_cache as controller

from tests.unit.plugins.module_utils.test__layer import ToyLayer, payload


def toy_module(args, check_mode):
    """A module with a layer and a layer_cache option, as python_runtime and app_dependencies have."""
    spec = ToyLayer(args["dest"], args["version"])
    if args.get("_decide_only"):
        action, reasons, _stored = _layer.decide(spec)
        return {"changed": False, _layer.ACTION_KEY: action, "reasons": reasons,
                "key": _layer.make_record(spec, {})["key"]}
    cache = _layer_cache_options.from_options(args.get("layer_cache"))
    return _layer.converge(spec, CommandRunner(), check_mode=check_mode, cache=cache).as_result()


class Shell:
    quote = staticmethod(shlex.quote)
    join_path = staticmethod(os.path.join)


class Connection:
    _shell = Shell()

    def __init__(self, damage=None, become=None):
        self.damage = damage
        self.become = become
        self.fetched = []

    def fetch_file(self, remote, local):
        shutil.copyfile(remote, local)
        self.fetched.append(os.path.basename(remote))
        self.fetched_from = getattr(self, "fetched_from", []) + [os.path.basename(os.path.dirname(remote))]
        if self.damage is not None and self.damage(local):
            with open(local, "r+b") as handle:
                handle.truncate(10)


class Task:
    def __init__(self, check_mode):
        self.check_mode = check_mode


class Action:
    """The parts of ActionBase the controller cache uses; the host's files are local directories."""

    def __init__(self, host_tmp, check_mode=False, mktemp_fails=False, damage=None, login=None, become_user=None):
        self._task = Task(check_mode)
        self._connection = Connection(damage, become=object() if become_user else None)
        self.login, self.become_user = login, become_user
        self.host_tmp = str(host_tmp)
        os.makedirs(self.host_tmp, exist_ok=True)
        self.mktemp_fails = mktemp_fails
        self.modules = []
        self.transferred = []
        self.transferred_to = []  # the top directory under the host's /tmp each file was put into
        self.commands = []

    def _execute_module(self, module_name, module_args, task_vars):
        self.modules.append(dict(module_args))
        return toy_module(module_args, self._task.check_mode)

    def _low_level_execute_command(self, cmd, sudoable=False):
        argv = shlex.split(cmd)
        self.commands.append(argv[0])
        if argv[0] == "mktemp":
            if self.mktemp_fails or ("crossing" in cmd and getattr(self, "crossing_fails", False)):
                return {"rc": 1, "stdout": "", "stderr": "mktemp: failed"}
            prefix = "appenv-layer-cache-crossing." if "crossing" in cmd else "appenv-layer-cache."
            assert sudoable == (prefix == "appenv-layer-cache.")  # the crossing is the login user's own
            return {"rc": 0, "stdout": tempfile.mkdtemp(prefix=prefix, dir=self.host_tmp) + "\n"}
        if argv[0] == "cp":  # as the become user: into the cache, or handed to the login user (chown not faked)
            assert sudoable
            shutil.copy(argv[1], argv[2])
        if argv[:2] == ["mkdir", "-p"]:
            os.makedirs(argv[2], exist_ok=True)
        elif argv[:2] == ["rm", "-rf"]:
            shutil.rmtree(argv[2], ignore_errors=True)
        return {"rc": 0, "stdout": ""}

    def _transfer_file(self, local, remote):
        shutil.copyfile(local, remote)
        self.transferred.append(os.path.basename(remote))
        self.transferred_to.append(os.path.relpath(remote, self.host_tmp).split(os.sep, maxsplit=1)[0])

    def _get_remote_user(self):
        return self.login

    def get_become_option(self, name):
        assert name == "become_user"
        return self.become_user

    def _fixup_perms2(self, paths, execute=True):
        self.commands.append("fixup")


def run(action, tmp_path, version="1", **cache):
    options = dict({"controller_path": str(tmp_path / "controller"), "compression": "auto", "hmac_key": TEST_HMAC_KEY},
                   **cache)
    args = {"dest": str(tmp_path / "host" / "layer"), "version": version, "layer_cache": options}
    return controller.run_module_with_controller_cache(action, "toy", args, {}, options)


def key_of(tmp_path, version="1"):
    return _layer.make_record(ToyLayer(tmp_path / "host" / "layer", version), {})["key"]


def files_under(path):
    return sorted(os.path.relpath(os.path.join(d, name), str(path)) for d, _s, names in os.walk(str(path))
                  for name in names)


def test_a_built_layer_comes_back_and_the_next_fresh_host_restores_it(tmp_path):
    key = key_of(tmp_path)
    first = Action(tmp_path / "host-tmp")
    result = run(first, tmp_path)
    assert result["layer_action"] == "created" and "warnings" not in result
    assert [args.get("_decide_only") for args in first.modules] == [True, None]
    assert first.modules[1]["layer_cache"]["compression"] == "gzip"  # auto: it crosses the connection
    assert first.transferred == [] and first._connection.fetched == [key + ".json", key + ".tar.gz"]
    assert files_under(tmp_path / "controller") == [key[:2] + "/" + key + suffix
                                                    for suffix in (".json", ".lock", ".tar.gz")]
    assert os.listdir(first.host_tmp) == []  # the host's temporary cache is gone

    shutil.rmtree(str(tmp_path / "host"))  # the next host is new
    second = Action(tmp_path / "host-tmp")
    result = run(second, tmp_path)
    root = str(tmp_path / "controller")
    assert result["layer_action"] == "restored" and payload(tmp_path / "host" / "layer") == "1"
    assert result["reasons"][-1].startswith("restored from the controller's layer cache %s" % root)
    assert sorted(second.transferred) == [key + ".json", key + ".tar.gz"] and second._connection.fetched == []
    assert DirectoryCache(root).entries()[0]["hits"] == 1
    assert os.listdir(second.host_tmp) == []

    third = Action(tmp_path / "host-tmp")
    result = run(third, tmp_path)
    assert result["layer_action"] == "kept" and third.commands == [] and third.transferred == []
    assert "path" not in third.modules[1]["layer_cache"]  # the module runs with the task's own arguments


def test_a_login_user_that_becomes_root_hands_files_through_its_own_directory(tmp_path):
    """ssh as an admin user, become root: the module's temporary cache (root's, 0700) holds only files root copied
    in, and what the module stored there reaches the login user through the login user's own directory."""
    key = key_of(tmp_path)
    first = Action(tmp_path / "host-tmp", login="admin", become_user="root")
    assert run(first, tmp_path)["layer_action"] == "created"
    assert first._connection.fetched == [key + ".json", key + ".tar.gz"]
    assert all(directory.startswith("appenv-layer-cache-crossing.") for directory in first._connection.fetched_from)
    assert first.commands.count("cp") == 2 and os.listdir(first.host_tmp) == []

    shutil.rmtree(str(tmp_path / "host"))
    second = Action(tmp_path / "host-tmp", login="admin", become_user="root")
    result = run(second, tmp_path)
    assert result["layer_action"] == "restored" and payload(tmp_path / "host" / "layer") == "1"
    assert sorted(second.transferred) == [key + ".json", key + ".tar.gz"]
    assert all(directory.startswith("appenv-layer-cache-crossing.") for directory in second.transferred_to)  # never root's directory
    assert second.commands.count("fixup") == 2 and second.commands.count("cp") == 2
    assert os.listdir(second.host_tmp) == []  # both directories are gone

    # Logged in as root, or becoming the login user itself: files go straight into the temporary cache.
    for login, become_user in (("root", "app"), ("admin", "admin"), (None, "root")):
        shutil.rmtree(str(tmp_path / "host"))
        direct = Action(tmp_path / "host-tmp", login=login, become_user=become_user)
        assert run(direct, tmp_path)["layer_action"] == "restored"
        assert all(directory.startswith("appenv-layer-cache.") for directory in direct.transferred_to)
        assert "cp" not in direct.commands


def test_an_entry_that_cannot_be_put_on_the_host_is_a_warning_and_a_build(tmp_path):
    run(Action(tmp_path / "host-tmp"), tmp_path)
    shutil.rmtree(str(tmp_path / "host"))
    failing = Action(tmp_path / "host-tmp", login="admin", become_user="root")
    failing.crossing_fails = True
    result = run(failing, tmp_path)
    assert result["layer_action"] == "created" and payload(tmp_path / "host" / "layer") == "1"
    assert any("could not be put on the host" in warning for warning in result["warnings"]), result
    assert os.listdir(failing.host_tmp) == []


def test_check_mode_predicts_a_restore_and_touches_nothing(tmp_path):
    run(Action(tmp_path / "host-tmp"), tmp_path)
    shutil.rmtree(str(tmp_path / "host"))
    before = files_under(tmp_path / "controller")
    checking = Action(tmp_path / "host-tmp", check_mode=True)
    result = run(checking, tmp_path)
    assert result["layer_action"] == "restored" and not os.path.exists(str(tmp_path / "host" / "layer"))
    assert result["reasons"][-1] == "restored from the controller's layer cache %s" % (tmp_path / "controller")
    assert checking.commands == [] and checking.transferred == []
    assert files_under(tmp_path / "controller") == before

    missing = run(Action(tmp_path / "host-tmp", check_mode=True), tmp_path, version="2")
    assert missing["layer_action"] == "created" and "controller" not in " ".join(missing["reasons"])


def test_a_layer_that_arrives_damaged_is_not_kept(tmp_path):
    action = Action(tmp_path / "host-tmp", damage=lambda path: path.endswith(".tar.gz"))
    result = run(action, tmp_path)
    assert result["layer_action"] == "created"
    assert result["warnings"] == [controller.NOT_WHOLE]
    assert DirectoryCache(str(tmp_path / "controller")).entries() == []
    assert [name for name in files_under(tmp_path / "controller") if ".fetch-" in name] == []


def test_a_damaged_controller_entry_is_replaced_by_the_rebuilt_layer(tmp_path):
    run(Action(tmp_path / "host-tmp"), tmp_path)
    key = key_of(tmp_path)
    local = DirectoryCache(str(tmp_path / "controller"), compression="gzip")
    archive, _meta = local.entry_files(key, local.lookup(key))
    data = bytearray(open(archive, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(archive, "wb").write(bytes(data))  # same size: it looks whole and crosses the connection

    shutil.rmtree(str(tmp_path / "host"))
    action = Action(tmp_path / "host-tmp")
    result = run(action, tmp_path)
    assert result["layer_action"] == "created" and "was discarded" in result["warnings"][0]
    assert action._connection.fetched == [key + ".json", key + ".tar.gz"]
    meta = local.lookup(key)
    assert meta is not None and _layer.file_sha256(archive) == meta["sha256"]


def test_no_temporary_directory_on_the_host_builds_with_a_warning(tmp_path):
    action = Action(tmp_path / "host-tmp", mktemp_fails=True)
    result = run(action, tmp_path)
    assert result["layer_action"] == "created" and "no temporary directory" in result["warnings"][0]
    assert "path" not in action.modules[1]["layer_cache"] and action._connection.fetched == []


def test_reasons_name_the_controllers_cache():
    assert controller.controller_reasons(["Toy version changed", "restored from the layer cache /tmp/x"], "/c") == [
        "Toy version changed", "restored from the controller's layer cache /c /tmp/x"]
    predicted = controller.predict_restore({"layer_action": "created", "reasons": ["no layer yet"]}, "/c")
    assert predicted == {"layer_action": "restored", "action": "restored",
                         "reasons": ["no layer yet", "restored from the controller's layer cache /c"]}


class CompromisedAction(Action):
    """A host whose module answers the controller's question with a path of its choosing instead of a key."""

    def __init__(self, host_tmp, hostile):
        super(CompromisedAction, self).__init__(host_tmp)
        self.hostile = hostile

    def _execute_module(self, module_name, module_args, task_vars):
        result = super(CompromisedAction, self)._execute_module(module_name, module_args, task_vars)
        if module_args.get("_decide_only"):
            result["key"] = self.hostile
        return result


def test_a_key_that_is_not_a_hex_digest_is_refused_before_any_path_is_made(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "settings.json").write_text("{}")
    for hostile in (str(victim / "settings"), "../../victim/settings", "ab/" + "0" * 61, "AB" * 32, ["ab" * 32], None):
        action = CompromisedAction(tmp_path / "host-tmp", hostile)
        result = run(action, tmp_path)
        if hostile is None:  # no key: the module runs as it is, without the controller's cache
            assert result["layer_action"] == "created"
            continue
        assert result["failed"] is True and result["error"]["code"] == "layer_cache_bad_key", result
        assert len(action.modules) == 1 and action.commands == [] and action.transferred == []
        assert action._connection.fetched == []
    assert sorted(os.listdir(str(victim))) == ["settings.json"] and (victim / "settings.json").read_text() == "{}"
    assert not (tmp_path / "controller").exists() or files_under(tmp_path / "controller") == []


def test_what_comes_back_is_fetched_to_fixed_names_and_adopted_only_for_its_key(tmp_path):
    """The host's answer may name another key, or be unsigned: the controller keeps neither."""
    run(Action(tmp_path / "host-tmp"), tmp_path, version="2")
    local = DirectoryCache(str(tmp_path / "controller"), compression="gzip")
    other_key = key_of(tmp_path, "2")
    other_archive, other_meta = local.entry_files(other_key, local.lookup(other_key))
    key = key_of(tmp_path, "1")
    destinations = []

    def fetch_other(name, dest):
        destinations.append(os.path.basename(dest))
        shutil.copyfile(other_meta if name.endswith(".json") else other_archive, dest)

    controller.adopt_fetched(local, key, fetch_other)
    assert destinations == ["entry.json"]  # never a name the host chose
    assert "another key or without a valid signature" in local.warnings[-1]
    assert local.lookup(key) is None

    def fetch_unsigned(name, dest):
        destinations.append(os.path.basename(dest))
        source = other_meta if name.endswith(".json") else other_archive
        if name.endswith(".json"):
            meta = json.loads(open(source).read())
            meta.pop("signatures")
            meta["key"] = key
            with open(dest, "w") as handle:
                json.dump(meta, handle)
        else:
            shutil.copyfile(source, dest)

    controller.adopt_fetched(local, key, fetch_unsigned)
    assert destinations[1:] == ["entry.json"] and local.lookup(key) is None
    assert [name for name in files_under(tmp_path / "controller") if ".fetch-" in name] == []
