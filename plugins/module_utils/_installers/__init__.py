# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The installers app_dependencies can use, one file each, behind one interface.

Every installer answers the same four questions, and ``_deps`` asks them in
that order:

* its lock file (``lock_file`` beside ``project_file``), so the app's files
  say which installer they call for (``choose``);
* how it exports the lock into a fully pinned, hash-checked list
  (``export``: ``poetry export``, ``pipenv requirements``, ``uv export``);
* how it installs (``installs_with``: the installer whose ``install_argv`` and
  ``install`` put the list into the layer - pip for poetry's and pipenv's
  export, uv for its own);
* how a failed install is classified (``classify``: the catalogue code the
  output of the installing program calls for).

``extra_args`` (the task's passthrough, split as a shell would) go to the
installing program's install command - pip for requirement files and for
poetry's and pipenv's exports, ``uv pip install`` for uv - except the options
the module sets itself (``OWN_OPTIONS``, refused by ``extra_args``).

The registry (``INSTALLERS``) is the order in which the app's files are looked
at: requirement files first, then each lock file. It names each installer and
the lock file that calls for it (``LOCK_FILES``, the one home of those names);
an installer's file is imported when its class is first asked for, so a run
loads only the installers it uses (AnsiballZ compiles every module_util a
module imports, on every run, no-ops included).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shlex

from ansible_collections.appenv.python.plugins.module_utils import _site
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import network_fault

INSTALLING = "Installing the app's dependencies"

# The order failures are told apart in: a full disk or an index out of reach explains any later symptom.
FAILURE_CODES = ("layer_no_space", "deps_index_unreachable", "deps_build_failed", "deps_not_found")
# The failures another attempt may cure: the index or the network, briefly out of reach.
TRANSIENT_CODES = ("deps_index_unreachable",)
# Said by the system or by any program, whichever installer ran.
COMMON_MARKERS = {
    "layer_no_space": ("No space left on device", "Disk quota exceeded"),
    "deps_index_unreachable": ("Connection refused", "Name or service not known",
                               "Temporary failure in name resolution", "timed out", "500 Internal Server Error",
                               "Network is unreachable"),
    "deps_build_failed": ("Failed to build", "error in setup command"),
    "deps_not_found": (),
}


def _exists(project_dir, name):
    return os.path.isfile(os.path.join(project_dir, name))


class Installer:
    """One installer of the app's dependencies. Subclass per installer; see the module docstring."""

    name = None
    lock_file = None       # the lock it reads (None: requirement files only)
    project_file = None    # the project file beside the lock
    reads_requirements = False  # it can install requirement files as well
    installs_with = None   # the installer that installs the exported list (its own name: itself)
    cache_variable = None  # the environment variable naming its wheel/download cache
    settings = {}          # environment variables it always gets
    markers = {}           # catalogue code -> what its output says on such a failure
    lock_check = ()        # its arguments that fail when the lock no longer matches the project file
    stale_marker = None    # what it prints then
    relock = None          # the command that makes the lock again
    lock_options = ()      # which of groups, extras its lock export takes (requirement files take neither)

    def __init__(self, tools_dir):
        self.tools_dir = tools_dir

    # -- where it is ------------------------------------------------------------------------------
    def venv(self):
        return os.path.join(self.tools_dir, self.name)

    def executable(self):
        return os.path.join(self.venv(), "bin", self.name)

    def version(self, runtime):
        """Its version, from the venv pip_tooling installed it into; tool_missing when it is not there."""
        have = _site.installed(runtime.user_site(self.venv())).get(self.name)
        if not have or not os.access(self.executable(), os.X_OK):
            raise AppenvError("tool_missing", tool=self.name,
                              detail="%s is not in %s (looked for %s/bin/%s)." % (
                                  self.name, self.tools_dir, self.venv(), self.name))
        return have[0]

    @classmethod
    def environment(cls, cache_root, project_dir):
        """Its cache under cache_root and the settings that keep it quiet and non-interactive."""
        env = {cls.cache_variable: os.path.join(cache_root, cls.name)}
        env.update(cls.settings)
        return env

    # -- the lock ---------------------------------------------------------------------------------
    def export(self, runner, project_dir, output, groups, extras, env):
        """Write the lock's pinned, hash-checked requirement list for groups and extras to output."""
        raise NotImplementedError("%s has no lock file" % self.name)

    def check_lock(self, runner, project_dir, env, read_only=False):
        """Refuse a lock that no longer matches its project file, as the installer's own locked install does.

        read_only: check mode asks (the check only reads); an installer whose export checks the lock runs it here.
        """
        if self.lock_check:
            argv = [self.executable()] + list(self.lock_check)
            result = runner.run(argv, env=env, cwd=project_dir, check=False,
                                what="Checking that %s matches %s" % (self.lock_file, self.project_file))
            self.refuse_stale(runner, project_dir, argv, result)

    def refuse_stale(self, runner, project_dir, argv, result):
        """deps_lock_stale when result says the lock is stale, command_failed for any other failure."""
        if result.rc == 0:
            return
        output = runner.mask(result.output[-3000:])
        if self.stale_marker and self.stale_marker in result.output:
            raise AppenvError("deps_lock_stale", lock=os.path.join(project_dir, self.lock_file), relock=self.relock,
                              project=os.path.join(project_dir, self.project_file), installer=self.name,
                              output=output)
        raise AppenvError("command_failed", what="Reading %s" % self.lock_file, rc=result.rc, output=output,
                          command=runner.mask(" ".join(argv)))

    def requirement_warnings(self, walk):
        """Sentences about requirement files (a _requirements walk) this installer handles badly."""
        return []

    # -- the install ------------------------------------------------------------------------------
    def install_argv(self, runtime, location, target, retries):
        """The install command for location at target, without the index options and requirements."""
        raise NotImplementedError

    def install(self, runner, argv, cwd, env, timeout, retries=0):
        """Run the install, again after a network failure (retries, with backoff); (argv as run, result,
        the output that explains a failure)."""
        result = runner.run(argv, what=INSTALLING, cwd=cwd, env=env, timeout=timeout, check=False,
                            retries=retries, retry_if=lambda failed: self.transient(failed.output))
        return argv, result, result.output

    def transient(self, output):
        """Whether a failed install's output is a network failure worth another attempt (classify says so)."""
        return self.classify(output) in TRANSIENT_CODES

    def classify(self, output):
        """The catalogue code for a failed install from what it printed (deps_install_failed: none known)."""
        network = network_fault(output)  # a private CA or a proxy: their own titled errors
        if network:
            return network
        for code in FAILURE_CODES:
            if any(marker in output for marker in COMMON_MARKERS[code] + self.markers.get(code, ())):
                return code
        return "deps_install_failed"


def choose(project_dir, installer, requirements):
    """(installer name, mode) for the app's files: mode is 'requirements' or the lock file read.

    installer 'auto' (or none) decides from the files; more than one candidate is an error, never a guess.
    """
    requirement_files = requirements or ["requirements.txt"]
    if installer in (None, "", "auto"):
        found = []
        if all(_exists(project_dir, name) for name in requirement_files):
            found.append(("pip", "requirements", ", ".join(requirement_files)))
        for name, lock_file in LOCK_FILES:
            if lock_file and _exists(project_dir, lock_file):
                found.append((name, lock_file, lock_file))
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
    chosen = INSTALLERS[installer]
    if chosen.reads_requirements and (chosen.lock_file is None or requirements
                                      or not _exists(project_dir, chosen.lock_file)):
        return installer, "requirements"
    lock, project = chosen.lock_file, chosen.project_file
    missing = [name for name in (lock, project) if not _exists(project_dir, name)]
    if missing:
        raise AppenvError("installer_files_missing", installer=installer, project_dir=project_dir,
                          needs=" and ".join((lock, project)),
                          detail="%s is missing in %s." % (" and ".join(missing), project_dir))
    return installer, lock


# extra_args options that decide what the module sets from its own options: (what they decide, the options).
OWN_OPTIONS = (
    ("where the packages go", ("--target", "-t", "--prefix", "--root", "--user", "--home", "--python", "-p",
                               "--system", "--break-system-packages")),
    ("which requirement files are read", ("--requirement", "-r", "--constraint", "-c", "--editable", "-e")),
)


def _option_name(word):
    """The option a command-line word names: --name of --name=value, -x of -xvalue, else the word."""
    if word.startswith("--"):
        return word.split("=", 1)[0]
    return word[:2] if word.startswith("-") else word


def extra_args(text, installing):
    """The task's extra_args (a string, split as a shell would) as a list for installing's install command.

    An option the module sets itself (where the packages go, which files are read) is refused with a titled error.
    """
    if not text:
        return []
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise AppenvError("bad_argument", option="extra_args", module="app_dependencies",
                          detail="extra_args is split as a shell would, and %s (%s)" % (exc, text))
    for word in words:
        for decides, options in OWN_OPTIONS:
            if _option_name(word) in options:
                raise AppenvError("deps_extra_args_refused", option=_option_name(word), args=text, decides=decides,
                                  installer=installing.name if installing.name != "uv" else "uv pip")
    return words


_UNSUPPORTED = {
    "groups": "requirement files have no groups; name the files to install in requirements",
    "extras": "write them in the requirement itself (name[extra]) or in the Pipfile",
}


def refuse_unsupported_options(installer, mode, groups, extras):
    """groups/extras the installer's files cannot honour: a titled error, never silently ignored."""
    takes = installer.lock_options if mode != "requirements" else ()
    for option, value in (("groups", groups), ("extras", extras)):
        if value and option not in takes:
            source = "requirement files" if mode == "requirements" else installer.lock_file
            raise AppenvError("bad_argument", option=option, module="app_dependencies",
                              detail="%s from %s are not supported: %s" % (option, source, _UNSUPPORTED[option]))


def get(name, tools_dir):
    """The installer called name, looking for its venv in tools_dir."""
    return INSTALLERS[name](tools_dir)


def _load(name):
    """The class of the installer called name, its file imported now (each file subclasses Installer above)."""
    # pylint: disable=import-outside-toplevel
    if name == "pip":
        from ansible_collections.appenv.python.plugins.module_utils._installers.pip import Pip as found
    elif name == "poetry":
        from ansible_collections.appenv.python.plugins.module_utils._installers.poetry import Poetry as found
    elif name == "pipenv":
        from ansible_collections.appenv.python.plugins.module_utils._installers.pipenv import Pipenv as found
    elif name == "uv":
        from ansible_collections.appenv.python.plugins.module_utils._installers.uv import Uv as found
    else:
        raise KeyError(name)
    return found


class _Registry:
    """A read-only mapping name -> installer class, in LOCK_FILES' order; a class is imported when first looked up."""

    def __init__(self, names):
        self._names = tuple(names)
        self._classes = {}

    def __getitem__(self, name):
        if name not in self._classes:
            if name not in self._names:
                raise KeyError(name)
            self._classes[name] = _load(name)
        return self._classes[name]

    def __iter__(self):
        return iter(self._names)

    def __len__(self):
        return len(self._names)

    def __contains__(self, name):
        return name in self._names

    def keys(self):
        return list(self._names)

    def values(self):
        return [self[name] for name in self._names]

    def items(self):
        return [(name, self[name]) for name in self._names]


# The registry: every installer and the lock file that calls for it (None: requirement files only), in the order
# the app's files are looked at.
LOCK_FILES = (("pip", None), ("poetry", "poetry.lock"), ("pipenv", "Pipfile.lock"), ("uv", "uv.lock"))
INSTALLERS = _Registry(name for name, _lock in LOCK_FILES)


def lock_file_of(name):
    """The lock file that calls for the installer called name (its class's lock_file)."""
    return dict(LOCK_FILES)[name]
