# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A ``__pycache__`` on the host for this collection's module_utils, which AnsiballZ sends as sources.

Ansible sends a module and its module_utils as ``.py`` files in a zip; Python's zipimport compiles every one a
module run imports, on every run: about 50 ms of each run of ours on a bench host (a no-op or a restore;
docs/performance.md; CPython 3.11's zipimport compiles each one twice, to find it and to run it), where importing
the same code compiled takes 7 ms. ``install()`` (the engine's first
import) keeps each compiled module_util of this collection, and only those, in a directory of the user running
the module: ``/var/cache/appenv/pycache`` for root, ``~/.cache/appenv/pycache`` for another user, in a
subdirectory per interpreter (its bytecode magic number).

Least privilege (docs/security.md): code is only ever read from a directory the running user owns, mode 0700,
reached through directories owned by root or that user and writable by no one else, with no link on the way;
an entry is the running user's own regular file, written by it (temporary name, then rename), named after the
sha256 of the source it was compiled from and holding that sha256 again. Anything else, or any error, and the
source is compiled as without the cache. Only modules Python would otherwise compile from the zip go through
it: nothing changes where they come from, or for any other module. Stdlib only: it is imported first, before the
modules it keeps.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import marshal
import os
import stat
import sys
import zipimport

PREFIX = "ansible_collections.appenv.python.plugins.module_utils."
ROOT_DIR = "/var/cache/appenv/pycache"
USER_DIR = os.path.join(".cache", "appenv", "pycache")
# An entry: the interpreter's magic number, the sha256 of the source, then the marshalled code object.
_HEADER = len(importlib.util.MAGIC_NUMBER) + 32
_fix_co_filename = getattr(__import__("_imp"), "_fix_co_filename", None)


def cache_dir():
    """Where the running user's entries go (None: no home of its own to keep them in)."""
    if os.geteuid() == 0:
        base = ROOT_DIR
    else:
        home = os.environ.get("HOME") or ""
        if not home.startswith("/"):
            return None
        base = os.path.join(home, USER_DIR)
    return os.path.join(base, importlib.util.MAGIC_NUMBER.hex())


def _safe_way(path):
    """Whether every directory from / down to path's parent is a directory (no link) owned by root or the running
    user and writable by no one else (a sticky root-owned one excepted, as /tmp)."""
    uid = os.geteuid()
    current = "/"
    for part in [part for part in path.split("/") if part][:-1]:
        current = os.path.join(current, part)
        try:
            info = os.lstat(current)
        except OSError:
            return True  # made below, by the running user
        if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (0, uid):
            return False
        if info.st_mode & 0o022 and not (info.st_mode & stat.S_ISVTX and info.st_uid == 0):
            return False
    return True


def private_dir(path, make=True):
    """path, made when missing (parents 0755, itself 0700; make=False: never made) when it is safe to keep code in;
    else None."""
    if path is None or not _safe_way(path):
        return None
    try:
        if make and not os.path.lexists(path):
            os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
            os.mkdir(path, 0o700)
        if not _safe_way(path):  # what the makedirs found or made on the way
            return None
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) & 0o077:
        return None
    return path


def read_private(path):
    """The bytes of path when it is the running user's own regular file no one else can read or write (opened
    without following a link), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            return None
        return handle.read()


def write_private(path, data):
    """data at path, mode 0600, written under a temporary name and renamed (a reader never sees half a file).
    Raises OSError, with nothing left behind."""
    temp = "%s.tmp-%d" % (path, os.getpid())
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.rename(temp, path)
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def _read(path, digest):
    """The code object kept at path for source sha256 digest, or None."""
    data = read_private(path)
    if data is None or data[:_HEADER] != importlib.util.MAGIC_NUMBER + digest:
        return None
    try:
        return marshal.loads(data[_HEADER:])
    except (EOFError, ValueError, TypeError):
        return None


def _write(path, digest, code):
    try:
        write_private(path, importlib.util.MAGIC_NUMBER + digest + marshal.dumps(code))
    except (OSError, ValueError):
        pass


class _Loader(importlib.abc.Loader):
    """zipimport's loader for one module, with its compiled code kept in the cache."""

    def __init__(self, loader, fullname, origin, directory, store):
        self.loader = loader
        self.fullname = fullname
        self.origin = origin
        self.directory = directory
        self.store = store

    def create_module(self, spec):
        return None  # the default module object, as zipimport's

    def get_code(self, fullname):
        source = self.loader.get_source(fullname)
        if source is None:
            return self.loader.get_code(fullname)
        data = source.encode("utf-8")
        if self.directory is None:
            return compile(data, self.origin, "exec", dont_inherit=True)
        digest = hashlib.sha256(data).digest()
        path = os.path.join(self.directory, digest.hex())
        code = _read(path, digest)
        if code is not None:
            _fix_co_filename(code, self.origin)  # the path of this run's zip, as compiling here would give
            return code
        code = compile(data, self.origin, "exec", dont_inherit=True)
        if self.store:
            _write(path, digest, code)
        return code

    def exec_module(self, module):
        exec(self.get_code(self.fullname), module.__dict__)  # pylint: disable=exec-used

    def get_source(self, fullname):
        return self.loader.get_source(fullname)

    def is_package(self, fullname):
        return self.loader.is_package(fullname)


class _Finder(importlib.abc.MetaPathFinder):
    """The specs of the collection's module_utils in the zip, made without compiling them.

    zipimport's own find_spec asks its get_filename, which compiles the module (CPython 3.11: each module_util of a
    module run was compiled twice, once to be found and once to be run)."""

    def __init__(self, directory, store):
        self.directory = directory
        self.store = store

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(PREFIX) or not path:
            return None
        try:
            importer = zipimport.zipimporter(path[0])
            package = importer.is_package(fullname)
        except (zipimport.ZipImportError, OSError):
            return None  # not in a zip, or not in this one: Python's own search
        short = fullname.rpartition(".")[2]
        where = os.path.join(importer.archive, importer.prefix, short)
        origin = os.path.join(where, "__init__.py") if package else where + ".py"
        spec = importlib.util.spec_from_loader(fullname, _Loader(importer, fullname, origin, self.directory, self.store),
                                               origin=origin, is_package=package)
        spec.has_location = True  # __file__ is origin, as zipimport sets it
        if package:
            spec.submodule_search_locations = [where]
        return spec


def install(store=True):
    """Find the collection's module_utils in the zip without compiling them, and keep them compiled for the next
    runs when a safe directory can be had (nothing outside an AnsiballZ zip). Returns the directory used, or None.

    store=False (check mode, which writes nothing on the host): entries are read, none is written, no directory made.
    """
    if not isinstance(getattr(__spec__, "loader", None), zipimport.zipimporter) or _fix_co_filename is None or \
            any(isinstance(finder, _Finder) for finder in sys.meta_path):
        return None  # not run from an AnsiballZ zip (a test, the controller): Python's own __pycache__ applies
    directory = private_dir(cache_dir(), make=store)
    sys.meta_path.insert(0, _Finder(directory, store))
    return directory
