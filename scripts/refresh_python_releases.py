"""Regenerate plugins/plugin_utils/_python_releases.py, the release table python_runtime resolves against.

Usage::

    python scripts/refresh_python_releases.py SOURCE [--output FILE] [--check]

SOURCE is a download-metadata JSON document, given as a local path or as an
``http://``, ``https://`` or ``file://`` URL (there is no default: say where it
comes from). The document is either a JSON object whose values are entries or
a JSON list of entries. An entry is an object with at least:

- ``url``: where the archive is downloaded, ending in ``.../<release>/<archive>``;
- ``sha256``: the archive's sha256 (64 hex digits).

``name``, ``variant`` and ``prerelease`` are honoured when present (only plain
``cpython`` final releases are kept); everything else is read from the archive
name. Kept: ``cpython-X.Y.Z+<release>-<triple>-install_only_stripped.tar.gz``
for the glibc triples of x86_64 and aarch64, CPython 3.9 and newer, and for
each (version, triple) only the newest release. The output is sorted and holds
nothing but the data, so the same input always gives the same file.

Exit status: 0 on success, 1 when ``--check`` finds the table out of date,
2 on bad input (with a message saying what is wrong).

Standard library only; runs on the controller's Python (3.11).
"""

import argparse
import ast
import json
import os
import re
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

SCRIPT = "scripts/refresh_python_releases.py"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "plugins" / "plugin_utils" / "_python_releases.py"
DEFAULT_MIRROR = "https://github.com/astral-sh/python-build-standalone/releases/download"

TRIPLES = ("x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu")
MINIMUM = (3, 9)
LICENSE_HEADER = (
    "# -*- coding: utf-8 -*-",
    "# Copyright (c) appenv.python contributors",
    "# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)",
)

# Final CPython releases only: a pre-release (3.14.0rc1), a free-threaded build (...-gnu-freethreaded-...),
# a micro-architecture level (x86_64_v3-...) or another asset flavour does not match.
ARCHIVE = re.compile(
    r"^cpython-(?P<version>(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+))\+(?P<release>[0-9A-Za-z._-]+?)"
    r"-(?P<triple>" + "|".join(re.escape(triple) for triple in TRIPLES) + r")"
    r"-install_only_stripped\.tar\.gz$")
SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


class RefreshError(Exception):
    """Bad input: the message says what is wrong and where."""


def _display(source):
    """The source as shown in messages: a URL without its user name and password."""
    parts = urllib.parse.urlsplit(source)
    if parts.scheme and "@" in parts.netloc:
        return urllib.parse.urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))
    return source


def load_metadata(source):
    """The parsed JSON document at source (a path, or an http/https/file URL)."""
    shown = _display(source)
    try:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", source):
            with urllib.request.urlopen(source, timeout=60) as response:  # noqa: S310 - the user names the URL
                raw = response.read()
        else:
            raw = Path(source).read_bytes()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise RefreshError("cannot read %s: %s" % (shown, _display(str(getattr(exc, "reason", exc)))))
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RefreshError("%s is not UTF-8 text: %s" % (shown, exc))
    except json.JSONDecodeError as exc:
        raise RefreshError("%s is not valid JSON: %s (line %d, column %d)" % (shown, exc.msg, exc.lineno, exc.colno))


def _entries(document):
    """(label, entry) for every entry of the document, in document order."""
    if isinstance(document, dict):
        items = [(repr(key), value) for key, value in document.items()]
    elif isinstance(document, list):
        items = [("#%d" % index, value) for index, value in enumerate(document)]
    else:
        raise RefreshError("the metadata must be a JSON object or list of entries, not %s" % type(document).__name__)
    for label, entry in items:
        if not isinstance(entry, dict):
            raise RefreshError("entry %s is %s, not an object with url and sha256" % (label, type(entry).__name__))
        yield label, entry


def _release_order(tag):
    """Sort key of a release tag: digit runs compare as numbers (20241016 < 20250115)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.findall(r"\d+|\D+", tag))


def _version_order(version):
    return tuple(int(part) for part in version.split("."))


def select(document):
    """The release table for a metadata document: sorted (version, release, triple, filename, sha256) tuples."""
    found = {}
    for label, entry in _entries(document):
        url = entry.get("url")
        if not isinstance(url, str) or not url:
            raise RefreshError("entry %s has no url" % label)
        path = urllib.parse.urlsplit(url).path
        filename = urllib.parse.unquote(path.rsplit("/", 1)[-1])
        match = ARCHIVE.match(filename)
        if not match:
            continue
        if entry.get("name", "cpython") != "cpython" or entry.get("variant") or entry.get("prerelease"):
            continue
        if (int(match.group("major")), int(match.group("minor"))) < MINIMUM:
            continue
        release = match.group("release")
        folder = urllib.parse.unquote(path.rsplit("/", 2)[-2]) if path.count("/") >= 2 else ""
        if folder != release:
            raise RefreshError("entry %s: %s is not in a folder named after its release %s (url %s)"
                               % (label, filename, release, _display(url)))
        sha256 = entry.get("sha256")
        if not isinstance(sha256, str) or not SHA256.match(sha256):
            raise RefreshError("entry %s: sha256 of %s must be 64 hex digits, found %r" % (label, filename, sha256))
        row = (match.group("version"), release, match.group("triple"), filename, sha256.lower())
        key = (row[0], row[2])
        kept = found.get(key)
        if kept is not None and kept[1] == row[1]:
            if kept[4] != row[4]:
                raise RefreshError("%s is listed twice with different sha256 (%s and %s)" % (filename, kept[4], row[4]))
            continue
        if kept is None or _release_order(row[1]) > _release_order(kept[1]):
            found[key] = row
    if not found:
        raise RefreshError("no entry of the metadata is a CPython %d.%d+ install_only_stripped archive for %s"
                           % (MINIMUM + (" or ".join(TRIPLES),)))
    return tuple(sorted(found.values(), key=lambda row: (_version_order(row[0]), row[2])))


def render(table):
    """The text of _python_releases.py for the table."""
    versions = sorted({row[0] for row in table}, key=_version_order)
    lines = list(LICENSE_HEADER) + [
        "#",
        "# GENERATED by %s from python-build-standalone download metadata." % SCRIPT,
        "# Do not edit by hand: run the script again (see docs/guides/python-releases.md).",
        '"""python-build-standalone archives the python_runtime action plugin resolves version requests against.',
        "",
        "RELEASES holds (version, release, triple, filename, sha256) tuples, sorted by version then triple:",
        "%d install_only_stripped archives, CPython %s to %s, for" % (len(table), versions[0], versions[-1]),
        "%s; the newest release of each version." % " and ".join(TRIPLES),
        "An archive's URL is DEFAULT_MIRROR/<release>/<filename>.",
        '"""',
        "",
        "from __future__ import absolute_import, division, print_function",
        "",
        "__metaclass__ = type",
        "",
        'DEFAULT_MIRROR = "%s"' % DEFAULT_MIRROR,
        "",
        "RELEASES = (",
    ]
    for version, release, triple, filename, sha256 in table:
        lines += ['    ("%s", "%s", "%s",' % (version, release, triple),
                  '     "%s",' % filename,
                  '     "%s"),' % sha256]
    lines.append(")")
    return "\n".join(lines) + "\n"


def read_table(path):
    """RELEASES of an existing generated file, or () when there is none (never imports or runs it)."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return ()
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["RELEASES"]:
            try:
                return tuple(tuple(row) for row in ast.literal_eval(node.value))
            except (ValueError, TypeError):
                return ()
    return ()


def changes(old, new):
    """Sentences saying how the table changes, one per (version, triple)."""
    before = {(row[0], row[2]): row for row in old if len(row) == 5}
    after = {(row[0], row[2]): row for row in new}
    out = []
    for key in sorted(set(before) | set(after), key=lambda k: (_version_order(k[0]), k[1])):
        old_row, new_row = before.get(key), after.get(key)
        if old_row == new_row:
            continue
        if old_row is None:
            out.append("added %s %s (release %s)" % (key[0], key[1], new_row[1]))
        elif new_row is None:
            out.append("removed %s %s (release %s)" % (key[0], key[1], old_row[1]))
        elif old_row[1] != new_row[1]:
            out.append("%s %s: release %s -> %s" % (key[0], key[1], old_row[1], new_row[1]))
        else:
            out.append("%s %s: sha256 of release %s CHANGED, check why" % (key[0], key[1], new_row[1]))
    return out


def _write(path, text):
    path = Path(path)
    handle, temp = tempfile.mkstemp(dir=str(path.parent), prefix="." + path.name + ".")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, str(path))
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def main(argv=None, stdout=None, stderr=None):
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = argparse.ArgumentParser(
        prog=SCRIPT, description="Regenerate the python-build-standalone release table of python_runtime.")
    parser.add_argument("source", help="download-metadata JSON: a path, or an http(s):// or file:// URL")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT),
                        help="file to write (default: plugins/plugin_utils/_python_releases.py of this repo)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the output file differs from what the source gives")
    args = parser.parse_args(argv)
    try:
        table = select(load_metadata(args.source))
    except RefreshError as exc:
        stderr.write("%s: error: %s\n" % (SCRIPT, exc))
        return 2
    text = render(table)
    try:
        current = Path(args.output).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        current = None
    previous = read_table(args.output) if current is not None else ()
    # A first table is all additions: say how many rather than listing them.
    summary = changes(previous, table) if previous else []
    if args.check:
        if current == text:
            stdout.write("%s is up to date (%d archives)\n" % (args.output, len(table)))
            return 0
        stdout.write("%s is out of date:\n" % args.output)
        for line in summary or ["(only the layout of the file differs)"]:
            stdout.write("  %s\n" % line)
        return 1
    if current == text:
        stdout.write("%s unchanged (%d archives)\n" % (args.output, len(table)))
        return 0
    try:
        _write(args.output, text)
    except OSError as exc:
        stderr.write("%s: error: cannot write %s: %s\n" % (SCRIPT, args.output, exc))
        return 2
    stdout.write("wrote %s (%d archives)\n" % (args.output, len(table)))
    for line in summary:
        stdout.write("  %s\n" % line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
