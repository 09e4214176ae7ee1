# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""layer_cache_info's backend: the entries of a layer cache, newest use first, with totals. Changes nothing.

Works on any cache of _layer_cache.py's interface (entries, complete): a
directory read as it is, or a server read through its listings.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._layer_cache import DirectoryCache
from ansible_collections.appenv.python.plugins.module_utils._layer_cache_options import from_options


def describe(cache, now=None):
    """The entries of a cache for layer_cache_info: newest use first, with totals. Changes nothing."""
    now = int(time.time() if now is None else now)
    entries = []
    totals = {"entries": 0, "bytes": 0, "hits": 0, "incomplete": 0, "kinds": {}}
    for meta in cache.entries():
        built_at = meta.get("built_at")
        last_used = meta.get("last_used")
        entry = {
            "key": meta["key"],
            "kind": meta.get("kind"),
            "layer": meta.get("path"),
            "size": int(meta.get("size") or 0),
            "hits": int(meta.get("hits") or 0),
            "built_on": meta.get("built_on"),
            "built_at": built_at,
            "age": max(0, now - int(built_at)) if built_at else None,
            "last_used": last_used,
            "idle": max(0, now - int(last_used)) if last_used else None,
            "complete": cache.complete(meta),
        }
        entries.append(entry)
        totals["entries"] += 1
        totals["bytes"] += entry["size"]
        totals["hits"] += entry["hits"]
        totals["incomplete"] += 0 if entry["complete"] else 1
        kind = totals["kinds"].setdefault(entry["kind"] or "unknown", {"entries": 0, "bytes": 0, "hits": 0})
        kind["entries"] += 1
        kind["bytes"] += entry["size"]
        kind["hits"] += entry["hits"]
    entries.sort(key=lambda entry: (-(entry["last_used"] or 0), entry["key"]))
    return {"entries": entries, "totals": totals}


def info(params, now=None):
    """layer_cache_info: the entries and totals of the cache params name (path or url). Changes nothing.

    now (seconds since the epoch, default the current time) is what ages and idle times are counted to."""
    cache = from_options(params, "layer_cache_info")
    try:
        described = describe(cache, now=now)
    except cache.failures as exc:
        raise AppenvError("layer_cache_unreadable", cache=cache.location, detail=str(exc))
    described.update(changed=False, cache=cache.location)
    if isinstance(cache, DirectoryCache) and not os.path.isdir(cache.root):
        described["warnings"] = ["the layer cache directory %s does not exist (yet): no entries" % cache.root]
    return described
