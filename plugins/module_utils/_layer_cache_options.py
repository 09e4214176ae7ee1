# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layer_cache option (doc fragment appenv.python.layer_cache): the one place it becomes a cache.

``argument_spec()`` is the option's spec; ``from_options()`` the cache a
module on the target uses (a directory, or a server); ``controller_cache()``
the directory the action plugins keep on the controller. What the option's
values mean is decided here and nowhere else:

- ``compression: auto`` is plain tar where entries are read from a directory
  on the target (read at disk speed: gunzip runs at a few hundred MB/s, slower
  than the disk it saves reading) and gzip where they cross a network (an HTTP
  server, the controller's cache over the connection);
- ``max_size_mb`` is a limit in bytes (0 or none: no limit), ``max_age`` one
  in time (a duration, as app_dependencies' max_age: 3600, 30m, 12h, 7d, 2w;
  ``max_age_days``, its deprecated form, in days); an HTTP cache is evicted on
  the server, so it takes none of them;
- ``url_username``/``url_password`` go into the URL, which the HTTP cache
  sends as basic auth and never shows; over ``http://`` to a host other than
  the loopback they are refused unless ``allow_shared_writable``;
- ``hmac_key``, ``signing_key``, ``allowed_signers`` and ``trust`` become the
  cache's _signing.Trust (no way to verify and ``trust: signed``: a titled
  error); ``store: false`` a reader; a ``path`` other users can write is
  refused unless ``allow_shared_writable`` (_layer_cache_trust.py);
- on the controller (``controller_path``) the controller checks what it can
  itself: the HMAC; ssh signatures are checked by the hosts, whose paths
  ``signing_key`` and ``allowed_signers`` are.

The HTTP cache (and the download code it needs) is imported only when the
option names a URL.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.appenv.python.plugins.module_utils._duration import parse_duration
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._urls import with_credentials

# The values of layer_cache.trust (_signing.Trust checks entries by them; imported only by a module given a cache).
TRUST_CHOICES = ("signed", "unsigned")

COMPRESSIONS = ("auto", "none", "gzip")
# What compression "auto" stands for, by where the cache is (see above).
AUTO_COMPRESSION = {"path": "none", "controller_path": "gzip", "url": "gzip"}


def argument_spec():
    """The layer_cache option of python_runtime, pip_tooling and app_dependencies (doc fragment layer_cache)."""
    return dict(type="dict", options=dict(
        path=dict(type="path"),
        controller_path=dict(type="path"),
        url=dict(type="str"),
        url_username=dict(type="str"),
        url_password=dict(type="str", no_log=True),
        max_size_mb=dict(type="int"),
        max_age=dict(type="str"),
        max_age_days=dict(type="int"),  # deprecated (0.3.0): max_age
        max_entry_mb=dict(type="int", default=4096),
        max_entry_members=dict(type="int", default=200000),
        compression=dict(type="str", choices=list(COMPRESSIONS), default="auto"),
        hmac_key=dict(type="str", no_log=True),
        signing_key=dict(type="path", no_log=False),
        allowed_signers=dict(type="path"),
        trust=dict(type="str", choices=list(TRUST_CHOICES), default="signed"),
        store=dict(type="bool", default=True),
        allow_shared_writable=dict(type="bool", default=False),
    ), mutually_exclusive=[["path", "controller_path", "url"], ["max_age", "max_age_days"]])


# What the controller passes on to the module it runs with a temporary cache directory on the host.
TRUST_OPTIONS = ("hmac_key", "signing_key", "allowed_signers", "trust", "store", "max_entry_mb", "max_entry_members")


def compression(options, where):
    """The compression new entries are stored with ('none' or 'gzip'); where: path, controller_path or url."""
    chosen = (options or {}).get("compression")
    return AUTO_COMPRESSION[where] if chosen in (None, "auto") else chosen


def max_bytes(options):
    """max_size_mb in bytes, or None (no limit) when it is not set or 0."""
    max_mb = (options or {}).get("max_size_mb")
    return max_mb * 1024 * 1024 if max_mb else None


def limited(cache, options, module):
    """cache with the entry limits of options (max_entry_mb, max_entry_members; unset: the archive defaults)."""
    for option, attribute, scale in (("max_entry_mb", "max_entry_bytes", 1024 * 1024),
                                     ("max_entry_members", "max_entry_members", 1)):
        value = (options or {}).get(option)
        if value is None:
            continue
        if value <= 0:
            raise AppenvError("bad_argument", option="layer_cache.%s" % option, module=module,
                              detail="layer_cache.%s must be a positive number, not %s" % (option, value))
        setattr(cache, attribute, value * scale)
    return cache


def max_age_days(options, module="python_runtime"):
    """max_age (a duration) or the deprecated max_age_days, in days; None when neither is set."""
    seconds = parse_duration((options or {}).get("max_age"), option="layer_cache.max_age", module=module)
    if seconds is not None:
        return seconds / 86400.0
    return (options or {}).get("max_age_days")


def _directory(root, options, where, trust, module, runner=None):
    # The cache code is imported only when a task names a cache: a module without one never loads (nor, under
    # AnsiballZ, compiles) it; the same for HttpCache below.
    from ansible_collections.appenv.python.plugins.module_utils._layer_cache import DirectoryCache
    from ansible_collections.appenv.python.plugins.module_utils._layer_cache_trust import check_directory

    check_directory(root, options.get("allow_shared_writable"), module)
    cache = DirectoryCache(root, max_bytes=max_bytes(options), max_age_days=max_age_days(options, module),
                           compression=compression(options, where), trust=trust, runner=runner,
                           store=options.get("store") is not False,
                           allow_shared_writable=bool(options.get("allow_shared_writable")))
    return limited(cache, options, module)


def from_options(options, module="python_runtime", runner=None):
    """The cache a module's layer_cache option (dict or None) names on the target, or None.

    module names the module in errors; runner: the module's CommandRunner (ssh-keygen runs through it, the
    HMAC key is masked in its output). controller_path is the action plugins' (controller_cache): None here.
    """
    if not options or not (options.get("url") or options.get("path")):
        return None
    from ansible_collections.appenv.python.plugins.module_utils._signing import Trust

    trust = Trust.from_options(options, module)
    if runner is not None:
        for secret in trust.secrets:
            runner.add_secret(secret)
    if options.get("url"):
        from ansible_collections.appenv.python.plugins.module_utils._layer_cache_http import HttpCache
        from ansible_collections.appenv.python.plugins.module_utils._layer_cache_trust import check_url
        url = with_credentials(options["url"], options.get("url_username"), options.get("url_password"))
        check_url(url, options.get("allow_shared_writable"), module)
        return limited(HttpCache(url, module=module, compression=compression(options, "url"), trust=trust,
                                 store=options.get("store") is not False, runner=runner), options, module)
    return _directory(options["path"], options, "path", trust, module, runner)


def listing_cache(options, module):
    """The cache layer_cache_info lists (path or url): it reads metadata only, restores and writes nothing."""
    return from_options(dict(options, trust="unsigned", store=False, allow_shared_writable=True), module)


def controller_cache(options, module="python_runtime"):
    """The cache on the controller that layer_cache.controller_path names (~ expanded).

    It checks the HMAC of what it holds and adopts (with hmac_key); ssh signatures are the hosts' to check.
    """
    from ansible_collections.appenv.python.plugins.module_utils._signing import Trust

    trust = Trust(options.get("hmac_key"), trust="signed" if options.get("hmac_key") else "unsigned")
    if options.get("trust", "signed") == "signed" and not (options.get("hmac_key") or options.get("allowed_signers")):
        Trust.from_options(options, module)  # the titled error: no way to check entries anywhere
    return _directory(os.path.expanduser(options["controller_path"]), options, "controller_path", trust, module)


def host_options(options, path, compression_name):
    """The layer_cache option the controller gives the module it runs with the temporary cache at path."""
    passed = dict((name, options[name]) for name in TRUST_OPTIONS if options.get(name) is not None)
    passed.update(path=path, compression=compression_name)
    return passed
