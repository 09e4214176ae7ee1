# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backend of app_dependencies: the app's packages as a layer.

Which installer: the app's files decide (``requirements.txt`` -> pip,
``poetry.lock`` -> poetry, ``Pipfile.lock`` -> pipenv, ``uv.lock`` -> uv), or
the task does (``installer``); more than one candidate is an error, never a
guess. Lock files are read by their own tool (``poetry export``,
``pipenv requirements --hash``, ``uv export --frozen``) into a fully pinned,
hash-checked list that is installed with ``--no-deps``: the lock decides the
set, and every location and ``--no-compile`` work the same for all installers.
Requirement files are installed by pip or, as a faster drop-in, ``uv pip``.

Where: the user site of ``PYTHONUSERBASE=dest`` (default), a venv at dest, a
target directory wired into the runtime by a ``.pth`` file, or the runtime's
own site-packages.

The fingerprint holds the runtime's fingerprint key, the installer and its
version, every requirement input by content (includes followed recursively),
the location and the install options (index URLs without credentials). A
change rebuilds from empty, so removed packages and dropped dependencies are
gone; the old layer is moved aside and put back if the install fails.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import tempfile
import time

from ansible_collections.appenv.python.plugins.module_utils import _bytecode, _layer, _requirements, _site
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import network_fault, proxy_settings
from ansible_collections.appenv.python.plugins.module_utils._tooling import make_venv

INSTALLERS = ("pip", "uv", "poetry", "pipenv")
LOCATIONS = ("user", "venv", "target", "system")
DEFAULT_DEST = {"user": "/opt/appenv/deps", "venv": "/opt/appenv/venv", "target": "/opt/appenv/site"}
LOCK_FILES = {"poetry": ("poetry.lock", "pyproject.toml"), "pipenv": ("Pipfile.lock", "Pipfile"),
              "uv": ("uv.lock", "pyproject.toml")}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

_NO_SPACE = ("No space left on device", "Disk quota exceeded")
_UNREACHABLE = ("Failed to establish a new connection", "Connection refused", "ConnectionError",
                "Max retries exceeded", "Failed to fetch", "error sending request", "Name or service not known",
                "Temporary failure in name resolution", "timed out", "HTTP status server error",
                "500 Internal Server Error", "Network is unreachable", "Server Error:", "incomplete-download",
                "Connection interrupted while downloading", "not enough bytes were received", "IncompleteRead",
                "Connection broken")
_NOT_FOUND = ("No matching distribution found", "Could not find a version that satisfies",
              "was not found in the package registry", "not found in the provided package locations",
              "No solution found when resolving", "ResolutionImpossible", "conflicting dependencies")
_BUILD = ("Failed to build", "subprocess-exited-with-error", "Failed to prepare distributions",
          "error in setup command", "Build backend failed")


def parse_duration(text):
    """Seconds in '90', '30m', '12h', '7d', '2w'; a titled error otherwise."""
    if text in (None, ""):
        return None
    match = _DURATION.match(str(text))
    if not match:
        raise AppenvError("bad_argument", option="max_age", module="app_dependencies",
                          detail="%r is not a duration such as 3600, 30m, 12h, 7d or 2w" % (text,))
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def _exists(project_dir, name):
    return os.path.isfile(os.path.join(project_dir, name))


def choose_installer(project_dir, installer, requirements):
    """(installer, mode): mode is 'requirements' or the lock file's name."""
    requirement_files = requirements or ["requirements.txt"]
    if installer in (None, "", "auto"):
        found = []
        if all(_exists(project_dir, name) for name in requirement_files):
            found.append(("pip", "requirements", ", ".join(requirement_files)))
        for name in ("poetry", "pipenv", "uv"):
            if _exists(project_dir, LOCK_FILES[name][0]):
                found.append((name, LOCK_FILES[name][0], LOCK_FILES[name][0]))
        if len(found) > 1:
            raise AppenvError("installer_conflict", project_dir=project_dir,
                              files=" and ".join(item[2] for item in found),
                              installers=", ".join(item[0] for item in found))
        if not found:
            hints = []
            if _exists(project_dir, "Pipfile"):
                hints.append("Pipfile has no Pipfile.lock beside it (run pipenv lock)")
            if _exists(project_dir, "pyproject.toml"):
                hints.append("pyproject.toml has no poetry.lock or uv.lock beside it (run poetry lock or uv lock)")
            raise AppenvError("installer_files_missing", installer="any installer", project_dir=project_dir,
                              needs="requirements.txt, poetry.lock, Pipfile.lock or uv.lock",
                              detail="none of %s, poetry.lock, Pipfile.lock, uv.lock is there%s." % (
                                  ", ".join(requirement_files), ": " + "; ".join(hints) if hints else ""))
        return found[0][0], found[0][1]
    if installer == "pip" or (installer == "uv" and (requirements or not _exists(project_dir, "uv.lock"))):
        return installer, "requirements"
    lock, project = LOCK_FILES[installer]
    missing = [name for name in (lock, project) if not _exists(project_dir, name)]
    if missing:
        raise AppenvError("installer_files_missing", installer=installer, project_dir=project_dir,
                          needs=" and ".join((lock, project)),
                          detail="%s is missing in %s." % (" and ".join(missing), project_dir))
    return installer, lock


def classify_failure(output):
    network = network_fault(output)  # a private CA or a proxy: their own titled errors
    if network:
        return network
    for markers, code in ((_NO_SPACE, "layer_no_space"), (_UNREACHABLE, "deps_index_unreachable"),
                          (_BUILD, "deps_build_failed"), (_NOT_FOUND, "deps_not_found")):
        if any(marker in output for marker in markers):
            return code
    return "deps_install_failed"


def fetch_failures(log_text, limit=5):
    """The lines of a pip log (--log) saying an index page could not be fetched, and why.

    pip logs them at debug level only: without them an index answering 500 or timing out looks exactly like a
    package that is not on the index ("from versions: none").
    """
    lines = []
    for line in log_text.splitlines():
        line = line.strip()
        if "Could not fetch URL" in line and line not in lines:
            lines.append(line)
    return lines[:limit]


class DepsLayerSpec(_layer.LayerSpec):
    kind = "app_dependencies"
    format_version = 1
    strategy = "in_place"
    labels = {"runtime": "Runtime fingerprint", "python_version": "Python version", "installer": "Installer",
              "installer_version": "Installer version", "source": "Dependency source", "location": "Location",
              "extras": "Extras", "groups": "Groups", "index": "Package index", "bytecode": "Bytecode",
              "pip_check": "pip check"}

    def __init__(self, params, runtime, index, installer, mode):
        self.params = params
        self.runtime = runtime
        self.index = index
        self.installer = installer
        self.mode = mode
        self.project_dir = os.path.abspath(params["project_dir"])
        self.location = params["location"]
        self.max_age = parse_duration(params["max_age"])
        self.tools_dir = params["tools_dir"]
        self.warnings = []
        self.walk = None
        if mode == "requirements":
            self.walk = _requirements.walk(self.project_dir, params["requirements"] or ["requirements.txt"])
            files = self.walk.inputs()
            if self.walk.hashes and installer == "pip":
                self.warnings.append(
                    "The requirements pin hashes (--hash): pip then cannot reuse wheels it built from sdists, "
                    "so a rebuild builds them again. Publish wheels for them, or use the uv installer.")
        else:
            files = {}
            for name in LOCK_FILES[installer]:
                path = os.path.join(self.project_dir, name)
                files[name] = {"sha256": _layer.file_sha256(path), "via": None,
                               "kind": "lock" if name == mode else "project"}
        if self.location == "system":
            path = runtime.site_packages
            state = os.path.join(runtime.root, ".appenv-deps.json")
        else:
            path = params["dest"] or DEFAULT_DEST[self.location]
            state = None
        wanted = {
            "runtime": runtime.key,
            "python_version": runtime.version,
            "installer": installer,
            "installer_version": self._installer_version(),
            "source": mode,
            "files": files,
            "location": self.location,
            "extras": sorted(params["extras"] or []),
            "groups": sorted(params["groups"] or []),
            "index": index.fingerprint(),
            "bytecode": params["bytecode"],
            "pip_check": params["pip_check"],
        }
        super(DepsLayerSpec, self).__init__(path, wanted, state_path=state)
        if self.location == "system":
            self.strategy = "none"

    # -- where things are -----------------------------------------------------------------------
    def _tool_venv(self, name):
        return os.path.join(self.tools_dir, name)

    def _installer_version(self):
        if self.installer == "pip":
            have = _site.installed(self.runtime.site_packages).get("pip")
            if not have:
                raise AppenvError("tool_missing", tool="pip",
                                  detail="the runtime %s has no pip in its site-packages" % self.runtime.root)
            return have[0]
        venv = self._tool_venv(self.installer)
        have = _site.installed(self.runtime.user_site(venv)).get(self.installer)
        if not have or not os.access(os.path.join(venv, "bin", self.installer), os.X_OK):
            raise AppenvError("tool_missing", tool=self.installer,
                              detail="%s is not in %s (looked for %s/bin/%s)." % (
                                  self.installer, self.tools_dir, venv, self.installer))
        return have[0]

    def tool(self, name):
        return os.path.join(self._tool_venv(name), "bin", name)

    def site_dir(self, root=None):
        root = root or self.path
        if self.location == "system":
            return self.runtime.site_packages
        if self.location == "target":
            return root
        return self.runtime.user_site(root)

    def python(self, root=None):
        """The interpreter the app runs with."""
        if self.location == "venv":
            return os.path.join(root or self.path, "bin", "python")
        return self.runtime.python

    def pth_path(self):
        name = re.sub(r"[^A-Za-z0-9]+", "-", self.path.strip("/"))
        return os.path.join(self.runtime.site_packages, "appenv-%s.pth" % name)

    def bin_dir(self):
        return self.runtime.python.rsplit("/", 1)[0] if self.location == "system" else os.path.join(self.path, "bin")

    def environment(self):
        return environment(self.location, self.path, self.runtime.root)

    def cache_dirs(self):
        base = self.params["cache_dir"]
        if not base and self.params.get("layer_cache") and self.params["layer_cache"].get("path"):
            base = os.path.join(self.params["layer_cache"]["path"], "wheels")
        base = base or "/var/cache/appenv"
        return {"pip": os.path.join(base, "pip"), "uv": os.path.join(base, "uv"),
                "poetry": os.path.join(base, "poetry"), "pipenv": os.path.join(base, "pipenv")}

    # -- decisions ------------------------------------------------------------------------------
    def compare(self, stored, wanted):
        old = stored.get("inputs", {})
        reasons = []
        if old.get("runtime") != wanted["runtime"] and old.get("python_version") == wanted["python_version"]:
            reasons.append("the runtime at %s was reinstalled" % self.runtime.root)
        others = dict((key, value) for key, value in wanted.items() if key not in ("files", "runtime"))
        reasons += _layer.describe_changes(dict((k, v) for k, v in old.items() if k not in ("files", "runtime")),
                                           others, self.labels)
        reasons += _requirements.describe_file_changes(old.get("files", {}), wanted["files"])
        if not reasons and self.max_age:
            age = time.time() - stored.get("built_at", 0)
            if age > self.max_age:
                reasons.append("the layer was built %s ago, longer than max_age %s: unpinned dependencies are "
                               "resolved again" % (_human(age), self.params["max_age"]))
        return _layer.ACTION_RECREATED, reasons

    def verify(self, stored):
        facts = stored.get("facts", {})
        problems = []
        if self.location == "venv" and not os.path.exists(os.path.join(self.path, "bin", "python")):
            problems.append("the venv's interpreter %s/bin/python does not start (its runtime moved?)" % self.path)
        if self.location == "target":
            try:
                with open(self.pth_path()) as handle:
                    if handle.read().strip() != self.path:
                        problems.append("%s does not point at %s" % (self.pth_path(), self.path))
            except (IOError, OSError):
                problems.append("%s, which puts %s on sys.path, is missing" % (self.pth_path(), self.path))
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
                make_venv(runner, self.runtime, target)
            facts = self._install(target, work, runner)
        finally:
            _layer.remove_tree(work)
        return facts

    def _build_system(self, runner):
        """The runtime's site-packages: snapshot, install, put the snapshot back on failure."""
        site = self.runtime.site_packages
        before = set(_site.installed(site))
        snapshot = site.rstrip("/") + ".appenv-old"
        _layer.remove_tree(snapshot)
        shutil.copytree(site, snapshot, symlinks=True)
        work = os.path.join(self.runtime.root, ".appenv-deps-work")
        _layer.remove_tree(work)
        os.makedirs(work, 0o700)
        try:
            for name in sorted(self._stored_packages()):
                if name not in ("pip", "setuptools", "wheel"):
                    runner.run([self.runtime.python, "-m", "pip", "uninstall", "-y", "-q", name],
                               what="Removing %s from the runtime" % name, check=False)
            facts = self._install(site, work, runner, before=before)
        except BaseException:
            _layer.remove_tree(site)
            os.rename(snapshot, site)
            raise
        finally:
            _layer.remove_tree(work)
        _layer.remove_tree(snapshot)
        return facts

    def _stored_packages(self):
        record, _problem = _layer.read_fingerprint(self)
        return (record or {}).get("facts", {}).get("packages", {})

    def _requirement_args(self, work, runner, env):
        if self.mode == "requirements":
            argv = []
            for name in self.params["requirements"] or ["requirements.txt"]:
                argv += ["-r", os.path.join(self.project_dir, name)]
            return argv, False
        exported = os.path.join(work, "requirements.lock.txt")
        groups = self.wanted["groups"]
        extras = self.wanted["extras"]
        if self.installer == "poetry":
            argv = [self.tool("poetry"), "export", "--format", "requirements.txt", "--output", exported,
                    "--no-interaction", "--no-ansi"]
            for group in groups:
                argv += ["--with", group]
            for extra in extras:
                argv += ["--extras", extra]
            runner.run(argv, what="Reading poetry.lock (poetry export)", cwd=self.project_dir, env=env,
                       fault="deps_install_failed")
        elif self.installer == "pipenv":
            argv = [self.tool("pipenv"), "requirements", "--hash"]
            if groups:
                argv += ["--categories", " ".join(["packages"] + [group for group in groups if group != "dev"]
                                                  + (["dev-packages"] if "dev" in groups else []))]
            result = runner.run(argv, what="Reading Pipfile.lock (pipenv requirements)", cwd=self.project_dir,
                                env=env, fault="deps_install_failed")
            with open(exported, "w") as handle:
                handle.write(result.stdout)
        else:
            argv = [self.tool("uv"), "export", "--frozen", "--format", "requirements.txt", "--no-emit-project",
                    "--no-progress", "--output-file", exported]
            if "dev" not in groups:
                argv.append("--no-dev")
            for group in groups:
                if group != "dev":
                    argv += ["--group", group]
            for extra in extras:
                argv += ["--extra", extra]
            runner.run(argv, what="Reading uv.lock (uv export)", cwd=self.project_dir, env=env,
                       fault="deps_install_failed")
        return ["--no-deps", "-r", exported], True

    def _env(self, target):
        caches = self.cache_dirs()
        env = {
            "PIP_CACHE_DIR": caches["pip"], "UV_CACHE_DIR": caches["uv"], "POETRY_CACHE_DIR": caches["poetry"],
            "PIPENV_CACHE_DIR": caches["pipenv"], "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1",
            "PIPENV_VERBOSITY": "-1", "PIPENV_IGNORE_VIRTUALENVS": "1", "POETRY_NO_INTERACTION": "1",
            "PIPENV_PIPFILE": os.path.join(self.project_dir, "Pipfile"),
        }
        if self.params.get("source_date_epoch") is not None:
            env["SOURCE_DATE_EPOCH"] = self.params["source_date_epoch"]
        if self.location == "user":
            env["PYTHONUSERBASE"] = target
        return env

    def _install_argv(self, target, req_args):
        if self.installer == "pip" or self.mode != "requirements" and self.installer != "uv":
            argv = [self.runtime.python, "-m", "pip"]
            if self.location == "venv":
                argv += ["--python", os.path.join(target, "bin", "python")]
            argv += ["install", "--no-compile", "--disable-pip-version-check", "--no-input",
                     "--no-warn-script-location", "--retries", str(self.params["retries"])]
            argv += {"user": ["--user", "--ignore-installed"], "target": ["--target", target],
                     "venv": [], "system": []}[self.location]
        else:
            argv = [self.tool("uv"), "pip", "install"]
            argv += {"user": ["--python", self.runtime.python, "--prefix", target],
                     "target": ["--python", self.runtime.python, "--target", target],
                     "venv": ["--python", os.path.join(target, "bin", "python")],
                     "system": ["--python", self.runtime.python, "--system", "--break-system-packages"]
                     }[self.location]
        return argv + self.index.args() + req_args

    def _install(self, target, work, runner, before=None):
        env = self._env(target)
        for directory in set(self.cache_dirs().values()):
            try:
                os.makedirs(directory, 0o755, exist_ok=True)
            except OSError:
                self.warnings.append("the wheel cache %s cannot be created; installing without it" % directory)
        req_args, locked = self._requirement_args(work, runner, env)
        argv = self._install_argv(target, req_args)
        # pip's log, for why it skipped an index page. Not in the work directory: on a full layer filesystem
        # pip could not write it and would print a logging traceback instead.
        log_dir = _temp_dir() if argv[1:3] == ["-m", "pip"] else None
        try:
            if log_dir:
                argv += ["--log", os.path.join(log_dir, "pip.log")]
            result = runner.run(argv, what="Installing the app's dependencies", cwd=self.project_dir, env=env,
                                timeout=self.params["timeout"], check=False)
            skipped = fetch_failures(_read(log_dir and os.path.join(log_dir, "pip.log"))) if result.rc else []
        finally:
            if log_dir:
                shutil.rmtree(log_dir, ignore_errors=True)
        if result.rc != 0:
            full = "\n".join([result.output] + skipped)
            output = runner.mask(full[-3000:])
            raise AppenvError(classify_failure(full), installer=self.installer, dest=self.path,
                              command=runner.mask(" ".join(argv)), rc=result.rc, output=output,
                              kind=self.kind, path=self.path, detail=output, proxies=proxy_settings())
        if self.location == "target":
            self._write_pth(target)
        if self.params["pip_check"]:
            self._pip_check(target, runner, env)
        site = self.site_dir(target)
        found = _site.installed(site)
        names = [name for name in found if before is None or name not in before]
        if self.params["bytecode"] != "none":
            if self.location == "system":
                files = _site.python_files(site, names)
                if files:
                    _bytecode.compile_trees(runner, self.runtime.python, [], self.params["bytecode"], (0,),
                                            self.params["bytecode_workers"], files=files)
            else:
                exclude = ["bin"] if self.location == "target" else []
                _bytecode.compile_trees(runner, self.python(target), [site], self.params["bytecode"], (0,),
                                        self.params["bytecode_workers"], exclude=exclude)
        return {"packages": dict((name, found[name][0]) for name in names), "locked": locked,
                "site_packages": site}

    def _write_pth(self, target):
        with open(self.pth_path() + ".tmp", "w") as handle:
            handle.write(target + "\n")
        os.rename(self.pth_path() + ".tmp", self.pth_path())

    def restored(self, record):
        if self.location == "target":
            self._write_pth(self.path)

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


def _temp_dir():
    try:
        return tempfile.mkdtemp(prefix="appenv-pip-log-")
    except (IOError, OSError):
        return None


def _read(path):
    if not path:
        return ""
    try:
        with open(path, errors="replace") as handle:
            return handle.read()
    except (IOError, OSError):
        return ""


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
    """Check mode on a host where an earlier task of the play has not run for real (no runtime, no app yet)."""
    dest = params["dest"] or DEFAULT_DEST.get(params["location"]) or params["runtime"]
    runtime_bin = os.path.join(params["runtime"], "bin")
    return {"changed": True, "action": _layer.ACTION_CREATED, "reasons": [reason], "layer": dest, "fingerprint": None,
            "location": params["location"], "dest": dest,
            "python": os.path.join(dest, "bin", "python") if params["location"] == "venv"
            else os.path.join(runtime_bin, "python3"),
            "environment": environment(params["location"], dest, params["runtime"]), "packages": {}, "inputs": []}


def run_app_dependencies(params, index, runner, check_mode=False, diff=False, cache=None, decide_only=False):
    if params["location"] != "system" and not (params["dest"] or DEFAULT_DEST.get(params["location"])):
        raise AppenvError("bad_argument", option="dest", module="app_dependencies", detail="dest is required")
    if not os.path.isdir(params["project_dir"]):
        if check_mode:
            return _predicted_without_host_state(params, "%s does not exist yet (check mode: an earlier task would "
                                                         "create it); the dependencies would be installed"
                                                 % params["project_dir"])
        raise AppenvError("bad_argument", option="project_dir", module="app_dependencies",
                          detail="%s is not a directory on the host" % params["project_dir"])
    try:
        runtime = _site.Runtime(params["runtime"], "app_dependencies")
    except AppenvError as error:
        if check_mode and error.code == "runtime_missing":
            return _predicted_without_host_state(params, "no runtime at %s yet (check mode: an earlier task would "
                                                         "install it); the dependencies would be installed"
                                                 % params["runtime"])
        raise
    installer, mode = choose_installer(params["project_dir"], params["installer"], params["requirements"])
    spec = DepsLayerSpec(params, runtime, index, installer, mode)
    if params["location"] == "system":
        cache = None
    if decide_only:
        action, reasons, _stored = _layer.decide(spec)
        return {"changed": False, "action": action, "reasons": reasons, "key": _layer.make_record(spec, {})["key"]}
    layer = _layer.converge(spec, runner, check_mode, params["lock_timeout"], cache=cache)
    result = layer.as_result(diff=diff)
    warnings = spec.warnings + result.pop("warnings", [])
    if warnings:
        result["warnings"] = warnings
    facts = layer.facts or {}
    result.update({
        "installer": installer,
        "installer_version": spec.wanted["installer_version"],
        "source": mode,
        "location": spec.location,
        "dest": spec.path,
        "python": spec.python(),
        "site_packages": spec.site_dir(),
        "bin_dir": spec.bin_dir(),
        "environment": spec.environment(),
        "packages": facts.get("packages", {}),
        "inputs": sorted(spec.wanted["files"]),
    })
    return result
