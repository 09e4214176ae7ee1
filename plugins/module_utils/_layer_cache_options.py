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
- ``max_size_mb`` is a limit in bytes (0 or none: no limit), ``max_age_days``
  one in days; an HTTP cache is evicted on the server, so it takes neither;
- ``url_username``/``url_password`` go into the URL, which the HTTP cache
  sends as basic auth and never shows.

The HTTP cache (and the download code it needs) is imported only when the
option names a URL.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.appenv.python.plugins.module_utils._layer_cache import DirectoryCache
from ansible_collections.appenv.python.plugins.module_utils._urls import with_credentials

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
        max_age_days=dict(type="int"),
        compression=dict(type="str", choices=list(COMPRESSIONS), default="auto"),
    ), mutually_exclusive=[["path", "controller_path", "url"]])


def compression(options, where):
    """The compression new entries are stored with ('none' or 'gzip'); where: path, controller_path or url."""
    chosen = (options or {}).get("compression")
    return AUTO_COMPRESSION[where] if chosen in (None, "auto") else chosen


def max_bytes(options):
    """max_size_mb in bytes, or None (no limit) when it is not set or 0."""
    max_mb = (options or {}).get("max_size_mb")
    return max_mb * 1024 * 1024 if max_mb else None


def _directory(root, options, where):
    return DirectoryCache(root, max_bytes=max_bytes(options), max_age_days=options.get("max_age_days"),
                          compression=compression(options, where))


def from_options(options, module="python_runtime"):
    """The cache a module's layer_cache option (dict or None) names on the target, or None.

    module names the module in errors. controller_path is the action plugins' (controller_cache): None here.
    """
    if not options:
        return None
    if options.get("url"):
        from ansible_collections.appenv.python.plugins.module_utils._layer_cache_http import HttpCache
        return HttpCache(with_credentials(options["url"], options.get("url_username"), options.get("url_password")),
                         module=module, compression=compression(options, "url"))
    if not options.get("path"):
        return None
    return _directory(options["path"], options, "path")


def controller_cache(options):
    """The cache on the controller that layer_cache.controller_path names (~ expanded)."""
    return _directory(os.path.expanduser(options["controller_path"]), options, "controller_path")
