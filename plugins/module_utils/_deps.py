# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backend of app_dependencies: the app's packages as a layer.

Which installer: the app's files decide (``requirements.txt`` -> pip,
``poetry.lock`` -> poetry, ``Pipfile.lock`` -> pipenv, ``uv.lock`` -> uv), or
the task does (``installer``); more than one candidate is an error, never a
guess. Each installer lives in its own file under ``_installers/`` behind one
interface (its lock file, how it exports, how it installs, how a failure is
classified); this layer asks it in that order. Lock files are exported into a
fully pinned, hash-checked list installed with ``--no-deps``: the lock decides
the set, and every location and ``--no-compile`` work the same for all
installers.

Where: the user site of ``PYTHONUSERBASE=dest`` (default), a venv at dest, a
target directory wired into the runtime by a ``.pth`` file, or the runtime's
own site-packages.

The fingerprint holds the runtime's fingerprint key, the installer and its
version, every requirement input by content (includes followed recursively),
the location and the install options (index URLs without credentials). A
change rebuilds from empty, so removed packages and dropped dependencies are
gone; the old layer is moved aside and put back if the install fails.

What users of ``ansible.builtin.pip`` expect: ``extra_args`` go to the
installing program (part of the fingerprint, credentials redacted), ``force``
rebuilds once (the engine's), ``state: absent`` removes the layer
(``DepsRemoval``). Check mode runs the stale-lock check a build would run
first: it only reads, so the prediction fails as the real run does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import tempfile
import time

from ansible_collections.appenv.python.plugins.module_utils import (
    _installers, _interpreter, _layer, _requirements, _site)
from ansible_collections.appenv.python.plugins.module_utils import _layer_switch, _privilege
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._duration import parse_duration
from ansible_collections.appenv.python.plugins.module_utils._fingerprint import FINGERPRINT_FILE
from ansible_collections.appenv.python.plugins.module_utils._runner import proxy_settings
from ansible_collections.appenv.python.plugins.module_utils._upstream import runtime_entry
from ansible_collections.appenv.python.plugins.module_utils._urls import redact_url

LOCATIONS = ("user", "venv", "target", "system")
SWITCHED_LOCATIONS = ("venv", "target")
DEFAULT_DEST = {"user": "/opt/appenv/deps", "venv": "/opt/appenv/venv", "target": "/opt/appenv/site"}
DEFAULT_CACHE_DIR = "/var/cache/appenv"


class DepsLayerSpec(_layer.LayerSpec):
    """The app's packages, installed by installer (an _installers.Installer) from its mode's files."""

    kind = "app_dependencies"
    format_version = 1
    strategy = "in_place"
    labels = {"runtime": "Runtime fingerprint", "python_version": "Python version", "installer": "Installer",
              "installer_version": "Installer version", "source": "Dependency source", "location": "Location",
              "extras": "Extras", "groups": "Groups", "index": "Package index", "bytecode": "Bytecode",
              "pip_check": "pip check", "extra_args": "Installer arguments (extra_args)"}

    def __init__(self, runtime, installer, mode, index, project_dir, location="user", dest=None, requirements=None,
                 extras=(), groups=(), max_age=None, cache_dir=None, layer_cache_path=None, bytecode="checked-hash",
                 bytecode_workers=0, pip_check=True, source_date_epoch=None, retries=3, timeout=900, extra_args=None,
                 keep_previous=_layer_switch.DEFAULT_KEEP_PREVIOUS):
        self.runtime = runtime
        self.installer = installer
        self.installing = _installers.get(installer.installs_with, installer.tools_dir)
        self.mode = mode
        self.index = index
        self.project_dir = os.path.abspath(project_dir)
        self.location = location
        self.requirements = requirements or ["requirements.txt"]
        self.max_age_text = max_age
        self.max_age = parse_duration(max_age)
        self.cache_root = cache_dir or (layer_cache_path and os.path.join(layer_cache_path, "wheels")) \
            or DEFAULT_CACHE_DIR
        self.bytecode = bytecode
        self.bytecode_workers = bytecode_workers
        self.pip_check = pip_check
        self.source_date_epoch = source_date_epoch
        self.retries = retries
        self.timeout = timeout
        self.extra_args = _installers.extra_args(extra_args, self.installing)
        self.warnings = []
        self.walk = None
        if mode == "requirements":
            self.walk = _requirements.walk(self.project_dir, self.requirements)
            files = self.walk.inputs()
            self.warnings += installer.requirement_warnings(self.walk)
        else:
            files = {}
            for name in (installer.lock_file, installer.project_file):
                path = os.path.join(self.project_dir, name)
                files[name] = {"sha256": _layer.file_sha256(path), "via": None,
                               "kind": "lock" if name == mode else "project"}
        if location == "system":
            path = runtime.site_packages
            state = os.path.join(runtime.root, ".appenv-deps.json")
        else:
            path = dest or DEFAULT_DEST[location]
            state = None
        wanted = {
            "runtime": runtime.key,
            "python_version": runtime.version,
            "installer": installer.name,
            "installer_version": runtime.versions.get(installer.name) or installer.version(runtime),
            "source": mode,
            "files": files,
            "location": location,
            "extras": sorted(extras or []),
            "groups": sorted(groups or []),
            "index": index.fingerprint(),
            "bytecode": bytecode,
            "pip_check": pip_check,
        }
        if runtime.interpreter:
            wanted["interpreter"] = runtime.interpreter
        if self.extra_args:  # only when set: layers built before the option keep their fingerprint
            wanted["extra_args"] = [redact_url(word) for word in self.extra_args]
        super(DepsLayerSpec, self).__init__(path, wanted, state_path=state)
        # The path the app uses; while a new version is checked before its switch, self.path is that version.
        self.dest = self.path
        # venv and target: built beside the live version and switched in (_layer_switch): a running app keeps them.
        self.switched = location in SWITCHED_LOCATIONS
        self.keep_previous = keep_previous
        if location == "system":
            self.strategy, self.rolls_back = "none", True  # _build_system snapshots and puts back

    # -- where things are -----------------------------------------------------------------------
    def site_dir(self, root=None):
        # system: the layer's path is the runtime's site-packages (or where a killed run moved it aside, as check
        # mode reads it to predict the recovery).
        root = root or self.path
        if self.location in ("system", "target"):
            return root
        return self.runtime.user_site(root)

    def python(self, root=None):
        """The interpreter the app runs with."""
        if self.location == "venv":
            return os.path.join(root or self.path, "bin", "python")
        return self.runtime.python

    def pth_path(self):
        return pth_path(self.runtime, self.dest)

    def bin_dir(self):
        return self.runtime.python.rsplit("/", 1)[0] if self.location == "system" else os.path.join(self.path, "bin")

    def environment(self):
        return environment(self.location, self.path, self.runtime.root)

    def cache_dirs(self):
        """Every installer's cache under one root, kept across rebuilds and a change of installer."""
        return dict((name, os.path.join(self.cache_root, name)) for name in _installers.INSTALLERS)

    # -- decisions ------------------------------------------------------------------------------
    def compare(self, stored, wanted):
        old = stored.get("inputs", {})
        reasons = _interpreter.describe_change(old.get("interpreter"), wanted.get("interpreter"), self.runtime.python)
        skip = ("files", "runtime", "interpreter") + (("python_version",) if reasons else ())
        if not reasons and old.get("runtime") != wanted["runtime"] and \
                old.get("python_version") == wanted["python_version"]:
            reasons.append("the runtime at %s was reinstalled" % self.runtime.root)
        skip = skip + ("installer_version",)
        others = dict((key, value) for key, value in wanted.items() if key not in skip)
        reasons += _layer.describe_changes(dict((k, v) for k, v in old.items() if k not in skip), others, self.labels)
        reasons += _requirements.describe_file_changes(old.get("files", {}), wanted["files"])
        tool = installer_version_change(old, wanted)
        if tool and reasons:
            reasons.append(tool)
        elif tool:
            self.warnings.append(tool + "; the layer is kept: a new installer version alone does not change what "
                                 "the lock or the requirements pin (any other change rebuilds with it)")
        if not reasons:
            reasons += [sentence for sentence in [self._too_old(stored, "the layer")] if sentence]
        return _layer.ACTION_RECREATED, reasons

    def _too_old(self, record, what):
        """A sentence when record was built longer than max_age ago (its built_at counts), else None."""
        if not self.max_age:
            return None
        age = time.time() - (record.get("built_at") or 0)
        if age <= self.max_age:
            return None
        return "%s was built %s ago, longer than max_age %s: unpinned dependencies are resolved again" % (
            what, _human(age), self.max_age_text)

    def refuse_cached(self, record):
        return self._too_old(record, "the layer cache's entry")

    def verify(self, stored):
        facts = stored.get("facts", {})
        problems = []
        if self.location == "venv" and not os.path.exists(os.path.join(self.path, "bin", "python")):
            problems.append("the venv's interpreter %s/bin/python does not start (its runtime moved?)" % self.path)
        if self.location == "target":
            try:
                with open(self.pth_path()) as handle:
                    # The plain path line an earlier release wrote still puts the layer on sys.path.
                    if handle.read() not in (_layer_switch.pin_target_line(self.dest), self.dest + "\n"):
                        problems.append("%s does not point at %s" % (self.pth_path(), self.dest))
            except (IOError, OSError):
                problems.append("%s, which puts %s on sys.path, is missing" % (self.pth_path(), self.dest))
        return problems + _site.drift(self.site_dir(), facts.get("packages", {}), outside=self.location != "target")

    # -- work -----------------------------------------------------------------------------------
    def build(self, target, runner):
        if self.location == "system":
            return self._build_system(runner)
        work = target.rstrip("/") + ".appenv-work"
        _layer.remove_tree(work)
        os.makedirs(work, 0o700)
        try:
            if self.location == "venv":
                from ansible_collections.appenv.python.plugins.module_utils._tooling import make_venv

                make_venv(runner, self.runtime, target)
            facts = self._install(target, work, runner)
        finally:
            _layer.remove_tree(work)
        return facts

    def _build_system(self, runner):
        """The runtime's site-packages: snapshot, install, put the snapshot back on failure."""
        site = self.runtime.site_packages
        # Where the engine's recovery of a killed run looks for the old layer: only a whole copy gets there.
        snapshot = _layer._aside_path(site)
        _layer.remove_tree(snapshot)
        _layer.remove_tree(snapshot + ".tmp")
        shutil.copytree(site, snapshot + ".tmp", symlinks=True)
        os.rename(snapshot + ".tmp", snapshot)
        # The old packages' console scripts in the runtime's bin/ go back with them on a failure.
        scripts = _site.OutsideSnapshot(site, self.runtime.root, os.path.join(self.runtime.root, ".appenv-deps-scripts"),
                                        watch=[self.bin_dir()])
        from ansible_collections.appenv.python.plugins.module_utils._tooling import PACKAGING_TOOLS

        work = os.path.join(self.runtime.root, ".appenv-deps-work")
        _layer.remove_tree(work)
        os.makedirs(work, 0o700)
        try:
            for name in sorted(self._stored_packages()):
                if name not in PACKAGING_TOOLS:
                    runner.run([self.runtime.python, "-m", "pip", "uninstall", "-y", "-q", name],
                               what="Removing %s from the runtime" % name, check=False)
            # What the layer is: the packages installed now that were not there once the old ones went.
            facts = self._install(site, work, runner, before=set(_site.installed(site)))
        except BaseException:
            _layer.remove_tree(site)
            os.rename(snapshot, site)
            scripts.restore()
            raise
        finally:
            _layer.remove_tree(work)
        _layer.remove_tree(snapshot)
        scripts.discard()
        return facts

    def _stored_packages(self):
        return (self.previous or {}).get("facts", {}).get("packages", {})

    def _requirement_args(self, work, runner, env):
        """The requirement arguments of the install, and whether they come from a lock."""
        if self.mode == "requirements":
            argv = []
            for name in self.requirements:
                argv += ["-r", os.path.join(self.project_dir, name)]
            return argv, False
        exported = os.path.join(work, "requirements.lock.txt")
        self.installer.check_lock(runner, self.project_dir, env)
        self.installer.export(runner, self.project_dir, exported, self.wanted["groups"], self.wanted["extras"], env)
        return ["--no-deps", "-r", exported], True

    def _env(self, target):
        # Every installer's settings, whichever runs: poetry and pipenv hand their export to pip.
        env = {}
        for installer in _installers.INSTALLERS.values():
            env.update(installer.environment(self.cache_root, self.project_dir))
        if self.source_date_epoch is not None:
            env["SOURCE_DATE_EPOCH"] = self.source_date_epoch
        if self.location == "user":
            env["PYTHONUSERBASE"] = target
        return env

    def _install(self, target, work, runner, before=None):
        env = self._env(target)
        for directory in set(self.cache_dirs().values()):
            try:
                os.makedirs(directory, 0o755, exist_ok=True)
            except OSError:
                self.warnings.append("the wheel cache %s cannot be created; installing without it" % directory)
        req_args, locked = self._requirement_args(work, runner, env)
        argv = self.installing.install_argv(self.runtime, self.location, target, self.retries)
        argv, result, output = self.installing.install(runner, argv + self.index.args() + self.extra_args + req_args,
                                                       cwd=self.project_dir, env=dict(env, **self.index.env()),
                                                       timeout=self.timeout, retries=self.retries)
        if result.rc != 0:
            shown = runner.mask(output[-3000:])
            raise AppenvError(self.installing.classify(output), installer=self.installer.name, dest=self.path,
                              command=runner.mask(" ".join(argv)), rc=result.rc, output=shown,
                              kind=self.kind, path=self.path, detail=shown, proxies=proxy_settings())
        if self.location == "target":
            self._write_pth()  # names dest, the stable path: a switch changes nothing in the runtime
        if self.pip_check:
            self._pip_check(target, runner, env)
        site = self.site_dir(target)
        found = _site.installed(site)
        names = [name for name in found if before is None or name not in before]
        if self.bytecode != "none":
            from ansible_collections.appenv.python.plugins.module_utils import _bytecode

            if self.location == "system":
                files = _site.python_files(site, names)
                if files:
                    _bytecode.compile_trees(runner, self.runtime.python, [], self.bytecode, (0,),
                                            self.bytecode_workers, files=files)
            else:
                exclude = ["bin"] if self.location == "target" else []
                _bytecode.compile_trees(runner, self.python(target), [site], self.bytecode, (0,),
                                        self.bytecode_workers, exclude=exclude)
        return {"packages": dict((name, found[name][0]) for name in names), "locked": locked,
                "site_packages": site}

    def check_lock_read_only(self, runner):
        """Check mode: the stale-lock check a build runs first (it only reads), the installers' caches in a
        temporary directory; skipped where the installer is not there yet (an earlier task installs it)."""
        if self.mode == "requirements" or not os.access(self.installer.executable(), os.X_OK):
            return
        temp = tempfile.mkdtemp(prefix="appenv-check-")
        try:
            env = self._env(self.path)
            env.update((installer.cache_variable, os.path.join(temp, name))
                       for name, installer in _installers.INSTALLERS.items())
            self.installer.check_lock(runner, self.project_dir, env, read_only=True)
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    def _write_pth(self):
        with open(self.pth_path() + ".tmp", "w") as handle:
            handle.write(_layer_switch.pin_target_line(self.dest))
        os.rename(self.pth_path() + ".tmp", self.pth_path())

    def restored(self, record):
        if self.location == "target":
            self._write_pth()

    def _pip_check(self, target, runner, env):
        if "pip" not in _site.installed(self.runtime.site_packages):
            self.warnings.append("pip check skipped: the runtime has no pip")
            return
        argv = [self.runtime.python, "-m", "pip"]
        if self.location == "venv":
            argv += ["--python", os.path.join(target, "bin", "python")]
        check_env = dict(env)
        if self.location == "target":
            check_env["PYTHONPATH"] = target
        result = runner.run(argv + ["check", "--disable-pip-version-check"], what="Checking the dependencies",
                            env=check_env, check=False)
        if result.rc != 0:
            raise AppenvError("deps_conflict", dest=self.path, output=runner.mask(result.output[-3000:]))


class DepsRemoval(_layer.LayerSpec):
    """state: absent: the layer at dest (and a target's .pth file in the runtime) or, for location system, the
    packages the runtime's record lists, with the record. runtime: None when there is none (nothing inside it)."""

    kind = DepsLayerSpec.kind
    format_version = DepsLayerSpec.format_version

    def __init__(self, location, dest, runtime):
        self.location = location
        self.runtime = runtime
        if location == "system":
            super(DepsRemoval, self).__init__(runtime.site_packages, {},
                                              state_path=os.path.join(runtime.root, ".appenv-deps.json"))
            self.strategy = "none"
        else:
            super(DepsRemoval, self).__init__(dest, {})

    def removable(self):
        if self.location == "system":
            return [self.state_path]
        paths = super(DepsRemoval, self).removable()
        return paths + ([pth_path(self.runtime, self.path)] if self.location == "target" and self.runtime else [])

    def _packages(self, stored):
        """The recorded packages still in the runtime (pip_tooling's own stay)."""
        from ansible_collections.appenv.python.plugins.module_utils._tooling import PACKAGING_TOOLS

        recorded = (stored or {}).get("facts", {}).get("packages", {})
        found = _site.installed(self.runtime.site_packages)
        return sorted(name for name in recorded if name in found and name not in PACKAGING_TOOLS)

    def removal(self, stored):
        reasons = super(DepsRemoval, self).removal(stored)
        packages = self._packages(stored) if self.location == "system" else []
        if packages:
            reasons.insert(0, "state is absent: %s uninstalled from the runtime %s" % (
                ", ".join(packages), self.runtime.root))
        return reasons

    def remove(self, stored, runner):
        if self.location == "system":
            packages = self._packages(stored)
            if packages:
                runner.run([self.runtime.python, "-m", "pip", "uninstall", "-y", "-q",
                            "--disable-pip-version-check"] + packages,
                           what="Removing the app's dependencies from the runtime")
        super(DepsRemoval, self).remove(stored, runner)


def remove_app_dependencies(params, runner, check_mode=False):
    """state: absent: the layer removed (DepsRemoval); the app's files and the installers are not needed, the runtime
    only where something of the layer lives in it (location target or system): without one, nothing is left there."""
    location = params["location"]
    dest = os.path.abspath(params["dest"] or DEFAULT_DEST.get(location) or params["runtime"])
    runtime = None
    if location in ("target", "system"):
        try:
            runtime = _site.runtime_for(params, "app_dependencies", runner,
                                        _site.guessed_state(params.get("interpreter"), ".appenv-deps.json"))
        except AppenvError as error:
            if not _site.not_there_yet(params, error):
                raise
    result = {"location": location, "dest": dest, "packages": {}, "inputs": []}
    if runtime is None and location == "system":
        result.update(changed=False, reasons=[], layer=dest, fingerprint=None, **_layer.action_keys(_layer.ACTION_ABSENT))
        return result
    spec = DepsRemoval(location, dest, runtime)
    _privilege.check_tree(spec.path, "remove the app's dependencies from %s" % spec.path)
    if location == "system":
        _privilege.check_interpreter(runtime.python)
    result.update(_layer.remove(spec, runner, check_mode, params["lock_timeout"]).as_result())
    result["dest"] = spec.path
    return result


def pth_path(runtime, path):
    """The .pth file that puts a target layer at path on the runtime's sys.path."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", path.strip("/"))
    return os.path.join(runtime.site_packages, "appenv-%s.pth" % name)


def installer_version_change(old, wanted):
    """A sentence when only the installer's version differs from the record's, else None.

    The design notes: a new pip/uv/poetry/pipenv does not reinstall the app's packages by itself (the same
    pins give the same packages); the version stays in the record and is said when the layer is rebuilt.
    """
    before, now = old.get("installer_version"), wanted.get("installer_version")
    if before is None or before == now or old.get("installer") != wanted.get("installer"):
        return None
    return "%s was %s when the layer was built and is %s now" % (wanted["installer"], before, now)


def _human(seconds):
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return "%.1f%s" % (seconds / float(size), unit)
    return "%ds" % seconds


def environment(location, dest, runtime_root):
    """The variables a process needs to use a dependency layer."""
    runtime_bin = os.path.join(runtime_root, "bin")
    if location == "system":
        return {"PATH": _site.path_with(runtime_bin)}
    env = {"PATH": _site.path_with(os.path.join(dest, "bin"), runtime_bin)}
    if location == "user":
        env["PYTHONUSERBASE"] = dest
    elif location == "venv":
        env["VIRTUAL_ENV"] = dest
    return env


def _predicted_without_host_state(params, reason):
    """Check mode on a host where an earlier task of the play has not run for real (no runtime, no app yet).
    Where no layer is there yet, the reason is the real run's."""
    dest = params["dest"] or DEFAULT_DEST.get(params["location"]) or params["runtime"]
    runtime_bin = os.path.join(params["runtime"], "bin")
    if params["location"] != "system" and not os.path.lexists(dest):
        reason = "no %s layer at %s yet" % (DepsLayerSpec.kind, os.path.abspath(dest))
    interpreter = os.path.join(dest, "bin", "python") if params["location"] == "venv" \
        else os.path.join(runtime_bin, "python3")
    return {"changed": True, **_layer.action_keys(_layer.ACTION_CREATED), "reasons": [reason], "layer": dest,
            "fingerprint": None, "location": params["location"], "dest": dest,
            "interpreter": interpreter, "python": interpreter,  # python: deprecated, removed in 0.3.0
            "environment": environment(params["location"], dest, params["runtime"]), "packages": {}, "inputs": []}


def run_app_dependencies(params, runner, check_mode=False, diff=False, cache=None, index=None):
    """The module app_dependencies: its parameters in, its result out."""
    if params["state"] == "absent":
        return remove_app_dependencies(params, runner, check_mode=check_mode or params.get("_decide_only"))
    if params["location"] != "system" and not (params["dest"] or DEFAULT_DEST.get(params["location"])):
        raise AppenvError("bad_argument", option="dest", module="app_dependencies", detail="dest is required")
    if not os.path.isdir(params["project_dir"]):
        if check_mode:
            return _predicted_without_host_state(params, "%s does not exist yet (check mode: an earlier task would "
                                                         "create it); the dependencies would be installed"
                                                 % params["project_dir"])
        raise AppenvError("bad_argument", option="project_dir", module="app_dependencies",
                          detail="%s is not a directory on the host" % params["project_dir"])
    dest = params["dest"] or DEFAULT_DEST.get(params["location"])
    try:
        runtime = _site.runtime_for(params, "app_dependencies", runner, os.path.join(dest, FINGERPRINT_FILE) if dest
                                    else _site.guessed_state(params.get("interpreter"), ".appenv-deps.json"),
                                    check_mode=check_mode)
    except AppenvError as error:
        if check_mode and _site.not_there_yet(params, error):
            return _predicted_without_host_state(params, "no runtime at %s yet (check mode: an earlier task would "
                                                         "install it); the dependencies would be installed"
                                                 % (params.get("interpreter") or params["runtime"]))
        raise
    if params["location"] in ("system", "user"):
        runtime.refuse_externally_managed("app_dependencies", "location: %s" % params["location"])
    name, mode = _installers.choose(params["project_dir"], params["installer"], params["requirements"])
    spec = DepsLayerSpec(
        runtime, _installers.get(name, params["tools_dir"]), mode, index, params["project_dir"],
        location=params["location"], dest=params["dest"], requirements=params["requirements"],
        extras=params["extras"], groups=params["groups"], max_age=params["max_age"], cache_dir=params["cache_dir"],
        layer_cache_path=(params["layer_cache"] or {}).get("path"), bytecode=params["invalidation_mode"],
        bytecode_workers=params["bytecode_workers"], pip_check=params["pip_check"],
        source_date_epoch=params["source_date_epoch"], retries=params["retries"], timeout=params["timeout"],
        extra_args=params["extra_args"], keep_previous=params["keep_previous"])
    # Before anything is installed (check mode too): options the app's files cannot honour, a Python they exclude.
    _installers.refuse_unsupported_options(spec.installer, mode, params["groups"], params["extras"])
    if mode != "requirements":
        from ansible_collections.appenv.python.plugins.module_utils import _requires_python  # lock files only

        _requires_python.refuse_excluded(params["project_dir"], spec.installer, runtime)
    spec.replaced = (runtime.root,) if runtime.replaced else ()
    if params["location"] == "system":
        cache = None
    # As root: never install into, nor run (its .pth files) an interpreter or venv another user can write.
    _privilege.check_tree(spec.path, "install the app's dependencies into %s" % spec.path)
    for python in sorted(set([runtime.python, spec.python()])):
        if os.path.lexists(python):
            _privilege.check_interpreter(python)
    if params["_decide_only"]:
        action, reasons, _stored = _layer.decide(spec)
        if params["force"]:
            action, reasons = _layer.forced(action, reasons)
        return {"changed": False, _layer.ACTION_KEY: action, "reasons": reasons,
                "key": _layer.make_record(spec, {})["key"]}
    layer = _layer.converge(spec, runner, check_mode, params["lock_timeout"], cache=cache, force=params["force"])
    if check_mode and layer.action in (_layer.ACTION_CREATED, _layer.ACTION_RECREATED):
        spec.check_lock_read_only(runner)  # the build would check the lock first: a stale one fails here too
    result = layer.as_result(diff=diff)
    warnings = spec.warnings + result.pop("warnings", [])
    if warnings:
        result["warnings"] = warnings
    facts = layer.facts or {}
    result.update({
        "installer": name,
        "installer_version": spec.wanted["installer_version"],
        "source": mode,
        "location": spec.location,
        "dest": spec.path,
        "interpreter": spec.python(),
        "python": spec.python(),  # deprecated, removed in 0.3.0
        "site_packages": spec.site_dir(),
        "bin_dir": spec.bin_dir(),
        "environment": spec.environment(),
        "packages": facts.get("packages", {}),
        "inputs": sorted(spec.wanted["files"]),
        "runtime": runtime_entry(runtime),
    })
    return result
