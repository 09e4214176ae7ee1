# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a layer cache entry must be before it is restored here, and where a cache may live.

_signing.py says who wrote an entry; this file says whether a signed entry is
the one asked for, and whether the cache itself is fit to be trusted:

- ``refusal(spec, key, meta)``: the metadata's key is the key asked for, its
  kind (and its record's) the layer's, its record a fingerprint record; for an
  overlay, every file it lists is a normalised relative path inside the
  overlay root (no ``..``, not absolute, not the engine's own) and one this
  host would make itself (``spec.overlay_unexpected``). The restored inputs
  and ``verify()`` are checked by the engine once the files are in place.
- ``writable_by_others(path)``: a cache directory (or an entry file) that a
  user other than its owner can write (world-writable, sticky or not: a
  sticky directory still lets others create the names not taken yet;
  group-writable by a group other than root's; or owned by another user than
  the one running and root) is refused with a titled error unless
  ``allow_shared_writable`` is set.
- ``cleartext_credentials(url)``: an ``http://`` cache URL with credentials
  to a host other than the loopback sends them in the clear: refused unless
  ``allow_shared_writable`` is set, the same acknowledgement.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._urls import redact_url, url_password

_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def _overlay_path_ok(rel):
    """rel may name an overlay file: relative, normalised, no '..', not one of the engine's own paths."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\0" in rel or "\\" in rel:
        return False
    if os.path.normpath(rel) != rel or rel == ".." or rel.startswith("../") or "/../" in rel:
        return False
    return not rel.split("/", 1)[0].startswith(".appenv-")


def overlay_files_of(record):
    """The file list of an overlay record, as written (unchecked), or None when there is none."""
    overlay = ((record or {}).get("facts") or {}).get("overlay") if isinstance(record, dict) else None
    files = overlay.get("files") if isinstance(overlay, dict) else None
    return files if isinstance(files, list) else None


def refusal(spec, key, meta):
    """None when meta is the entry asked for (key) for spec's layer, else a phrase saying why not."""
    if meta.get("key") != key:
        return "its metadata is for key %s, not %s (an entry renamed into place)" % (str(meta.get("key"))[:12],
                                                                                        key[:12])
    record = meta.get("record")
    if not isinstance(record, dict) or not isinstance(record.get("inputs"), dict):
        return "its record is not a fingerprint record"
    if spec is None:
        return None
    if meta.get("kind") != spec.kind or record.get("kind") != spec.kind:
        return "it holds a %s layer, not a %s layer" % (meta.get("kind"), spec.kind)
    if not spec.overlay:
        return None
    files = overlay_files_of(record)
    if files is None:
        return "its record lists no overlay files"
    bad = [rel for rel in files if not _overlay_path_ok(rel)]
    if bad:
        return "its record lists paths outside %s (%s)" % (spec.overlay_root(), ", ".join(repr(rel) for rel in bad[:3]))
    unexpected = spec.overlay_unexpected(files)
    if unexpected:
        return "its record lists files this host would not make (%s)" % ", ".join(unexpected[:3])
    return None


def writable_by_others(path, st=None):
    """A phrase naming who else can write path (a cache directory or an entry's file), or None."""
    st = os.lstat(path) if st is None else st
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        return "it is a symbolic link"
    if mode & stat.S_IWOTH:
        return "every user can write it (mode %04o)" % mode
    if mode & stat.S_IWGRP and st.st_gid != 0:
        return "the members of group %d can write it (mode %04o)" % (st.st_gid, mode)
    if st.st_uid not in (0, os.geteuid()):
        return "it belongs to user %d, who can change it" % st.st_uid
    return None


def check_directory(root, allow_shared_writable, module):
    """Raise the titled error when the cache directory root (if it exists) is writable by other users."""
    if allow_shared_writable:
        return
    try:
        why = writable_by_others(root)
    except OSError:
        return  # not there yet: it is made by this user
    if why:
        raise AppenvError("layer_cache_shared_writable", cache=root, why=why, module=module)


def cleartext_credentials(url):
    """Whether url is http:// with credentials to a host other than the loopback."""
    if not url or not url.lower().startswith("http://") or not url_password(url):
        return False
    host = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return host.lower() not in _LOOPBACK


def check_url(url, allow_shared_writable, module):
    if cleartext_credentials(url) and not allow_shared_writable:
        raise AppenvError("layer_cache_cleartext_credentials", cache=redact_url(url), module=module)
