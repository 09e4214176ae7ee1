# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A layer cache kept on the controller and moved over the Ansible connection.

Nothing but Ansible is needed: the action plugin asks the module what it
would do (``decide_only``), and when the layer must be built it primes an
empty temporary cache directory on the target with the controller's entry for
the layer's key (if any), runs the module with that directory as its
``layer_cache``, and afterwards fetches a newly stored entry back. The cache
format on both sides is module_utils/_layer_cache.py's, so checks (sha256,
atomic writes, eviction) are the same code. Entries cross the connection, so
``compression: auto`` keeps them gzipped here (the module on the target is
told to store the same).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile

from ansible_collections.appenv.python.plugins.module_utils import _layer
from ansible_collections.appenv.python.plugins.module_utils._layer_cache import DirectoryCache, archive_suffix


def _entry_files(cache, key, meta):
    _directory, archive, meta_path = cache._paths(key, meta)
    return archive, meta_path


def run_module_with_controller_cache(action, module_name, module_args, task_vars, cache_options):
    """Run module_name the way the action plugin would, with a controller-side layer cache.

    cache_options: {"controller_path": dir on the controller, "max_size_mb", "max_age_days", "compression"}.
    Returns the module result (with action "restored" when the entry was used).
    """
    local = DirectoryCache(os.path.expanduser(cache_options["controller_path"]),
                           max_bytes=(cache_options.get("max_size_mb") or 0) * 1024 * 1024 or None,
                           max_age_days=cache_options.get("max_age_days"),
                           compression="gzip" if cache_options.get("compression") in (None, "auto")
                           else cache_options["compression"])
    decision = action._execute_module(module_name=module_name, module_args=dict(module_args, decide_only=True),
                                      task_vars=task_vars)
    if decision.get("failed") or decision.get("action") == _layer.ACTION_KEPT or not decision.get("key"):
        if decision.get("failed"):
            return decision
        return action._execute_module(module_name=module_name, module_args=module_args, task_vars=task_vars)

    key = decision["key"]
    hit = local.lookup(key)
    if action._task.check_mode:
        result = action._execute_module(module_name=module_name, module_args=module_args, task_vars=task_vars)
        if hit is not None and not result.get("failed"):
            result["action"] = _layer.ACTION_RESTORED
            result["reasons"] = list(result.get("reasons", [])) + [
                "restored from the controller's layer cache %s" % local.root]
        return result

    made = action._low_level_execute_command("mktemp -d /tmp/appenv-layer-cache.XXXXXX", sudoable=True)
    remote_cache = (made.get("stdout") or "").strip()
    if made.get("rc") != 0 or not remote_cache:
        local.warnings.append("no temporary directory could be made on the host for the layer cache; building")
        result = action._execute_module(module_name=module_name, module_args=module_args, task_vars=task_vars)
        result.setdefault("warnings", []).extend(local.warnings)
        return result
    quote = action._connection._shell.quote
    try:
        shard = action._connection._shell.join_path(remote_cache, key[:2])
        action._low_level_execute_command("mkdir -p %s" % quote(shard), sudoable=True)
        if hit is not None:
            archive, meta = _entry_files(local, key, hit)
            for path in (archive, meta):
                action._transfer_file(path, action._connection._shell.join_path(shard, os.path.basename(path)))
        args = dict(module_args)
        args["layer_cache"] = {"path": remote_cache, "compression": local.compression}
        result = action._execute_module(module_name=module_name, module_args=args, task_vars=task_vars)
        if not result.get("failed") and result.get("action") in (_layer.ACTION_CREATED, _layer.ACTION_RECREATED):
            _fetch_back(action, local, key, shard)
        if hit is not None and result.get("action") == _layer.ACTION_RESTORED:
            local._count_hit(key, hit)
            result["reasons"] = [reason.replace("the layer cache", "the controller's layer cache %s" % local.root)
                                 for reason in result.get("reasons", [])]
        if local.warnings:
            result.setdefault("warnings", []).extend(local.warnings)
        return result
    finally:
        action._low_level_execute_command("rm -rf %s" % quote(remote_cache), sudoable=True)


def _fetch_back(action, local, key, remote_shard):
    _archive_path, meta = _entry_files(local, key, None)
    directory = os.path.dirname(meta)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    staging = tempfile.mkdtemp(prefix=".fetch-", dir=directory)

    def fetch(name):
        action._connection.fetch_file(action._connection._shell.join_path(remote_shard, name),
                                      os.path.join(staging, name))
        return os.path.join(staging, name)

    try:
        fetched_meta = fetch(os.path.basename(meta))
        meta_data = DirectoryCache(staging)._read_meta(fetched_meta)
        if meta_data is None:
            local.warnings.append("the layer built on the host did not arrive whole; it was not cached")
            return
        fetched_archive = fetch(key + archive_suffix(meta_data))
        if _layer.file_sha256(fetched_archive) != meta_data.get("sha256"):
            local.warnings.append("the layer built on the host did not arrive whole; it was not cached")
            return
        local._forget(key)
        os.rename(fetched_archive, _entry_files(local, key, meta_data)[0])
        os.rename(fetched_meta, meta)
        local.evict()
    except Exception as exc:  # pylint: disable=broad-except
        local.warnings.append("the layer could not be copied into the controller's layer cache (%s)" % exc)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
