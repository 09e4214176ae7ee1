# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller half of python_runtime: resolve the version request, then run the module.

The target only ever receives an exact version, an archive URL (or a pushed
archive) and its sha256. Resolution needs ``packaging`` and TOML and reads the
app's files on the controller, so it happens here, with its warnings (nothing
pinned, a newer patch, an end of life near or past). A version past its end of
life is installed only with allow_eol, unless the host already has it and keeps
it: the module is asked first (_decide_only), as for a pushed archive.
"""

from __future__ import annotations

import os

from ansible import constants as C

from ansible_collections.appenv.python.plugins.plugin_utils import _version_request as versions
from ansible_collections.appenv.python.plugins.plugin_utils._arguments import ControllerAction
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._host import ARCH_TRIPLES, normalise_arch
from ansible_collections.appenv.python.plugins.module_utils._layer_decide import ACTION_KEPT, ACTION_KEY
from ansible_collections.appenv.python.plugins.module_utils._options import NETWORK_OPTIONS
from ansible_collections.appenv.python.plugins.plugin_utils._controller_cache import run_module_with_controller_cache
from ansible_collections.appenv.python.plugins.plugin_utils._python_releases import DEFAULT_MIRROR, RELEASES

MODULE = "appenv.python.python_runtime"
CONTROLLER_ONLY = ("project_dir", "allow_eol", "mirror", "release", "archive")


class ActionModule(ControllerAction):
    NAME = "python_runtime"

    def _host_arch(self, args, task_vars):
        """The host's arch: from the task or facts, else asked of the host (uname -m)."""
        arch = self._known_arch(args, task_vars)
        if arch:
            return arch
        out = self._low_level_execute_command("uname -m")
        machine = (out.get("stdout") or "").strip()
        arch = normalise_arch(machine)
        if arch not in ARCH_TRIPLES:
            raise AppenvError("arch_unsupported", machine=machine or "nothing")
        return arch

    def _mirror_listing(self, mirror, release, retries):
        """The mirror's SHA256SUMS for a release, read once per task (not once per arch), pinned to the shipped
        table's sha256 for the files it lists; and the files whose sums disagree with it."""
        listings = self.__dict__.setdefault("_listings", {})
        if (mirror, release) not in listings:
            listings[(mirror, release)] = versions.pin_to_table(
                versions.mirror_releases(mirror, release, memo_dir=self._run_temp_dir(), retries=retries), RELEASES)
        return listings[(mirror, release)]

    @staticmethod
    def _run_temp_dir():
        """This ansible-playbook run's private local temp directory (made by Ansible, removed at its end), or None."""
        path = getattr(C, "DEFAULT_LOCAL_TMP", None)
        return path if path and os.path.isdir(path) else None

    def _table_releases(self):
        return [versions.Release(version, release, triple, filename, sha256,
                                 "%s/%s/%s" % (DEFAULT_MIRROR, release, filename))
                for version, release, triple, filename, sha256 in RELEASES]

    def _resolve(self, args, arch, task_vars):
        module_args = {key: value for key, value in args.items() if key not in CONTROLLER_ONLY}
        module_args["arch"] = arch
        triple = ARCH_TRIPLES[arch]
        if args.get("url") or args.get("src"):
            return module_args, None
        if args.get("archive"):
            path = self._find_needle("files", args["archive"])
            name = os.path.basename(path)
            match = versions.ARCHIVE_NAME.match(name)
            if not match:
                raise AppenvError("archive_name_unrecognised", name=name)
            named = match.group("variant") or "default"
            if args.get("variant") and args["variant"] != named:
                raise AppenvError("variant_conflict", source=name, variant=named, option=args["variant"])
            module_args["variant"] = named
            sha256 = args.get("sha256")
            sums = os.path.join(os.path.dirname(path), "SHA256SUMS")
            if not sha256 and os.path.isfile(sums):
                with open(sums, encoding="utf-8") as handle:
                    listed = versions.parse_sha256sums(handle.read(), "file://" + os.path.dirname(path), "")
                sha256 = next((r.sha256 for r in listed if r.filename == name), None)
            if not sha256:
                raise AppenvError("checksum_missing", url=name, value="(none)")
            module_args.update(version=match.group("version"), sha256=sha256)
            resolution = {"request": name, "source": "the archive option", "release": match.group("release"),
                          "filename": name}
            return module_args, (path, resolution)
        mirror = args.get("mirror") or DEFAULT_MIRROR
        differs = {}
        if args.get("release"):
            retries = int(args.get("retries", NETWORK_OPTIONS["retries"]["default"]))
            releases, differs = self._mirror_listing(mirror, args["release"], retries)
        elif mirror.rstrip("/") == DEFAULT_MIRROR.rstrip("/") or not args.get("mirror"):
            releases = self._table_releases()
        else:
            # A verbatim mirror of python-build-standalone: same release tags and files as the shipped table.
            releases = [versions.Release(r.version, r.release, r.triple, r.filename, r.sha256,
                                         "%s/%s/%s" % (mirror.rstrip("/"), r.release, r.filename))
                        for r in self._table_releases()]
        project_dir = args.get("project_dir")
        chosen = versions.resolve(args.get("version"), project_dir, releases, triple, variant=args.get("variant"))
        versions.check_pinned(chosen, differs, mirror)
        module_args.update(version=chosen.version, url=chosen.url, sha256=chosen.sha256, variant=chosen.variant)
        module_args["_resolution"] = {"request": chosen.request, "source": chosen.source,
                                      "release": chosen.release, "filename": chosen.filename}
        # What only the controller needs (warnings, the end of life) stays here, per arch.
        self.__dict__.setdefault("_resolutions", {})[arch] = chosen
        return module_args, None

    def _known_arch(self, args, task_vars):
        """The host's arch when the task or gathered facts say it, else None (the module finds out)."""
        if args.get("arch"):
            return args["arch"]
        facts = task_vars.get("ansible_facts") or {}
        machine = facts.get("architecture") or task_vars.get("ansible_architecture")
        if not machine:
            return None
        arch = normalise_arch(machine)
        if arch not in ARCH_TRIPLES:
            raise AppenvError("arch_unsupported", machine=machine)
        return arch

    def _resolve_every_arch(self, args, task_vars):
        """Resolve the request for each arch the runtimes exist for; the module picks its host's.

        This saves a round trip to the host (uname) on every run, the no-op ones included.
        """
        candidates = {}
        errors = {}
        module_args = None
        for arch in sorted(ARCH_TRIPLES):
            try:
                resolved, _pushed = self._resolve(args, arch, task_vars)
            except AppenvError as error:
                errors[arch] = error
                candidates[arch] = {"error": {"code": error.code,
                                              "fields": {key: str(value) for key, value in error.fields.items()}}}
                continue
            module_args = resolved
            candidates[arch] = {key: resolved.get(key) for key in ("version", "url", "sha256")}
            candidates[arch]["resolution"] = resolved.get("_resolution")
        if module_args is None:
            # No arch resolves: the request itself is wrong (the same error for every arch).
            raise errors["x86_64"]
        # The variant stays: it follows from the request, the same for every arch.
        for key in ("version", "url", "sha256", "_resolution", "arch"):
            module_args.pop(key, None)
        module_args["_candidates"] = candidates
        return module_args

    def run_checked(self, result, args, task_vars):
        self.__dict__.pop("_resolutions", None)
        try:
            arch = self._known_arch(args, task_vars)
            if arch is None and not (args.get("url") or args.get("src") or args.get("archive")):
                module_args, pushed = self._resolve_every_arch(args, task_vars), None
            else:
                module_args, pushed = self._resolve(args, arch or self._host_arch(args, task_vars), task_vars)
            warnings = self._end_of_life(args, module_args, task_vars)
        except AppenvError as error:
            result.update(failed=True, changed=False, **error.as_result())
            return result
        result.update(self._run_module(module_args, pushed, task_vars))
        self._add_warnings(result, warnings)
        return result

    def _end_of_life(self, args, module_args, task_vars):
        """{arch: [warnings]} of every resolution; a version past its end of life is refused unless allowed or kept.

        Only then is the module asked whether the host keeps what it has (one more round trip, never on a
        supported version). In the every-arch case an arch whose version may not be installed gets the error as
        its candidate, so the host fails only if it is that arch.
        """
        resolutions = self.__dict__.get("_resolutions") or {}
        warnings = {arch: list(chosen.warnings) for arch, chosen in resolutions.items()}
        past = sorted(arch for arch, chosen in resolutions.items() if chosen.end_of_life)
        if not past:
            return warnings
        allow = bool(args.get("allow_eol"))
        kept = False
        if not allow:
            probe = dict(module_args, _decide_only=True)
            kept = self._execute_module(module_name=MODULE, module_args=probe, task_vars=task_vars).get(ACTION_KEY) == ACTION_KEPT
        dest = module_args.get("dest") or "the destination"
        if "_candidates" in module_args:
            module_args["_candidates"] = dict(module_args["_candidates"])
        for arch in past:
            try:
                warnings[arch] += versions.end_of_life_verdict(resolutions[arch], allow, kept, dest)
            except AppenvError as error:
                if "_candidates" not in module_args:
                    raise
                module_args["_candidates"][arch] = {"error": {"code": error.code, "fields": {
                    key: str(value) for key, value in error.fields.items()}}}
        return warnings

    @staticmethod
    def _add_warnings(result, warnings):
        """The warnings of the host's arch (the module reports it), else those every arch shares."""
        arch = result.get("arch")
        if arch in warnings:
            chosen = warnings[arch]
        else:
            distinct = {tuple(found) for found in warnings.values()}
            chosen = list(distinct.pop()) if len(distinct) == 1 else []
        if chosen:
            result["warnings"] = list(result.get("warnings") or []) + chosen

    def _run_module(self, module_args, pushed, task_vars):
        cache = module_args.get("layer_cache") or {}
        if pushed is not None:
            return self._run_with_pushed_archive(module_args, pushed, task_vars)
        if cache.get("controller_path"):
            return run_module_with_controller_cache(self, MODULE, module_args, task_vars, cache)
        return self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)

    def _run_with_pushed_archive(self, module_args, pushed, task_vars):
        """Transfer the controller's archive only when the layer must be built."""
        path, resolution = pushed
        module_args["_resolution"] = resolution
        # The archive's name is a fingerprint input: the runs without the transfer name it as the one with it.
        absent = "/nonexistent/" + os.path.basename(path)
        probe = dict(module_args, src=absent, _decide_only=True)
        decision = self._execute_module(module_name=MODULE, module_args=probe, task_vars=task_vars)
        if decision.get("failed") or decision.get(ACTION_KEY) == ACTION_KEPT or self._task.check_mode:
            return self._execute_module(module_name=MODULE, module_args=dict(module_args, src=absent),
                                        task_vars=task_vars)
        remote_tmp = self._make_tmp_path()
        try:
            remote = self._connection._shell.join_path(remote_tmp, os.path.basename(path))
            self._transfer_file(path, remote)
            self._fixup_perms2([remote_tmp, remote])
            return self._execute_module(module_name=MODULE, module_args=dict(module_args, src=remote),
                                        task_vars=task_vars)
        finally:
            self._remove_tmp_path(remote_tmp)
