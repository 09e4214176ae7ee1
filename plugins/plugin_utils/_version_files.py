# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side: the Python version an app asks for, read from its files or the version option.

This file owns reading a request: ``parse_request`` (what the version option and ``.python-version`` take:
3.12.7, 3.12, 3.12.*, 3, *, 3.13t or a PEP 440 specifier), ``requests_from_project`` (``.python-version``,
``runtime.txt``, ``pyproject.toml``'s ``project.requires-python`` and ``tool.poetry.dependencies.python``,
by precedence) and the lenient reading of what pip, uv and poetry write. Resolving the requests against
the releases, the release table and the end-of-life policy is ``_version_request``. It needs ``packaging``
and ``tomllib``, which the target may lack: only the controller imports it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

try:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version
    HAS_PACKAGING = True
except ImportError:  # ansible-core depends on packaging; an odd controller may still lack it
    HAS_PACKAGING = False
    InvalidSpecifier = InvalidVersion = ValueError
    SpecifierSet = Version = None  # importable all the same: _version_request.resolve refuses first (HAS_PACKAGING)
try:
    import tomllib
except ImportError:  # pragma: no cover - controller Pythons before 3.11
    tomllib = None

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

_EXACT = re.compile(r"^\d+\.\d+\.\d+$")
# What .python-version and the version option take besides PEP 440 specifiers: 3, 3.12, 3.12.7 (each with an
# optional "t" for the free-threaded build, as uv reads it), 3.*, 3.12.* and * (anything).
_SHORT = re.compile(r"^(?P<version>\d+(?:\.\d+){0,2})(?P<freethreaded>t)?$")
_WILDCARD = re.compile(r"^(?P<version>\d+(?:\.\d+)?)\.\*$")


def _poetry_to_pep440(text):
    """Poetry's constraint syntax (^3.11, ~3.11, 3.11.*, >=3.11,<3.13) as a PEP 440 specifier."""
    parts = []
    for raw in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", text.strip()):
        item = raw.strip()
        if not item or item == "*":
            continue
        if item.startswith("^"):
            base = Version(item[1:])
            release = list(base.release) + [0] * (3 - len(base.release))
            if release[0] > 0:
                upper = "%d.0" % (release[0] + 1)
            else:
                upper = "0.%d" % (release[1] + 1)
            parts += [">=" + item[1:], "<" + upper]
        elif item.startswith("~") and not item.startswith("~="):
            base = Version(item[1:])
            release = list(base.release)
            upper = "%d.%d" % (release[0], release[1] + 1) if len(release) >= 2 else "%d" % (release[0] + 1)
            parts += [">=" + item[1:], "<" + upper]
        elif item[0].isdigit():
            parts.append("==" + item)
        else:
            parts.append(item)
    return ",".join(parts)


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise AppenvError("version_file_invalid", file=path, value="", detail="it cannot be read: %s" % exc)


@dataclass
class Request:
    """One version request: where it comes from, the PEP 440 specifier it means, the text as written."""
    source: str
    spec: str
    text: str
    variant: str = None  # "freethreaded" when the text says so (3.13t), else None
    notes: list = field(default_factory=list)  # warnings: the text was read leniently


def _invalid(source, value, detail=""):
    return AppenvError("version_request_invalid", source=source, value=value, detail=detail)


def _lenient_specifier(text, source):
    """A PEP 440 specifier from what pip, uv and poetry write: (specifier text, notes).

    Accepted beyond PEP 440, each with a note saying the exact form: a clause without an operator
    ("3.12.*", "3.12", read as poetry does: "==3.12.*", "==3.12"), "*" (anything), ">=3.9.*" (">=3.9")
    and a trailing comma.
    """
    clauses = []
    for raw in text.split(","):
        clause = raw.strip()
        if not clause or clause == "*":
            continue
        if clause[0].isdigit():
            clause = "==" + clause
        else:
            clause = re.sub(r"^(<=|>=|<|>)\s*(\d+(?:\.\d+)*)\.\*$", r"\1\2", clause)
        clauses.append(clause)
    spec = ",".join(clauses)
    try:
        SpecifierSet(spec)
    except InvalidSpecifier:
        raise _invalid(source, text, "; %r is not a PEP 440 specifier" % spec if spec != text.strip() else "")
    notes = []
    if spec != ",".join(c.strip() for c in text.split(",")):
        shown = spec or "(any version)"
        notes.append("%s says %r, which is not a PEP 440 specifier (pip and uv refuse it): read as %r; write that "
                     "instead." % (source, text, shown))
    return spec, notes


def parse_request(text, source):
    """A version request as the version option or .python-version writes it -> Request.

    3.12.7 (exact), 3.12 or 3.12.* (newest 3.12.Z), 3 or 3.* (newest 3.Y.Z), * (newest of all), any of the first
    three with a "t" (the free-threaded build, e.g. 3.13t), or a PEP 440 specifier (>=3.11,<3.13).
    """
    value = (text or "").strip()
    short = _SHORT.match(value)
    if short:
        version = short.group("version")
        spec = "==" + version + ("" if _EXACT.match(version) else ".*")
        return Request(source, spec, value, "freethreaded" if short.group("freethreaded") else None)
    wildcard = _WILDCARD.match(value)
    if wildcard:
        return Request(source, "==" + value, value)
    if value == "*":
        return Request(source, "", value)
    if not value or not re.match(r"^[<>=!~]", value):
        raise _invalid(source, value)
    spec, notes = _lenient_specifier(value, source)
    return Request(source, spec, value, notes=notes)


def requests_from_project(project_dir):
    """[Request] found in project_dir, by precedence."""
    found = []
    path = os.path.join(project_dir, ".python-version")
    if os.path.isfile(path):
        entries = [line.split("#", 1)[0].strip() for line in _read(path).splitlines()]
        entries = [entry for entry in entries if entry]
        if not entries:
            raise AppenvError("version_file_invalid", file=path, value="", detail="it names no version")
        found.append(parse_request(entries[0], path))
    path = os.path.join(project_dir, "runtime.txt")
    if os.path.isfile(path):
        text = _read(path).strip()
        match = re.match(r"^python-(\d+\.\d+(?:\.\d+)?)$", text)
        if not match:
            raise AppenvError("version_file_invalid", file=path, value=text,
                              detail="it must read python-X.Y or python-X.Y.Z")
        found.append(parse_request(match.group(1), path))
        found[-1].text = text
    path = os.path.join(project_dir, "pyproject.toml")
    if os.path.isfile(path):
        try:
            data = tomllib.loads(_read(path))
        except (tomllib.TOMLDecodeError, ValueError) as exc:
            raise AppenvError("version_file_invalid", file=path, value="", detail="it is not valid TOML: %s" % exc)
        project = data.get("project") if isinstance(data.get("project"), dict) else {}
        requires = project.get("requires-python")
        if requires is not None:
            source = path + " (project.requires-python)"
            if not isinstance(requires, str):
                raise AppenvError("version_file_invalid", file=source, value=repr(requires), detail="it must be a string")
            spec, notes = _lenient_specifier(requires, source)
            found.append(Request(source, spec, requires, notes=notes))
        tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
        poetry = tool.get("poetry") if isinstance(tool.get("poetry"), dict) else {}
        deps = poetry.get("dependencies") if isinstance(poetry.get("dependencies"), dict) else {}
        python = deps.get("python")
        if isinstance(python, dict):
            python = python.get("version")
        if python is not None:
            source = path + " (tool.poetry.dependencies.python)"
            if not isinstance(python, str):
                raise AppenvError("version_file_invalid", file=source, value=repr(python), detail="it must be a string")
            try:
                spec = _poetry_to_pep440(python)
                SpecifierSet(spec)
            except (InvalidVersion, InvalidSpecifier, ValueError, IndexError) as exc:
                raise _invalid(source, python, "; it is not a Poetry version constraint (%s)" % exc)
            found.append(Request(source, spec, python))
    return found
