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
- ``restored_problems(spec, record)``: after a restore, the record's inputs
  are this host's wanted inputs and ``spec.verify()`` finds nothing wrong.
- ``open_archive(path)``: a directory cache's archive opened once (not
  through a link); its sha256 is computed from that open file while the same
  file (``/proc/self/fd/N``, never the path again) is extracted.
- ``writable_by_others(path)``: a cache directory (or an entry file) that a
  user other than its owner can write (world-writable, sticky or not: a
  sticky directory still lets others create the names not taken yet;
  group-writable by a group other than root's or the running user's own
  private group; or owned by another user than the one running and root) is
  refused with a titled error unless ``allow_shared_writable`` is set.
- ``cleartext_credentials(url)``: an ``http://`` cache URL with credentials
  to a host other than the loopback sends them in the clear: refused unless
  ``allow_shared_writable`` is set, the same acknowledgement.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import hashlib
import os
import stat
import threading

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
        return "its metadata is for key %s, not %s (an entry renamed into place)" % (
            str(meta.get("key"))[:12], key[:12])
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


def restored_problems(spec, record):
    """Sentences naming what is wrong with a layer just restored from record (empty: it may stay)."""
    if record.get("inputs") != spec.wanted:
        return ["its inputs are not this layer's (%s)" % ", ".join(
            sorted(key for key in set(record.get("inputs") or {}) | set(spec.wanted)
                   if (record.get("inputs") or {}).get(key) != spec.wanted.get(key)))[:200]]
    return spec.verify(record)


def _private_group(gid):
    """Whether gid is the running user's own group with no other member (a user-private group)."""
    if gid != os.getegid():
        return False
    try:
        return not grp.getgrgid(gid).gr_mem
    except KeyError:
        return False


def _writable_by_others(path):
    st = os.lstat(path)
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        return "%s is a symbolic link" % path
    if mode & stat.S_IWOTH:
        return "every user can write %s (mode %04o)" % (path, mode)
    if mode & stat.S_IWGRP and st.st_gid != 0 and not _private_group(st.st_gid):
        return "the members of group %d can write %s (mode %04o)" % (st.st_gid, path, mode)
    if st.st_uid not in (0, os.geteuid()):
        return "%s belongs to user %d, who can change it" % (path, st.st_uid)
    return None


def writable_by_others(*paths):
    """A phrase naming who else can write one of paths (a cache directory, an entry's file), or None.

    A path that is not there (removed meanwhile) is skipped: what is read later is checked then.
    """
    for path in paths:
        try:
            why = _writable_by_others(path)
        except OSError:
            continue
        if why:
            return why
    return None


class open_archive:  # pylint: disable=invalid-name
    """An entry's archive opened once: ``path`` names that open file (``/proc/self/fd/N``), ``sha256()`` the
    digest of its bytes, read with pread in a thread (hashlib lets go of the GIL) while it is extracted.

    Raises OSError when it cannot be opened (a link, not a regular file, no /proc to name the open file).
    """

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            if not stat.S_ISREG(os.fstat(self.fd).st_mode):
                raise OSError("%s is not a regular file" % path)
            self.path = "/proc/self/fd/%d" % self.fd
            if not os.path.exists(self.path):
                raise OSError("/proc is not mounted, so the open archive cannot be extracted by its descriptor")
        except BaseException:
            os.close(self.fd)
            raise
        self.digest = None
        self.error = None
        self.thread = threading.Thread(target=self._hash, name="appenv-layer-cache-sha256")
        self.thread.daemon = True
        self.thread.start()

    def _hash(self, chunk=1 << 20):
        sha = hashlib.sha256()
        offset = 0
        try:
            while True:
                block = os.pread(self.fd, chunk, offset)
                if not block:
                    break
                sha.update(block)
                offset += len(block)
            self.digest = sha.hexdigest()
        except OSError as exc:
            self.error = exc

    def sha256(self):
        """The hex digest, or a phrase saying why there is none."""
        self.thread.join()
        return self.digest if self.error is None else "unreadable (%s)" % self.error

    def close(self):
        self.thread.join()
        os.close(self.fd)


def check_directory(root, allow_shared_writable, module):
    """Raise the titled error when the cache directory root (if it exists) is writable by other users."""
    if allow_shared_writable:
        return
    why = writable_by_others(root)  # not there yet: it is made by this user
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
