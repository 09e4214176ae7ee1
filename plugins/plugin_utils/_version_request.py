# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side: turn a Python version request into one exact release.

Only the python_runtime action plugin imports this (it needs ``packaging`` and
``tomllib``, which the target may lack). Sources, by precedence: the version
option, ``.python-version``, ``runtime.txt``, then ``pyproject.toml``
(``project.requires-python`` or ``tool.poetry.dependencies.python``). When
several are present they must agree: the chosen version has to satisfy every
specifier found. ``3.12`` means the newest 3.12.Z available for the host.
"""

from __future__ import annotations

import datetime
import os
import re
import time
import urllib.error
from dataclasses import asdict, dataclass

from ansible.module_utils.urls import open_url
try:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version
    HAS_PACKAGING = True
except ImportError:  # ansible-core depends on packaging; an odd controller may still lack it
    HAS_PACKAGING = False
    InvalidSpecifier = InvalidVersion = ValueError

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._urls import redact_url
from ansible_collections.appenv.python.plugins.module_utils._version import COLLECTION_VERSION

try:
    import tomllib
except ImportError:  # pragma: no cover - controller Pythons before 3.11
    tomllib = None

# End of life of each minor version (python.org's release schedule).
END_OF_LIFE = {
    "3.6": datetime.date(2021, 12, 23),
    "3.7": datetime.date(2023, 6, 27),
    "3.8": datetime.date(2024, 10, 7),
    "3.9": datetime.date(2025, 10, 31),
    "3.10": datetime.date(2026, 10, 31),
    "3.11": datetime.date(2027, 10, 31),
    "3.12": datetime.date(2028, 10, 31),
    "3.13": datetime.date(2029, 10, 31),
    "3.14": datetime.date(2030, 10, 31),
}

ARCHIVE_NAME = re.compile(
    r"^cpython-(?P<version>\d+\.\d+\.\d+)\+(?P<release>[0-9A-Za-z._-]+?)-(?P<triple>[a-z0-9_]+-[a-z]+-linux-[a-z]+)"
    r"-install_only(?:_stripped)?\.tar\.(?:gz|zst|xz)$")
_EXACT = re.compile(r"^\d+\.\d+\.\d+$")
_MINOR = re.compile(r"^\d+\.\d+$")
_MAJOR = re.compile(r"^\d+$")


@dataclass
class Release:
    version: str
    release: str
    triple: str
    filename: str
    sha256: str
    url: str = ""


@dataclass
class Resolution:
    version: str
    url: str
    sha256: str
    filename: str
    release: str
    triple: str
    source: str
    request: str

    def as_dict(self):
        return asdict(self)


# --- reading the app's files -------------------------------------------------------

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


def _requested_version(text, source):
    """A .python-version / runtime.txt entry: 'X.Y' or 'X.Y.Z' -> specifier text."""
    value = text.strip()
    if _EXACT.match(value):
        return "==" + value
    if _MINOR.match(value) or _MAJOR.match(value):
        return "==" + value + ".*"
    raise AppenvError("version_file_invalid", file=source, value=value,
                      detail="it must name a CPython version as X.Y or X.Y.Z (e.g. 3.12 or 3.12.7)")


def requests_from_project(project_dir):
    """[(source file, specifier text, original text)] found in project_dir, by precedence."""
    found = []
    path = os.path.join(project_dir, ".python-version")
    if os.path.isfile(path):
        entries = [line.split("#", 1)[0].strip() for line in _read(path).splitlines()]
        entries = [entry for entry in entries if entry]
        if not entries:
            raise AppenvError("version_file_invalid", file=path, value="", detail="it names no version")
        found.append((path, _requested_version(entries[0], path), entries[0]))
    path = os.path.join(project_dir, "runtime.txt")
    if os.path.isfile(path):
        text = _read(path).strip()
        match = re.match(r"^python-(\S+)$", text)
        if not match:
            raise AppenvError("version_file_invalid", file=path, value=text,
                              detail="it must read python-X.Y or python-X.Y.Z")
        found.append((path, _requested_version(match.group(1), path), text))
    path = os.path.join(project_dir, "pyproject.toml")
    if os.path.isfile(path):
        try:
            data = tomllib.loads(_read(path))
        except (tomllib.TOMLDecodeError, ValueError) as exc:
            raise AppenvError("version_file_invalid", file=path, value="", detail="it is not valid TOML: %s" % exc)
        project = data.get("project") if isinstance(data.get("project"), dict) else {}
        requires = project.get("requires-python")
        if requires is not None:
            if not isinstance(requires, str):
                raise AppenvError("version_file_invalid", file=path + " (project.requires-python)",
                                  value=repr(requires), detail="it must be a string")
            found.append((path + " (project.requires-python)", requires, requires))
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
                found.append((source, _poetry_to_pep440(python), python))
            except (InvalidVersion, ValueError, IndexError) as exc:
                raise AppenvError("version_file_invalid", file=source, value=python,
                                  detail="it is not a Poetry version constraint (%s)" % exc)
    return found


def _specifier(text, source, original):
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise AppenvError("version_file_invalid", file=source, value=original,
                          detail="it is not a PEP 440 version specifier (e.g. >=3.11,<3.13)")


def option_request(text):
    value = (text or "").strip()
    if _EXACT.match(value) or _MINOR.match(value) or _MAJOR.match(value):
        return "==" + value + ("" if _EXACT.match(value) else ".*")
    return value


# --- available releases ------------------------------------------------------------

def parse_sha256sums(text, base_url, release):
    """Releases listed in a python-build-standalone SHA256SUMS file."""
    releases = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 2:
            continue
        digest, name = fields[0].lower(), fields[1].lstrip("*")
        match = ARCHIVE_NAME.match(name)
        if not match or not re.match(r"^[0-9a-f]{64}$", digest):
            continue
        releases.append(Release(match.group("version"), match.group("release"), match.group("triple"), name, digest,
                                "%s/%s/%s" % (base_url.rstrip("/"), release, name)))
    return releases


def fetch_text(url, retries=3, backoff=1.0, timeout=30, sleep=time.sleep):
    """GET a small text file (http, https, file) with retries; errors never show credentials."""
    attempt = 0
    while True:
        attempt += 1
        retryable = False
        error = ""
        try:
            response = open_url(url, http_agent="appenv.python/%s" % COLLECTION_VERSION, timeout=timeout,
                                follow_redirects="safe")
            try:
                return response.read().decode("utf-8", "replace")
            finally:
                response.close()
        except urllib.error.HTTPError as exc:
            error = "HTTP %d %s" % (exc.code, exc.reason)
            retryable = exc.code >= 500 or exc.code == 429
        except (urllib.error.URLError, OSError, ValueError) as exc:
            error = str(getattr(exc, "reason", exc))
            retryable = not url.startswith("file:")
        if not retryable or attempt > retries:
            raise AppenvError("mirror_unreachable", url=redact_url(url), error=redact_url(error), attempts=attempt)
        sleep(backoff * (2 ** (attempt - 1)))


def mirror_releases(mirror, release, **kwargs):
    url = "%s/%s/SHA256SUMS" % (mirror.rstrip("/"), release)
    return parse_sha256sums(fetch_text(url, **kwargs), mirror, release)


# --- choosing ---------------------------------------------------------------------

def _minor(version):
    return ".".join(version.split(".")[:2])


def choose(requests, releases, triple, today=None, allow_eol=False):
    """Pick the newest release for triple satisfying every request. requests: [(source, spec, text)]."""
    today = today or datetime.date.today()
    candidates = sorted({r.version: r for r in releases if r.triple == triple}.values(),
                        key=lambda r: Version(r.version), reverse=True)
    specs = [(source, _specifier(spec, source, text), text) for source, spec, text in requests]
    chosen = None
    for release in candidates:
        if all(Version(release.version) in spec for _s, spec, _t in specs):
            chosen = release
            break
    if chosen is None:
        first_source, first_spec, first_text = specs[0] if specs else ("the version option", SpecifierSet(), "")
        alone = [r for r in candidates if Version(r.version) in first_spec]
        if len(specs) > 1 and alone:
            conflicting = [(s, t) for s, spec, t in specs[1:] if Version(alone[0].version) not in spec]
            other_source, other_text = conflicting[0] if conflicting else (specs[1][0], specs[1][2])
            raise AppenvError("version_conflict", first=first_source, first_value=first_text,
                              second=other_source, second_value=other_text, version=alone[0].version)
        nearest = ", ".join(r.version for r in candidates[:8]) or "none"
        raise AppenvError("version_unknown", request=", ".join("%s (%s)" % (t, s) for s, _sp, t in specs),
                          triple=triple, available=nearest)
    eol = END_OF_LIFE.get(_minor(chosen.version))
    if eol and eol <= today and not allow_eol:
        newest = candidates[0].version if candidates else "a newer version"
        raise AppenvError("version_eol", version=chosen.version, minor=_minor(chosen.version), date=eol.isoformat(),
                          source=specs[0][0] if specs else "the version option", newest=newest)
    return chosen


def resolve(version=None, project_dir=None, releases=(), triple="x86_64-unknown-linux-gnu", today=None,
            allow_eol=False):
    """A Resolution for the request, or an AppenvError saying what to fix."""
    if not HAS_PACKAGING:
        raise AppenvError("controller_dependency_missing", package="packaging", purpose="resolving Python versions")
    requests = []
    if version:
        requests.append(("the version option", option_request(version), version))
    if project_dir:
        found = requests_from_project(project_dir)
        if version:
            # The option overrides the app's pins; pyproject.toml declares what the app supports,
            # so the chosen version must still satisfy it.
            found = [entry for entry in found if "pyproject.toml" in entry[0]]
        requests.extend(found)
    if not requests:
        raise AppenvError("version_missing", project_dir=project_dir or "(not set)")
    chosen = choose(requests, releases, triple, today=today, allow_eol=allow_eol)
    return Resolution(chosen.version, chosen.url, chosen.sha256, chosen.filename, chosen.release, chosen.triple,
                      requests[0][0], requests[0][2])
