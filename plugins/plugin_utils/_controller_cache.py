# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A layer cache kept on the controller and moved over the Ansible connection.

Nothing but Ansible is needed: the action plugin asks the module what it
would do (``_decide_only``), and when the layer must be built it primes an
empty temporary cache directory on the target with the controller's entry for
the layer's key (if any), runs the module with that directory as its
``layer_cache``, and afterwards fetches a newly stored entry back. The cache
format on both sides is module_utils/_layer_cache.py's, so checks (sha256,
atomic writes, eviction) are the same code, reached through DirectoryCache's
public interface. Entries cross the connection, so ``compression: auto``
keeps them gzipped here (module_utils/_layer_cache_options.py decides; the
module on the target is told to store the same).

A host is not trusted to name paths on the controller: the key it answers
with must be a 64-digit hex digest (else the titled error layer_cache_bad_key,
before any path is made of it); a new entry is fetched to fixed names in a
private staging directory and adopted only when its metadata is for that key
and (with hmac_key) its HMAC checks out. The module on the host gets the
trust options too, and checks every entry it restores.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile

from ansible_collections.appenv.python.plugins.module_utils import _layer
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._layer_cache_entry import KEY, archive_suffix, read_meta
from ansible_collections.appenv.python.plugins.module_utils._layer_cache_options import controller_cache, host_options

NOT_WHOLE = "the layer built on the host did not arrive whole; it was not cached"


def controller_reasons(reasons, root):
    """The module's reasons, telling that the layer cache it restored from is the controller's (at root)."""
    return [reason.replace("the layer cache", "the controller's layer cache %s" % root) for reason in reasons]


def predict_restore(result, root):
    """A check-mode result, as it will be when the controller's entry (at root) is restored."""
    result.update(_layer.action_keys(_layer.ACTION_RESTORED))
    result["reasons"] = list(result.get("reasons", [])) + ["restored from the controller's layer cache %s" % root]
    return result


def run_module_with_controller_cache(action, module_name, module_args, task_vars, cache_options):
    """Run module_name the way the action plugin would, with a controller-side layer cache.

    cache_options: {"controller_path": dir on the controller, "max_size_mb", "max_age" (or the deprecated "max_age_days"), "compression"}.
    Returns the module result (with layer_action "restored" when the entry was used).
    """
    try:
        local = controller_cache(cache_options, module_name.rsplit(".", 1)[-1])
    except AppenvError as error:
        return dict(error.as_result(), failed=True, changed=False)
    decision = action._execute_module(module_name=module_name, module_args=dict(module_args, _decide_only=True),
                                      task_vars=task_vars)
    if decision.get("failed") or _layer.action_of(decision) == _layer.ACTION_KEPT or not decision.get("key"):
        if decision.get("failed"):
            return decision
        return action._execute_module(module_name=module_name, module_args=module_args, task_vars=task_vars)

    key = decision["key"]
    if not isinstance(key, str) or not KEY.match(key):
        return dict(AppenvError("layer_cache_bad_key", key=repr(key)[:120]).as_result(), failed=True, changed=False)
    hit = local.lookup(key)
    if action._task.check_mode:
        result = action._execute_module(module_name=module_name, module_args=module_args, task_vars=task_vars)
        if hit is not None and not result.get("failed"):
            predict_restore(result, local.root)
        return result

    made = action._low_level_execute_command("mktemp -d /tmp/appenv-layer-cache.XXXXXX", sudoable=True)
    remote_cache = (made.get("stdout") or "").strip()
    if made.get("rc") != 0 or not remote_cache:
        local.warnings.append("no temporary directory could be made on the host for the layer cache; building")
        result = action._execute_module(module_name=module_name, module_args=module_args, task_vars=task_vars)
        result.setdefault("warnings", []).extend(local.warnings)
        return result
    quote = action._connection._shell.quote
    crossing = None
    try:
        shard = action._connection._shell.join_path(remote_cache, key[:2])
        action._low_level_execute_command("mkdir -p %s" % quote(shard), sudoable=True)
        try:
            crossing = _crossing_dir(action)
            if hit is not None:
                for path in local.entry_files(key, hit):
                    _put(action, path, shard, crossing)
        except OSError as exc:  # the entry is not there: the module builds (and a new entry may not come back)
            local.warnings.append("the controller's layer cache entry could not be put on the host (%s); building"
                                  % exc)
            hit = None
        args = dict(module_args)
        args["layer_cache"] = host_options(cache_options, remote_cache, local.compression)
        result = action._execute_module(module_name=module_name, module_args=args, task_vars=task_vars)
        if not result.get("failed") and _layer.action_of(result) in (_layer.ACTION_CREATED, _layer.ACTION_RECREATED):
            _fetch_back(action, local, key, shard, crossing)
        if hit is not None and _layer.action_of(result) == _layer.ACTION_RESTORED:
            local.count_hit(key, hit)
            result["reasons"] = controller_reasons(result.get("reasons", []), local.root)
        if local.warnings:
            result.setdefault("warnings", []).extend(local.warnings)
        return result
    finally:
        action._low_level_execute_command("rm -rf %s" % quote(remote_cache), sudoable=True)
        if crossing:
            action._low_level_execute_command("rm -rf %s" % quote(crossing), sudoable=True)


def _crossing_dir(action):
    """A directory of the login user's own for entry files crossing the connection, or None.

    Files cross the connection as the user Ansible logs in as, while the module (and the temporary cache made for
    it with mktemp) runs as the become user. When the login user is not root and becomes another user (ssh as
    an admin, then sudo/su to root), the login user can neither write into the become user's 0700 cache directory
    nor read what the module stored there; and the module must not trust files a less-privileged user owns. So
    files cross through a temporary directory the login user makes (mktemp, 0700) and are copied in and out by the
    become user: the cache the module reads holds only files of its own user.
    """
    if not action._connection.become:
        return None
    login = action._get_remote_user()
    if login in (None, "root") or login == (action.get_become_option("become_user") or "root"):
        return None
    made = action._low_level_execute_command("mktemp -d /tmp/appenv-layer-cache-crossing.XXXXXX", sudoable=False)
    crossing = (made.get("stdout") or "").strip()
    if made.get("rc") != 0 or not crossing:
        raise OSError("no temporary directory could be made on the host for %s (%s)"
                      % (login, (made.get("stderr") or "").strip()))
    return crossing


def _put(action, path, shard, crossing):
    """Put the controller's file at path into the host's shard (through crossing, as the become user)."""
    join, quote = action._connection._shell.join_path, action._connection._shell.quote
    if not crossing:
        action._transfer_file(path, join(shard, os.path.basename(path)))
        return
    staged = join(crossing, os.path.basename(path))
    action._transfer_file(path, staged)
    action._fixup_perms2([crossing, staged], execute=False)
    copied = action._low_level_execute_command("cp %s %s" % (quote(staged), quote(shard + "/")), sudoable=True)
    if copied.get("rc") != 0:
        raise OSError("the become user could not copy %s into the host's cache (%s)"
                      % (os.path.basename(path), (copied.get("stderr") or copied.get("stdout") or "").strip()))


def _fetch_back(action, local, key, remote_shard, crossing=None):
    join, quote = action._connection._shell.join_path, action._connection._shell.quote
    login = action._get_remote_user()

    def fetch(name, dest):
        source = join(remote_shard, name)
        if crossing:  # the become user hands the file to the login user, who fetches it
            staged = join(crossing, name)
            handed = action._low_level_execute_command(
                "cp %s %s && chown %s %s" % (quote(source), quote(staged), quote(login), quote(staged)),
                sudoable=True)
            if handed.get("rc") != 0:
                raise OSError("the become user could not hand %s to %s (%s)"
                              % (name, login, (handed.get("stderr") or handed.get("stdout") or "").strip()))
            source = staged
        action._connection.fetch_file(source, dest)

    adopt_fetched(local, key, fetch)


def adopt_fetched(local, key, fetch):
    """Put the entry for key into local, fetched with fetch(name, dest) from the host's shard, if it arrived whole
    and is the entry for key (key: already checked to be a hex digest).

    fetch's dest is always one of two fixed names in a private staging directory. A failure is a warning in
    local.warnings: the layer was built, only the controller's copy is missing.
    """
    meta_path = local.entry_files(key)[1]
    directory = os.path.dirname(meta_path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    staging = tempfile.mkdtemp(prefix=".fetch-", dir=directory)

    def fetched(name, fixed):
        fetch(name, os.path.join(staging, fixed))
        return os.path.join(staging, fixed)

    try:
        meta = read_meta(fetched(key + ".json", "entry.json"))
        if meta is None:
            local.warnings.append(NOT_WHOLE)
            return
        if meta.get("key") != key or local.trust.check(meta) is not None:
            local.warnings.append("the layer built on the host came back as an entry for another key or without a "
                                  "valid signature; it was not cached")
            return
        archive = fetched(key + archive_suffix(meta), "entry" + archive_suffix(meta))
        if _layer.file_sha256(archive) != meta.get("sha256"):
            local.warnings.append(NOT_WHOLE)
            return
        local.adopt(key, archive, meta)
    except Exception as exc:  # pylint: disable=broad-except
        local.warnings.append("the layer could not be copied into the controller's layer cache (%s)" % exc)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
