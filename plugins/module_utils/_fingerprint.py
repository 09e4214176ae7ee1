# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fingerprint record: the one home of its file name, format, key, reading and writing.

A fingerprint is a JSON object next to (or inside) a layer: the inputs it was
built from (host-independent), facts about what was built, and a key (the
sha256 of kind, layer format, path and inputs). Reading never fails: a
missing, unreadable or foreign record is reported as a sentence and the layer
is rebuilt. Writing is atomic (a temporary file renamed into place), and the
engine writes the record last, so a layer without one is never complete.

Also here: the generic compare of two records' inputs (``describe_changes``,
one sentence per difference) and ``read_runtime_fingerprint``, how every module
that sits on a runtime reads what python_runtime recorded about it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import errno
import hashlib
import json
import os
import re
import socket
import stat
import time

FINGERPRINT_FILE = ".appenv-fingerprint.json"
FINGERPRINT_FORMAT = "appenv.python/fingerprint"
FINGERPRINT_FORMAT_VERSION = 1
RUNTIME_KIND = "python_runtime"


def canonical_json(data):
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def digest(data):
    """sha256 of the canonical JSON of data: the host-independent key of a fingerprint."""
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def _show(value):
    if isinstance(value, (dict, list)):
        return canonical_json(value)
    if value is None:
        return "nothing"
    return str(value)


def describe_changes(stored, wanted, labels):
    """Generic compare of two fingerprints' inputs: one sentence per input that differs.

    labels maps an input key to a phrase ("Python version"); a key without a
    label is named as it is. Keys present on one side only count as changed.
    """
    reasons = []
    for key in sorted(set(stored) | set(wanted)):
        old, new = stored.get(key), wanted.get(key)
        if old == new:
            continue
        label = labels.get(key, key)
        if key not in stored:
            reasons.append("%s is new: %s" % (label, _show(new)))
        elif key not in wanted:
            reasons.append("%s is no longer set (was %s)" % (label, _show(old)))
        else:
            reasons.append("%s changed from %s to %s" % (label, _show(old), _show(new)))
    return reasons


def record_key(spec, inputs=None):
    """The fingerprint key: kind, layer format, destination path and inputs (default: the wanted ones)."""
    return digest({"kind": spec.kind, "layer_version": spec.format_version,
                   "path": spec.path, "inputs": spec.wanted if inputs is None else inputs})


def make_record(spec, facts):
    """The fingerprint record of spec's layer built now, on this host, with facts about what was built."""
    return {
        "format": FINGERPRINT_FORMAT,
        "format_version": FINGERPRINT_FORMAT_VERSION,
        "kind": spec.kind,
        "layer_version": spec.format_version,
        "key": record_key(spec),
        "inputs": spec.wanted,
        "facts": facts or {},
        "built_at": int(time.time()),
        "built_on": socket.gethostname(),
    }


def read_fingerprint(spec):
    """(record, problem) from spec.state_path: record is None when there is none or it cannot be used.

    Never raises: problem is None when there is no file, else a sentence (the layer is then rebuilt).
    """
    path = spec.state_path
    try:
        with open(path, "r") as handle:
            raw = handle.read()
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None, None
        return None, "the fingerprint file %s cannot be read (%s)" % (path, exc.strerror)
    try:
        record = json.loads(raw)
    except ValueError:
        return None, "the fingerprint file %s is not valid JSON (truncated or edited by hand)" % path
    if not isinstance(record, dict) or record.get("format") != FINGERPRINT_FORMAT:
        return None, "the fingerprint file %s is not an appenv.python fingerprint" % path
    if record.get("format_version") != FINGERPRINT_FORMAT_VERSION or record.get("kind") != spec.kind:
        return None, "the fingerprint file %s has format %s/%s of kind %s, this collection writes %s/%s of kind %s" % (
            path, record.get("format"), record.get("format_version"), record.get("kind"),
            FINGERPRINT_FORMAT, FINGERPRINT_FORMAT_VERSION, spec.kind)
    if not isinstance(record.get("inputs"), dict) or not isinstance(record.get("facts", {}), dict):
        return None, "the fingerprint file %s is missing its inputs" % path
    if record.get("layer_version") != spec.format_version:
        return None, "the layer was built by a version of appenv.python with layer format %s, this one uses %s" % (
            record.get("layer_version"), spec.format_version)
    return record, None


def read_runtime_fingerprint(runtime_root):
    """(record, problem) of the runtime python_runtime installed at runtime_root.

    The record is usable when it is of kind python_runtime, with a key, its inputs (python_version among
    them) and facts; otherwise record is None and problem says why (no file, or not such a record).
    """
    path = os.path.join(runtime_root, FINGERPRINT_FILE)
    try:
        with open(path) as handle:
            record = json.load(handle)
    except (IOError, OSError) as exc:
        return None, "no fingerprint %s: %s" % (path, exc.strerror)
    except ValueError:
        record = None
    if isinstance(record, dict) and record.get("kind") == RUNTIME_KIND and isinstance(record.get("key"), str) \
            and isinstance(record.get("inputs"), dict) and isinstance(record["inputs"].get("python_version"), str) \
            and isinstance(record.get("facts", {}), dict):
        return record, None
    return None, "its fingerprint %s is unreadable; run python_runtime again to repair it" % path


def write_json_atomic(path, data, mode=0o644):
    """Write data as JSON to path atomically: a reader sees the old file or the whole new one."""
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, 0o755, exist_ok=True)
    temp = "%s.tmp-%d-%s" % (path, os.getpid(), binascii.hexlify(os.urandom(4)).decode("ascii"))
    with open(temp, "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temp, mode)
    os.rename(temp, path)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno != errno.ESRCH  # EPERM: alive, another user's
    return True


def clean_leftovers(directory, stem, min_age=60.0, now=None, remove=True):
    """Remove the temporary files write_json_atomic(<directory>/<stem>) left when its process was killed
    (remove=False: only name them, as check mode does).

    Only '<stem>.tmp-<pid>-<8 hex>' entries whose pid is gone and that are older than min_age seconds
    (a pid of another PID namespace may look gone: the age guards a write in progress); only files
    and symlinks, never followed (unlink removes the link itself). Call it under the layer's lock.
    Returns the names removed.
    """
    now = time.time() if now is None else now
    pattern = re.compile(r"^%s\.tmp-(\d+)-[0-9a-f]{8}$" % re.escape(stem))
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in sorted(names):
        match = pattern.match(name)
        if match is None or _pid_alive(int(match.group(1))):
            continue
        path = os.path.join(directory, name)
        try:
            info = os.lstat(path)
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)) or now - info.st_mtime < min_age:
                continue
            if remove:
                os.unlink(path)
        except OSError:
            continue
        removed.append(name)
    return removed


def write_fingerprint(spec, record):
    """Write spec's fingerprint record atomically; the engine calls this last, once the layer is complete."""
    write_json_atomic(spec.state_path, record)
