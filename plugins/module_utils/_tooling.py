# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backend of pip_tooling: the packaging tools a runtime needs, as layers.

Two kinds of layer:

* ``PackagingToolsSpec``: pip, setuptools and wheel at pinned versions in the
  runtime's own site-packages. pip is bootstrapped from the wheel the runtime
  bundles (``ensurepip/_bundled``, run as ``python pip.whl/pip``: no network,
  none of ensurepip's temporary copies and compile step); versions the bundle
  holds are installed with ``--no-index``. Everything goes in with
  ``--no-compile`` and is then compiled ``unchecked-hash`` in parallel. It is
  an overlay layer: its files (the distributions' RECORD entries, ``bin/pip*``
  included, and their pycs) are what the layer cache stores; a restore swaps
  them in for the runtime's own pip (see _layer's overlay layers).
* ``ToolVenvSpec``: poetry, pipenv or uv, each in its own venv
  (``--symlinks --system-site-packages --without-pip``) installed with the
  runtime's pip (``venv/bin/python -m pip``, pip seen through the system site).

Both fingerprint the runtime's fingerprint key, so a new runtime reinstalls them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.appenv.python.plugins.module_utils import _bytecode, _installers, _interpreter, _layer, _layer_switch, _site
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import network_fault, proxy_settings
from ansible_collections.appenv.python.plugins.module_utils._layer_overlay import overlay_record_files, overlay_relative
from ansible_collections.appenv.python.plugins.module_utils._upstream import runtime_entry

# The one home of the pins of the packaging tools in the runtime (pip_tooling's defaults).
PACKAGING_PINS = {
    "pip": "26.3",
    "setuptools": "84.2.1",
    "wheel": "0.48.0",
}
PACKAGING_TOOLS = tuple(sorted(PACKAGING_PINS))
DEFAULT_VERSIONS = dict(PACKAGING_PINS, uv="0.13.9", poetry="2.5.1", pipenv="2026.10.3")
# What each tool needs besides itself: poetry exports lock files through its export plugin.
TOOL_EXTRAS = {"poetry": ["poetry-plugin-export==1.10.1"], "pipenv": [], "uv": []}
TOOLS = ("uv", "poetry", "pipenv")

# Runs in the runtime after an install: the named distributions and what they require (markers evaluated
# for this interpreter, with pip's own copy of packaging), transitively: what the packaging layer is made of.
_CLOSURE = r"""
import importlib.metadata as md, json, re, sys
try:
    from pip._vendor.packaging.requirements import Requirement
except ImportError:  # no pip among them: the named distributions alone
    Requirement = None
todo, seen = list(json.loads(sys.argv[1])), set()
while todo:
    name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
    if name in seen:
        continue
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        continue
    seen.add(name)
    for text in (dist.requires or []) if Requirement else []:
        try:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
        except Exception:
            pass
print(json.dumps(sorted(seen)))
"""

_PIP_INSTALL = ["install", "--no-compile", "--disable-pip-version-check", "--no-input", "--no-warn-script-location"]


def pip_install(runner, python_argv, specs, index, what, retries, timeout, offline_dir=None, env=None):
    """Run `<python_argv> install --no-compile ... specs`; a titled error naming what failed."""
    argv = list(python_argv) + _PIP_INSTALL
    if offline_dir:
        argv += ["--no-index", "--find-links", offline_dir]
    else:
        argv += index.args()
        env = dict(env or {}, **index.env())  # credentials by environment, never in argv
    argv += list(specs)
    # Again after a network failure, as pip's own output tells it (the installers' one classification).
    result = runner.run(argv, what=what, retries=retries, timeout=timeout, check=False, env=env,
                        retry_if=lambda failed: _installers.get("pip", None).transient(failed.output))
    if result.rc != 0:
        output = runner.mask(result.output[-3000:])
        raise AppenvError(network_fault(result.output) or "tool_install_failed", what=what, rc=result.rc,
                          command=runner.mask(" ".join(argv)), output=output, detail=output, proxies=proxy_settings())
    return result


class PackagingToolsSpec(_layer.LayerSpec):
    """pip/setuptools/wheel inside the runtime. Reinstalling pinned versions is safe to redo."""

    kind = "pip_tooling"
    format_version = 1
    strategy = "none"
    overlay = True
    labels = {"runtime": "Runtime fingerprint", "python_version": "Python version", "packages": "Packaging tools",
              "index": "Package index", "bytecode": "Bytecode"}

    def __init__(self, runtime, versions, index, compile_bytecode=True, workers=0, retries=3, timeout=900):
        self.runtime = runtime
        self.index = index
        self.workers = workers
        self.retries = retries
        self.timeout = timeout
        self.packages = dict((name, version) for name, version in versions.items() if version)
        wanted = {
            "runtime": runtime.key,
            "python_version": runtime.version,
            "packages": self.packages,
            "index": index.fingerprint(),
            "bytecode": "unchecked-hash" if compile_bytecode else "none",
        }
        if runtime.interpreter:
            wanted["interpreter"] = runtime.interpreter
        super(PackagingToolsSpec, self).__init__(runtime.site_packages, wanted,
                                                 state_path=os.path.join(runtime.root, ".appenv-pip-tooling.json"))

    def lock_path(self):
        return os.path.join(self.runtime.root, ".appenv-pip-tooling.lock")

    def compare(self, stored, wanted):
        old = stored.get("inputs", {})
        moved = _interpreter.describe_change(old.get("interpreter"), wanted.get("interpreter"), self.runtime.python)
        if moved:
            return _layer.ACTION_RECREATED, moved
        if old.get("runtime") != wanted["runtime"]:
            return _layer.ACTION_RECREATED, ["the runtime at %s was reinstalled (Python %s)" % (
                self.runtime.root, self.runtime.version)]
        return super(PackagingToolsSpec, self).compare(stored, wanted)

    def verify(self, stored):
        facts = stored.get("facts", {})
        expected = dict(facts.get("distributions") or {}, **facts.get("packages", {}))
        return _site.drift(self.runtime.site_packages, expected)

    # -- the layer cache: the files of the pinned distributions, relative to the runtime ------
    def overlay_root(self):
        return self.runtime.root

    def _distribution_files(self, names, all_pycs):
        """Absolute paths of what the named distributions installed (RECORD), with their pycs."""
        found = _site.installed(self.runtime.site_packages)
        paths = []
        listings = {}
        for name in names:
            have = found.get(_site.canonical_name(name))
            if not have:
                continue
            recorded = _site.record_paths(have[1]) or []
            paths.extend(recorded)
            for source in recorded:
                if not source.endswith(".py"):
                    continue
                if all_pycs:
                    paths.extend(_bytecode.pyc_files_of(source, listings))
                else:
                    paths.extend(_bytecode.pyc_paths(source, self.runtime.cache_tag, (0,)))
        return paths

    def overlay_files(self, facts):
        names = sorted(facts.get("distributions") or self.packages)
        return overlay_relative(self.runtime.root, self._distribution_files(names, all_pycs=False))

    def overlay_unexpected(self, files):
        """A cached record may list only files below the runtime's site-packages and bin (pip's RECORD)."""
        site = os.path.relpath(self.runtime.site_packages, self.runtime.root) + "/"
        return [rel for rel in files if not rel.startswith((site, "bin/"))]

    def overlay_previous(self, stored, record):
        """The previous version's files, and those of every distribution the restored layer holds that is
        installed now (the pip and setuptools the runtime came with): what ``pip install`` would uninstall."""
        names = set(self.packages)
        for source in (stored, record):
            names.update(((source or {}).get("facts") or {}).get("distributions") or {})
        previous = overlay_relative(self.runtime.root, [
            path for path in self._distribution_files(sorted(names), all_pycs=True)
            if path.startswith(self.runtime.root.rstrip("/") + "/")]) or []
        return sorted(set(previous) | set(overlay_record_files(stored) or []))

    def build(self, target, runner):
        site = self.runtime.site_packages
        python = self.runtime.python
        bundled = self.runtime.bundled_wheels()
        have = _site.installed(site)
        damaged = [name for name in self.packages if name in have and _site.drift(site, {name: have[name][0]})]
        pip_argv = [python, "-m", "pip"]
        if "pip" not in have or "pip" in damaged:
            # No usable pip in the runtime: run pip straight from the wheel the runtime bundles.
            wheel = bundled.get("pip")
            if not wheel:
                raise AppenvError("runtime_missing", runtime=self.runtime.root, module="pip_tooling",
                                  detail="it has neither a working pip nor ensurepip's bundled pip wheel")
            pip_argv = [python, os.path.join(wheel, "pip")]
        todo = ["%s==%s" % (name, version) for name, version in sorted(self.packages.items())
                if have.get(name, (None,))[0] != version or name in damaged]
        if todo:
            offline = None
            bundled_versions = dict((name, os.path.basename(path).split("-")[1]) for name, path in bundled.items())
            if all(bundled_versions.get(name) == version for name, version in self.packages.items()
                   if "%s==%s" % (name, version) in todo):
                offline = os.path.dirname(next(iter(bundled.values())))
            extra = ["--force-reinstall"] if damaged else []
            pip_install(runner, pip_argv, extra + todo, self.index, "Installing %s" % ", ".join(todo),
                        self.retries, self.timeout, offline_dir=offline)
        closure = self._closure(runner)
        if self.wanted["bytecode"] != "none":
            files = _site.python_files(site, closure)
            if files:
                _bytecode.compile_trees(runner, python, [], "unchecked-hash", (0,), self.workers, files=files)
        found = _site.installed(site)
        return {"packages": dict((name, found[name][0]) for name in self.packages if name in found),
                "distributions": dict((name, found[name][0]) for name in closure if name in found),
                "installed": todo}

    def _closure(self, runner):
        """The pinned distributions and what they require, as installed (names, canonical)."""
        result = runner.run([self.runtime.python, "-I", "-c", _CLOSURE, json.dumps(sorted(self.packages))],
                            what="Listing what the packaging tools require")
        try:
            return [_site.canonical_name(name) for name in json.loads(result.stdout.strip().splitlines()[-1])]
        except (ValueError, IndexError):
            raise AppenvError("internal_error", detail="listing the packaging tools' requirements printed no "
                                                       "result: %s" % runner.mask(result.output[-1000:]))


class ToolVenvSpec(_layer.LayerSpec):
    """One tool (uv, poetry, pipenv) in its own venv on top of the runtime."""

    kind = "tool_venv"
    format_version = 1
    strategy = "in_place"
    labels = {"runtime": "Runtime fingerprint", "python_version": "Python version", "tool": "Tool",
              "version": "Tool version", "with": "Installed with it", "index": "Package index",
              "bytecode": "Bytecode", "runtime_path": "Runtime path"}

    def __init__(self, runtime, tools_dir, name, version, extras, index, compile_bytecode=True, workers=0,
                 retries=3, timeout=900, keep_previous=_layer_switch.DEFAULT_KEEP_PREVIOUS):
        if name not in TOOLS:
            raise AppenvError("bad_argument", option="tools", module="pip_tooling",
                              detail="%r is not a tool pip_tooling installs (%s)" % (name, ", ".join(TOOLS)))
        self.runtime = runtime
        self.name = name
        self.index = index
        self.workers = workers
        self.retries = retries
        self.timeout = timeout
        wanted = {
            "runtime": runtime.key,
            "runtime_path": runtime.root,
            "python_version": runtime.version,
            "tool": name,
            "version": version,
            "with": sorted(extras),
            "index": index.fingerprint(),
            "bytecode": "unchecked-hash" if compile_bytecode else "none",
        }
        if runtime.interpreter:
            wanted["interpreter"] = runtime.interpreter
        super(ToolVenvSpec, self).__init__(os.path.join(tools_dir, name), wanted)
        # Built beside the live venv and switched in (_layer_switch): app_dependencies runs it while it is rebuilt.
        self.switched = True
        self.keep_previous = keep_previous

    @property
    def executable(self):
        return os.path.join(self.path, "bin", self.name)

    def site_dir(self, root=None):
        return self.runtime.user_site(root or self.path)

    def compare(self, stored, wanted):
        old = stored.get("inputs", {})
        moved = _interpreter.describe_change(old.get("interpreter"), wanted.get("interpreter"), self.runtime.python)
        if moved:
            return _layer.ACTION_RECREATED, moved
        if old.get("runtime") != wanted["runtime"] and old.get("python_version") == wanted["python_version"]:
            return _layer.ACTION_RECREATED, ["the runtime at %s was reinstalled" % self.runtime.root]
        return super(ToolVenvSpec, self).compare(stored, wanted)

    def verify(self, stored):
        problems = []
        if not os.path.exists(os.path.join(self.path, "bin", "python")):
            problems.append("its interpreter %s/bin/python does not start (the runtime moved?)" % self.path)
        if not os.access(self.executable, os.X_OK):
            problems.append("%s is missing" % self.executable)
        return problems + _site.drift(self.site_dir(), stored.get("facts", {}).get("packages", {}))

    def build(self, target, runner):
        make_venv(runner, self.runtime, target, system_site=True)
        python = os.path.join(target, "bin", "python")
        specs = ["%s==%s" % (self.name, self.wanted["version"])] + self.wanted["with"]
        pip_install(runner, [python, "-m", "pip"], specs, self.index, "Installing %s %s" % (
            self.name, self.wanted["version"]), self.retries, self.timeout)
        if self.wanted["bytecode"] != "none":
            _bytecode.compile_trees(runner, python, [self.site_dir(target)], "unchecked-hash", (0,), self.workers)
        found = _site.installed(self.site_dir(target))
        return {"packages": dict((name, info[0]) for name, info in found.items()), "executable": self.executable}


def make_venv(runner, runtime, target, system_site=False):
    argv = [runtime.python, "-m", "venv", "--symlinks", "--without-pip"]
    if system_site:
        argv.append("--system-site-packages")
    runner.run(argv + [target], what="Creating the virtual environment %s" % target)
    _layer_switch.write_pin_venv(runtime.user_site(target))


def summarise(named_results):
    """One action and reason list for several layers: kept only when all are kept."""
    order = [_layer.ACTION_CREATED, _layer.ACTION_RECREATED, _layer.ACTION_RESTORED, _layer.ACTION_UPDATED]
    actions = [result.action for _name, result in named_results]
    action = _layer.ACTION_KEPT
    for candidate in order:
        if candidate in actions:
            action = candidate
            break
    reasons = []
    for name, result in named_results:
        reasons.extend("%s: %s" % (name, reason) for reason in result.reasons)
    return action, reasons


def _tool_specs(params, runtime, index):
    specs = []
    seen = set()
    for tool in params["tools"]:
        name = tool["name"]
        if name in seen:
            raise AppenvError("bad_argument", option="tools", module="pip_tooling",
                              detail="%s is listed twice" % name)
        seen.add(name)
        extras = tool.get("with")
        specs.append(ToolVenvSpec(runtime, params["tools_dir"], name, tool.get("version") or DEFAULT_VERSIONS[name],
                                  TOOL_EXTRAS[name] if extras is None else extras, index,
                                  params["compile_bytecode"], params["bytecode_workers"], params["retries"],
                                  params["timeout"], params.get("keep_previous", _layer_switch.DEFAULT_KEEP_PREVIOUS)))
    return specs


def run_pip_tooling(params, index, runner, check_mode=False, diff=False, cache=None):
    """Converge the packaging tools and each tool venv; the module's result."""
    try:
        runtime = _site.runtime_for(params, "pip_tooling", runner, *(
            [_site.guessed_state(params.get("interpreter"), ".appenv-pip-tooling.json")] +
            [os.path.join(params["tools_dir"], tool["name"], _layer.FINGERPRINT_FILE) for tool in params["tools"]]),
            check_mode=check_mode)
    except AppenvError as error:
        if check_mode and _site.not_there_yet(params, error):
            # An earlier task of the play would install the runtime: everything here would be created.
            return {"changed": True, **_layer.action_keys(_layer.ACTION_CREATED), "layers": [], "packages": {}, "tools": {},
                    "reasons": ["no runtime at %s yet (check mode: an earlier task would install it); the tools "
                                "would be installed" % (params.get("interpreter") or params["runtime"])],
                    "interpreter": params.get("interpreter") or os.path.join(params["runtime"], "bin", "python3"),
                    "python": params.get("interpreter") or os.path.join(params["runtime"], "bin", "python3")}
        raise
    versions = dict((name, params[name]) for name in PACKAGING_TOOLS)
    packaging = PackagingToolsSpec(runtime, versions, index, params["compile_bytecode"], params["bytecode_workers"],
                                   params["retries"], params["timeout"])
    tools = _tool_specs(params, runtime, index)
    for spec in [packaging] + tools:
        spec.replaced = (runtime.root,) if runtime.replaced else ()
    named = []
    if packaging.packages or not runtime.externally_managed:
        runtime.refuse_externally_managed("pip_tooling", "installing %s into it" % ", ".join(sorted(packaging.packages)))
        named.append(("packaging", _layer.converge(packaging, runner, check_mode, params["lock_timeout"], cache=cache,
                                                   force=params.get("force", False))))
    for spec in tools:
        named.append((spec.name, _layer.converge(spec, runner, check_mode, params["lock_timeout"], cache=cache,
                                                 force=params.get("force", False))))
    action, reasons = summarise(named)
    layers = []
    warnings = []
    for name, layer in named:
        entry = layer.as_result(diff=diff)
        warnings.extend(entry.pop("warnings", []))
        entry.pop("changed")
        entry["name"] = name
        layers.append(entry)
    packaging_facts = (named[0][1].facts or {}) if named and named[0][0] == "packaging" else {}
    result = {
        "changed": action != _layer.ACTION_KEPT,
        **_layer.action_keys(action),
        "reasons": reasons,
        "layers": layers,
        "interpreter": runtime.python,
        "python": runtime.python,  # deprecated, removed in 0.3.0
        "runtime": runtime_entry(runtime),
        "packages": packaging_facts.get("packages", packaging.packages),
        "tools": dict((spec.name, {"version": spec.wanted["version"], "venv": spec.path,
                                   "executable": spec.executable}) for spec in tools),
    }
    if warnings:
        result["warnings"] = warnings
    if diff:
        result["diff"] = [entry.pop("diff") for entry in layers if "diff" in entry]
    return result
