# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A layer cache entry: its metadata (format, key, compression, sha256, size, kind, layer path, the
fingerprint record, built_at/built_on, hits, last_used, signatures) and its archive.

Read by every cache (_layer_cache.py's directory, _layer_cache_http.py's server, the controller's),
written by ``pack_entry``; _signing.py signs the metadata, _layer_cache_trust.py binds it to a request.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import tarfile
import time

from ansible_collections.appenv.python.plugins.module_utils import _layer

CACHE_FORMAT = "appenv.python/layer-cache/1"
KEY = re.compile(r"^[0-9a-f]{64}$")
# The archive of an entry by its metadata's compression (entries written before it was recorded: gzip).
SUFFIXES = {"none": ".tar", "gzip": ".tar.gz"}


def parse_meta(text):
    """The metadata of an entry from its JSON text, or None when it is not one."""
    try:
        meta = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT or not KEY.match(str(meta.get("key"))):
        return None
    return meta


def compression_of(meta):
    """The compression of an entry's archive ('none' or 'gzip') from its metadata."""
    compression = (meta or {}).get("compression")
    return compression if compression in SUFFIXES else "gzip"


def archive_suffix(meta):
    return SUFFIXES[compression_of(meta)]


def read_meta(meta_path):
    """The metadata in an entry's <key>.json file, or None when it is unreadable or not one."""
    try:
        with open(meta_path) as handle:
            return parse_meta(handle.read())
    except (IOError, OSError):
        return None


def concrete_compression(compression):
    """compression ('none' or 'gzip'); a cache is told which, never 'auto' (that is _layer_cache_options.py's)."""
    if compression not in SUFFIXES:
        raise ValueError("a layer cache stores 'none' or 'gzip' archives, not %r" % (compression,))
    return compression


def _whole_seconds(info):
    """A member's mtime in whole seconds, as ustar holds it: a fractional one costs a pax header per member,
    which doubles the headers a restore reads (pycs record their source's mtime in whole seconds too)."""
    info.mtime = int(info.mtime)
    return info


def unpacked_size(source_dir, files=None):
    """(bytes of regular files, members) an entry of source_dir (or of only files: an overlay) unpacks to."""
    total, members = 0, 0
    if files is not None:
        paths = [os.path.join(source_dir, rel) for rel in files]
    else:
        paths = []
        for root, dirs, names in os.walk(source_dir):
            paths.extend(os.path.join(root, name) for name in dirs + names)
    for path in paths:
        try:
            info = os.lstat(path)
        except OSError:
            continue
        members += 1
        if not os.path.islink(path) and os.path.isfile(path):
            total += info.st_size
    return total, members


def pack_entry(key, source_dir, record, temp, files=None, compression="gzip"):
    """Archive source_dir (or only files, relative paths: an overlay) into temp; the entry's metadata (unsigned)."""
    with (tarfile.open(temp, "w:gz", compresslevel=1) if compression == "gzip" else tarfile.open(temp, "w")) as tar:
        if files is None:
            for name in sorted(os.listdir(source_dir)):
                tar.add(os.path.join(source_dir, name), arcname=name, filter=_whole_seconds)
        else:
            for rel in sorted(files):
                tar.add(os.path.join(source_dir, rel), arcname=rel, recursive=False, filter=_whole_seconds)
    return {
        "format": CACHE_FORMAT,
        "key": key,
        "compression": compression,
        "sha256": _layer.file_sha256(temp),
        "size": os.path.getsize(temp),
        "kind": record.get("kind"),
        "path": record.get("path") or os.path.abspath(source_dir),
        "record": record,
        "built_at": record.get("built_at"),
        "built_on": record.get("built_on"),
        "hits": 0,
        "last_used": int(time.time()),
    }
