# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side: turn a Python version request into one exact release.

Only the python_runtime action plugin imports this (it needs ``packaging`` and
``tomllib``, which the target may lack). Sources, by precedence: the version
option, ``.python-version``, ``runtime.txt``, then ``pyproject.toml``
(``project.requires-python`` or ``tool.poetry.dependencies.python``). When
several are present they must agree: the chosen version has to satisfy every
specifier found. ``3.12`` means the newest 3.12.Z available for the host;
nothing requested at all means the newest supported minor, with a warning to pin
it. The free-threaded builds (the ``variant`` option, or ``3.13t``) are chosen
from their own archives. The end of life is reported, and enforced by the caller
(end_of_life_verdict) once it knows whether the host keeps what it has.

Which file owns what: this one resolves requests against the releases (SHA256SUMS, a mirror, the
release table), chooses, and owns the end-of-life table and policy; reading the requests (the
version option and the app's files) is ``_version_files``.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import time
import urllib.error
from dataclasses import asdict, dataclass, field, replace

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._urls import redact_url
from ansible_collections.appenv.python.plugins.module_utils._version import COLLECTION_VERSION
from ansible_collections.appenv.python.plugins.plugin_utils._version_files import (
    HAS_PACKAGING, Request, SpecifierSet, Version, parse_request, requests_from_project)

# End of life of each minor version (python.org's release schedule, PEP 596/619/664/693/719/745/790): the one
# table of these dates. A new install of a version past its date is refused unless allow_eol; a runtime already
# installed and kept gets a warning; a version within EOL_WARNING_DAYS of its date gets a warning.
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
    "3.15": datetime.date(2031, 10, 31),
}
EOL_WARNING_DAYS = 183  # about six months

# python-build-standalone builds: the default one and the free-threaded one (PEP 703, "3.13t").
VARIANTS = ("default", "freethreaded")

ARCHIVE_NAME = re.compile(
    r"^cpython-(?P<version>\d+\.\d+\.\d+)\+(?P<release>[0-9A-Za-z._-]+?)-(?P<triple>[a-z0-9_]+-[a-z]+-linux-[a-z]+)"
    r"(?:-(?P<variant>freethreaded))?-(?P<flavour>install_only(?:_stripped)?)\.tar\.(?P<compression>gz|zst|xz)$")
NOTHING_REQUESTED = "nothing requested"


def _release_order(tag):
    """Sort key of a release tag: digit runs compare as numbers (20241016 < 20250115)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.findall(r"\d+|\D+", tag))


@dataclass
class Release:
    version: str
    release: str
    triple: str
    filename: str
    sha256: str
    url: str = ""

    @property
    def variant(self):
        match = ARCHIVE_NAME.match(self.filename)
        return (match.group("variant") if match else None) or "default"

    @property
    def flavour(self):
        match = ARCHIVE_NAME.match(self.filename)
        return match.group("flavour") if match else ""

    def preference(self):
        """Among archives of one version: gzip (every host reads it), then the newest release, then stripped."""
        return (self.filename.endswith(".tar.gz"), _release_order(self.release), self.flavour == "install_only_stripped")


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
    variant: str = "default"
    warnings: list = field(default_factory=list)
    end_of_life: str = ""  # the minor's end-of-life date (ISO) when it has passed, else ""
    newest: str = ""  # the newest version available for the triple and variant

    def as_dict(self):
        return asdict(self)


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
    # Ansible's urls (and the TLS and x509 code it loads) only when a listing is read: the action plugin is imported
    # by every ansible-playbook run that names python_runtime, and without a release nothing is fetched.
    from ansible.module_utils.urls import open_url  # pylint: disable=import-outside-toplevel

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


def mirror_releases(mirror, release, memo_dir=None, **kwargs):
    """The archives of a release, from the mirror's SHA256SUMS.

    memo_dir: a directory private to one ansible-playbook run (its local temp directory, removed when it ends): the
    listing its first task reads serves its other tasks and hosts, so a fleet reads it once per run, not per host.
    Every run reads it again, so a newer archive the mirror lists is noticed by the next run.
    """
    url = "%s/%s/SHA256SUMS" % (mirror.rstrip("/"), release)
    memo = os.path.join(memo_dir, "appenv-sha256sums-" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]) \
        if memo_dir else None
    text = None
    if memo:
        try:
            with open(memo, encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            text = None
    if text is None:
        text = fetch_text(url, **kwargs)
        if memo:
            try:
                with open(memo + ".%d" % os.getpid(), "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.rename(memo + ".%d" % os.getpid(), memo)
            except OSError:
                pass  # no memo: the next task reads the listing again
    return parse_sha256sums(text, mirror, release)


def pin_to_table(releases, table):
    """A mirror's listing with the sha256 of the release table shipped with the collection wherever it lists the
    same file: the table wins over the mirror's own SHA256SUMS (a mirror can rewrite both the file and its sum).

    table: (version, release, triple, filename, sha256) rows. Returns (releases, {filename: the mirror's sha256}
    for the files whose sums disagree): a disagreement is refused when that file is chosen (check_pinned)."""
    known = dict((row[3], row[4].lower()) for row in table)
    pinned, differs = [], {}
    for entry in releases:
        trusted = known.get(entry.filename)
        if trusted is not None and trusted != entry.sha256:
            differs[entry.filename] = entry.sha256
        pinned.append(replace(entry, sha256=trusted or entry.sha256))
    return pinned, differs


def check_pinned(chosen, differs, mirror):
    """Raise runtime_mirror_sha_differs when the mirror lists another sha256 for the chosen file than the table."""
    if chosen.filename in differs:
        raise AppenvError("runtime_mirror_sha_differs", archive=chosen.filename, release=chosen.release,
                          expected=chosen.sha256, actual=differs[chosen.filename], mirror=redact_url(mirror))


# --- choosing ---------------------------------------------------------------------

def _minor(version):
    return ".".join(version.split(".")[:2])


def available(releases, triple, variant="default"):
    """The best archive of each version for triple and variant, newest version first."""
    best = {}
    for release in releases:
        if release.triple != triple or release.variant != variant:
            continue
        kept = best.get(release.version)
        if kept is None or release.preference() > kept.preference():
            best[release.version] = release
    return sorted(best.values(), key=lambda r: Version(r.version), reverse=True)


def _unknown(requests, candidates, releases, triple, variant):
    shown = ", ".join("%s (%s)" % (r.text, r.source) for r in requests)
    if variant != "default":
        default = [r for r in available(releases, triple) if all(Version(r.version) in SpecifierSet(q.spec)
                                                                 for q in requests)]
        if default:
            raise AppenvError("variant_unavailable", variant=variant, request=shown, triple=triple,
                              available=", ".join(r.version for r in candidates[:8]) or "none",
                              default=default[0].version)
    minors = {match.group(1) for match in (re.match(r"^==(\d+\.\d+)(?:\.|$)", q.spec) for q in requests) if match}
    near = [r for r in candidates if _minor(r.version) in minors]
    raise AppenvError("version_unknown", request=shown, triple=triple + ("" if variant == "default" else " " + variant),
                      available=", ".join(r.version for r in (near or candidates)[:12]) or "none")


def choose(requests, releases, triple, variant="default", today=None):
    """(the newest release for triple and variant satisfying every request, all candidates newest first)."""
    candidates = available(releases, triple, variant)
    specs = [(request, SpecifierSet(request.spec)) for request in requests]
    for release in candidates:
        if all(Version(release.version) in spec for _r, spec in specs):
            return release, candidates
    first, first_spec = specs[0]
    alone = [r for r in candidates if Version(r.version) in first_spec]
    if len(specs) > 1 and alone:
        conflicting = [request for request, spec in specs[1:] if Version(alone[0].version) not in spec]
        other = conflicting[0] if conflicting else specs[1][0]
        raise AppenvError("version_conflict", first=first.source, first_value=first.text,
                          second=other.source, second_value=other.text, version=alone[0].version)
    _unknown(requests, candidates, releases, triple, variant)


def _default_request(project_dir, releases, triple, variant, today):
    """Nothing requested: the newest patch of the newest minor that has not reached its end of life."""
    candidates = available(releases, triple, variant)
    supported = [r for r in candidates if END_OF_LIFE.get(_minor(r.version), datetime.date.max) > today]
    newest = (supported or candidates or [None])[0]
    spec = "==%s.*" % _minor(newest.version) if newest else ""
    where = "in %s" % project_dir if project_dir else "(project_dir is not set)"
    pin = _minor(newest.version) if newest else "3.X"
    note = ("No Python version was requested: no version option, and no .python-version, runtime.txt or "
            "pyproject.toml %s. Installing the newest supported Python, %s, which changes when the release table "
            "does. Pin it: set version: '%s' on the task, or write %s to the app's .python-version."
            % (where, newest.version if newest else "(none available)", pin, pin))
    return Request(NOTHING_REQUESTED, spec, "", notes=[note])


def _variant(option, requests):
    """The variant: the variant option, else what the requests say (3.13t), else default."""
    said = [(r.source, r.variant) for r in requests if r.variant]
    if option:
        if option not in VARIANTS:
            raise AppenvError("bad_argument", option="variant", module="python_runtime",
                              detail="variant must be one of %s, not %r" % (", ".join(VARIANTS), option))
        for source, variant in said:
            if variant != option:
                raise AppenvError("variant_conflict", source=source, variant=variant, option=option)
        return option
    return said[0][1] if said else "default"


def _warnings(chosen, candidates, requests, today):
    warnings = [note for request in requests for note in request.notes]
    minor = _minor(chosen.version)
    newer = [r.version for r in candidates if _minor(r.version) == minor and Version(r.version) > Version(chosen.version)]
    if newer:
        warnings.append("Python %s is not the newest %s: %s is available, with the security and bug fixes since. "
                        "Ask for %s (or %s.*) to follow %s's patch releases."
                        % (chosen.version, minor, newer[0], minor, minor, minor))
    eol = END_OF_LIFE.get(minor)
    if eol and today < eol <= today + datetime.timedelta(days=EOL_WARNING_DAYS):
        warnings.append("Python %s reaches its end of life on %s (in %d days): after that it gets no security fixes "
                        "and new installs of it are refused unless allow_eol is set. Plan the move to Python %s."
                        % (minor, eol.isoformat(), (eol - today).days, _minor(candidates[0].version)))
    return warnings


def resolve(version=None, project_dir=None, releases=(), triple="x86_64-unknown-linux-gnu", today=None, variant=None):
    """A Resolution for the request (with its warnings), or an AppenvError saying what to fix.

    The end of life is not enforced here: Resolution.end_of_life says that it has passed, and the caller decides
    with end_of_life_verdict() once it knows whether the host already has this runtime.
    """
    if not HAS_PACKAGING:
        raise AppenvError("controller_dependency_missing", package="packaging", purpose="resolving Python versions")
    today = today or datetime.date.today()
    requests = []
    if version:
        requests.append(parse_request(version, "the version option"))
    if project_dir:
        found = requests_from_project(project_dir)
        if version:
            # The option overrides the app's pins; pyproject.toml declares what the app supports,
            # so the chosen version must still satisfy it.
            found = [entry for entry in found if "pyproject.toml" in entry.source]
        requests.extend(found)
    variant = _variant(variant, requests)
    if not requests:
        requests.append(_default_request(project_dir, releases, triple, variant, today))
    chosen, candidates = choose(requests, releases, triple, variant=variant)
    eol = END_OF_LIFE.get(_minor(chosen.version))
    return Resolution(chosen.version, chosen.url, chosen.sha256, chosen.filename, chosen.release, chosen.triple,
                      requests[0].source, requests[0].text, variant=variant,
                      warnings=_warnings(chosen, candidates, requests, today),
                      end_of_life=eol.isoformat() if eol and eol <= today else "", newest=candidates[0].version)


def end_of_life_verdict(resolution, allow_eol, kept, dest=""):
    """Warnings about a resolution past its end of life, or the version_eol error when it must not be installed.

    kept: the host already has this runtime and keeps it unchanged (never a failure: a host that was fine
    yesterday is not broken by a date); allow_eol: the task accepts a new install of it.
    """
    if not resolution.end_of_life:
        return []
    minor = _minor(resolution.version)
    if kept:
        return ["Python %s at %s reached its end of life on %s and gets no security fixes. It is kept because it is "
                "already installed, but a rebuild or a new host will fail unless allow_eol is set: move the app to "
                "Python %s." % (resolution.version, dest or "the destination", resolution.end_of_life,
                                _minor(resolution.newest))]
    if allow_eol:
        return ["Installing Python %s, which reached its end of life on %s and gets no security fixes "
                "(allow_eol is set): move the app to Python %s." % (resolution.version, resolution.end_of_life,
                                                                    _minor(resolution.newest))]
    raise AppenvError("version_eol", version=resolution.version, minor=minor, date=resolution.end_of_life,
                      source=resolution.source, newest=resolution.newest)
