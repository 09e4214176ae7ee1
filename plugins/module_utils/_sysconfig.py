# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rewrite a runtime's build-time settings to the host it was installed on.

A python-build-standalone archive was configured and built elsewhere: its
``_sysconfigdata_*.py``, the ``Makefile`` under ``config-*``, ``python3.X-config``
and ``lib/pkgconfig/*.pc`` name the build machine's install prefix (``/install``)
and compiler (``clang``; cross compilers such as ``/usr/bin/aarch64-linux-gnu-gcc``
in older releases). setuptools takes ``CC``/``LDSHARED`` from there, and build
tools such as uwsgi or mod_wsgi take ``LIBDIR``/``LIBPL``/``INCLUDEPY``: on a host
without clang an sdist with a C extension fails, and links name paths that do not
exist. After extraction the runtime is rewritten so that:

* every path that starts with the archive's build prefix (read from the archive's
  own ``prefix``/``exec_prefix``) starts with the runtime's real prefix instead;
* the compiler driver that starts ``CC``, ``MAINCC``, ``LINKCC``, ``LDSHARED``,
  ``BLDSHARED`` and ``CPP`` is the host's C compiler (``cc``, or the task's
  ``compiler``), that of ``CXX`` and ``LDCXXSHARED`` its C++ counterpart, and ``AR``
  is ``ar`` - as uv does for the interpreters it manages.

Only regular files inside the layer are touched: a symlink is never followed (the
file it names, if inside the layer, is rewritten under its own name) and a file
whose directory resolves outside the layer is left alone.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import os
import re
import stat

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import SAFE_PATH, find_program

DEFAULT_COMPILER = "cc"
DEFAULT_CXX = "c++"
DEFAULT_AR = "ar"

# Settings whose first word is the program that runs: the C driver, the C++ driver, the archiver.
C_DRIVER_KEYS = ("CC", "MAINCC", "LINKCC", "LDSHARED", "BLDSHARED", "CPP")
CXX_DRIVER_KEYS = ("CXX", "LDCXXSHARED")
ARCHIVER_KEYS = ("AR",)

_SYSCONFIGDATA_HEADER = "# system configuration generated and used by the sysconfig module\n"
# What may come right before a build prefix in a setting: a separator, or a one-letter compiler flag
# (-I/install/include, -L/install/lib). Lookbehinds must have a fixed width, hence one per shape.
_BEFORE = r"(?:^|(?<=[\s'\"=,:;(!])|(?<=[\s'\"=,:;(]-[A-Za-z])|(?<=^-[A-Za-z]))"
# After it: the end of the path or a deeper one, never a longer name (/install2, /python3.11).
_AFTER = r"(?![\w.+-])"
# A real prefix goes verbatim into a shell script, a Makefile and a .pc file: nothing they would interpret.
_SAFE_PREFIX = re.compile(r"^/[A-Za-z0-9._+@%,/-]*$")
_CXX_OF = re.compile(r"^(?P<head>(?:.*-)?)(?P<driver>clang|gcc|cc)(?P<tail>(?:-[0-9.]+)?)$")
_CXX_DRIVERS = {"clang": "clang++", "gcc": "g++", "cc": "c++"}
_SYSTEM_PREFIXES = ("", "/usr", "/usr/local")
_MAKE_SETTING = re.compile(r"^(?P<key>[A-Z_]+)=(?P<space>[ \t]*)(?P<value>.*)$")


def cxx_for(compiler):
    """The C++ driver that goes with a C compiler (gcc-12 -> g++-12, clang -> clang++, cc -> c++), else c++."""
    directory, name = os.path.split(compiler)
    match = _CXX_OF.match(name)
    if not match:
        return DEFAULT_CXX
    return os.path.join(directory, match.group("head") + _CXX_DRIVERS[match.group("driver")] + match.group("tail"))


def host_compilers(requested=None, path=SAFE_PATH):
    """The programs the rewritten settings name: {'cc', 'cxx', 'ar', 'cc_path'}.

    requested: the task's compiler (a program name looked up on path, or an absolute path), which must
    exist; unset, the host's cc/c++ are named whether or not they are installed yet (cc_path is then None
    when there is none), so installing a compiler later needs no rebuild.
    """
    compiler = requested or DEFAULT_COMPILER
    if os.path.isabs(compiler):
        found = compiler if os.path.isfile(compiler) and os.access(compiler, os.X_OK) else None
        where = "%s is not an executable file" % compiler
    else:
        found = find_program(compiler, path) if "/" not in compiler else None
        where = "no program of that name is on %s" % path
    if requested and not found:
        raise AppenvError("compiler_not_found", compiler=requested, where=where, path=path)
    return {"cc": compiler, "cxx": cxx_for(compiler) if requested else DEFAULT_CXX, "ar": DEFAULT_AR,
            "cc_path": found}


def check_prefix(real_prefix):
    if not _SAFE_PREFIX.match(real_prefix):
        raise AppenvError("bad_argument", option="dest", module="python_runtime",
                          detail="%r cannot be written into the runtime's build settings (a shell script, a "
                                 "Makefile): use an absolute path of letters, digits and . _ + @ %% , / -"
                                 % (real_prefix,))


def replace_prefix(text, build_prefixes, real_prefix):
    """text with every path that starts with one of build_prefixes started with real_prefix instead."""
    for old in sorted(build_prefixes, key=len, reverse=True):
        if old and old != "/" and old != real_prefix:
            text = re.sub(_BEFORE + re.escape(old) + _AFTER, lambda _match: real_prefix, text)
    return text


def replace_driver(value, program):
    """value with its first word (the program that runs) replaced; a make reference ($(CC)) is kept."""
    match = re.match(r"^(\s*)(\S+)", value)
    if not match or match.group(2).startswith("$"):
        return value
    return match.group(1) + program + value[match.end():]


def _driver_for(key, compilers):
    if key in C_DRIVER_KEYS:
        return compilers["cc"]
    if key in CXX_DRIVER_KEYS:
        return compilers["cxx"]
    if key in ARCHIVER_KEYS:
        return compilers["ar"]
    return None


def rewrite_setting(key, value, build_prefixes, real_prefix, compilers):
    value = replace_prefix(value, build_prefixes, real_prefix)
    program = _driver_for(key, compilers)
    return replace_driver(value, program) if program else value


def parse_sysconfigdata(text):
    """(build_time_vars, value node) of a _sysconfigdata_*.py; ValueError if it is not one."""
    tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["build_time_vars"]:
            data = ast.literal_eval(node.value)
            if not isinstance(data, dict):
                raise ValueError("build_time_vars is not a dict")
            return data, node.value
    raise ValueError("no build_time_vars assignment")


def build_prefixes_of(data):
    """The prefixes the runtime was configured with (prefix and exec_prefix of its build).

    A system prefix (a CPython configured for /usr) is no build machine's private path: its other paths
    (/usr/bin/install, /usr/share/zoneinfo) are the host's too, so it is never rewritten.
    """
    found = (data.get("prefix"), data.get("exec_prefix"))
    return sorted(set(value for value in found if isinstance(value, str) and value.startswith("/")
                      and value.rstrip("/") not in _SYSTEM_PREFIXES))


def rewrite_sysconfigdata(text, real_prefix, compilers):
    """(new text, build prefixes, compiler the archive named, changed keys) of a _sysconfigdata_*.py."""
    data, node = parse_sysconfigdata(text)
    prefixes = build_prefixes_of(data)
    was = (data.get("CC") or "").split()
    changed = []
    for key in sorted(data):
        value = data[key]
        if not isinstance(value, str):
            continue
        new = rewrite_setting(key, value, prefixes, real_prefix, compilers)
        if new != value:
            data[key] = new
            changed.append(key)
    lines = text.splitlines(True)
    start = _offset(lines, node.lineno, node.col_offset)
    end = _offset(lines, node.end_lineno, node.end_col_offset)
    import pprint  # a rewrite only (a build): pprint loads dataclasses, a no-op never needs it

    new_text = text[:start] + pprint.pformat(data) + text[end:]
    return new_text, prefixes, was[0] if was else None, changed


def _offset(lines, lineno, byte_col):
    """The index in the text of an ast position (a 1-based line and a UTF-8 byte offset in it)."""
    head = lines[lineno - 1].encode("utf-8")[:byte_col].decode("utf-8", "replace")
    return sum(len(previous) for previous in lines[:lineno - 1]) + len(head)


def rewrite_makefile(text, build_prefixes, real_prefix, compilers):
    """The Makefile under config-*: prefixes everywhere, the compiler in its settings' lines."""
    out = []
    for line in text.splitlines(True):
        body = line.rstrip("\r\n")
        match = _MAKE_SETTING.match(body)
        if match:
            value = rewrite_setting(match.group("key"), match.group("value"), build_prefixes, real_prefix, compilers)
            body = "%s=%s%s" % (match.group("key"), match.group("space"), value)
        else:
            body = replace_prefix(body, build_prefixes, real_prefix)
        out.append(body + line[len(line.rstrip("\r\n")):])
    return "".join(out)


# -- the files, found and written without following a link out of the layer -------------------------
def _regular(root_real, path):
    """path is a regular file (not a symlink) in a directory that resolves inside the layer."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    parent = os.path.realpath(os.path.dirname(path))
    return stat.S_ISREG(mode) and (parent == root_real or parent.startswith(root_real + os.sep))


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def settings_files(root, minor):
    """{kind: [paths]} of the files that hold build settings in the runtime at root."""
    root_real = os.path.realpath(root)
    found = {"sysconfigdata": [], "makefile": [], "text": []}
    lib = os.path.join(root, "lib")
    stdlibs = [os.path.join(lib, name) for name in _listdir(lib) if name in ("python" + minor, "python%st" % minor)]
    for stdlib in stdlibs:
        for name in _listdir(stdlib):
            path = os.path.join(stdlib, name)
            if name.startswith("_sysconfigdata_") and name.endswith(".py"):
                found["sysconfigdata"].append(path)
            elif name == "build-details.json":
                found["text"].append(path)
            elif name.startswith("config-" + minor):
                found["makefile"].append(os.path.join(path, "Makefile"))
                found["text"].append(os.path.join(path, "python-config.py"))
    found["text"] += [os.path.join(root, "bin", name) for name in _listdir(os.path.join(root, "bin"))
                      if name.startswith("python") and name.endswith("-config")]
    found["text"] += [os.path.join(lib, "pkgconfig", name) for name in _listdir(os.path.join(lib, "pkgconfig"))
                      if name.endswith(".pc")]
    return dict((kind, [path for path in paths if _regular(root_real, path)]) for kind, paths in found.items())


def _read(path):
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read().decode("utf-8", "surrogateescape")


def _write(path, text):
    """Replace the file's directory entry (never writing through a link), keeping its mode."""
    mode = stat.S_IMODE(os.lstat(path).st_mode)
    part = os.path.join(os.path.dirname(path), ".%s.appenv-part" % os.path.basename(path))
    if os.path.lexists(part):
        os.unlink(part)
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(text.encode("utf-8", "surrogateescape"))
    os.chmod(part, mode)
    os.replace(part, path)


def _drop_bytecode(path):
    """The pycs of a rewritten module are stale (hash-based ones would even be trusted): remove them."""
    cache = os.path.join(os.path.dirname(path), "__pycache__")
    stem = os.path.splitext(os.path.basename(path))[0] + "."
    for name in _listdir(cache):
        if name.startswith(stem) and name.endswith(".pyc") and not os.path.islink(os.path.join(cache, name)):
            os.unlink(os.path.join(cache, name))


def rewrite_runtime(root, real_prefix, minor, compilers, archive="the runtime archive"):
    """Rewrite the build settings of the runtime extracted at root, which will live at real_prefix.

    Returns the report stored in the layer's facts: build prefixes found, the compiler the archive named,
    the programs named now, and the files rewritten (relative to root).
    """
    check_prefix(real_prefix)
    files = settings_files(root, minor)
    report = {"build_prefix": [], "compiler_was": None, "compiler": compilers["cc"], "cxx": compilers["cxx"],
              "compiler_path": compilers.get("cc_path"), "prefix": real_prefix, "files": []}
    prefixes = set()
    for path in files["sysconfigdata"]:
        old = _read(path)
        try:
            new, found, was, _keys = rewrite_sysconfigdata(old, real_prefix, compilers)
        except (ValueError, SyntaxError) as exc:
            raise AppenvError("runtime_settings_unreadable", path=os.path.relpath(path, root), archive=archive,
                              detail=str(exc))
        prefixes.update(found)
        report["compiler_was"] = report["compiler_was"] or was
        _store(root, path, old, new, report)
        _drop_bytecode(path)
    prefixes = sorted(prefixes)
    report["build_prefix"] = prefixes
    for path in files["makefile"]:
        old = _read(path)
        _store(root, path, old, rewrite_makefile(old, prefixes, real_prefix, compilers), report)
    for path in files["text"]:
        old = _read(path)
        _store(root, path, old, replace_prefix(old, prefixes, real_prefix), report)
    return report


def _store(root, path, old, new, report):
    if new != old:
        _write(path, new)
        report["files"].append(os.path.relpath(path, root))
