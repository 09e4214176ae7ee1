# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backend of python_runtime: a relocatable CPython as a layer.

The archive (python-build-standalone layout: a top ``python/`` directory) is
downloaded or taken from a path on the host, checked against its sha256, and
extracted safely into a staging directory that is renamed into place: the
runtime is relocatable, so build-then-rename is right for it. The shipped
bytecode is replaced by unchecked-hash pycs compiled in parallel by the new
interpreter itself (the design notes' measurements: the fastest at start-up,
and never stale because nothing edits the stdlib).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import shutil

from ansible_collections.appenv.python.plugins.module_utils import _host, _layer, _manifest, _sysconfig
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

# The caps of a runtime's download and archive (module options of the same names; MiB and members). The archive's
# default caps are _archive's, read by a build: a no-op loads no download, extraction or bytecode code (AnsiballZ
# compiles every module_util a module imports, on every run).
RUNTIME_LIMITS = ("max_download_mb", "max_archive_mb", "max_archive_members")
MAX_DOWNLOAD_MB = 2048
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_PROBE = (
    "import json, platform, sys, sysconfig;"
    "print(json.dumps({'version': platform.python_version(), 'machine': platform.machine(),"
    " 'prefix': sys.prefix, 'cache_tag': sys.implementation.cache_tag,"
    " 'purelib': sysconfig.get_paths()['purelib'], 'gil_disabled': bool(sysconfig.get_config_var('Py_GIL_DISABLED'))}))"
)


def minor_of(version):
    match = _VERSION.match(version or "")
    if not match:
        raise AppenvError("bad_argument", option="version", module="python_runtime",
                          detail="%r is not an exact X.Y.Z version; the action plugin resolves requests "
                                 "such as '3.12' to one." % (version,))
    return "%s.%s" % (match.group(1), match.group(2))


class RuntimeLayerSpec(_layer.LayerSpec):
    kind = "python_runtime"
    format_version = 2
    strategy = "staging"
    labels = {
        "python_version": "Python version",
        "arch": "Architecture",
        "distro": "Host distribution",
        "libc": "C library",
        "archive_sha256": "Runtime archive sha256",
        "archive": "Runtime archive",
        "stdlib_bytecode": "Stdlib bytecode",
        "compiler": "Compiler named in the runtime's build settings",
        "variant": "Python variant",
    }

    def __init__(self, dest, version, arch, sha256, archive_name, url=None, src=None, variant="default",
                 compile_bytecode=True, workers=0, retries=3, timeout=900, compiler=None, limits=None):
        self.minor = minor_of(version)
        self.variant = variant
        # The free-threaded build names its interpreter and lib directory with the ABI flag: python3.13t.
        self.abi = self.minor + ("t" if variant == "freethreaded" else "")
        self.url = url
        self.src = src
        self.workers = workers
        self.retries = retries
        self.timeout = timeout
        # max_download_mb, max_archive_mb, max_archive_members: the caps of the download and of the archive
        self.limits = dict(limits or {})
        self.compile_bytecode = compile_bytecode
        self.compilers = _sysconfig.host_compilers(compiler)
        wanted = {
            "python_version": version,
            "arch": arch,
            "distro": _host.host_distro(),
            "libc": _host.host_libc(),
            "archive": archive_name,
            "archive_sha256": sha256.lower(),
            "stdlib_bytecode": "unchecked-hash" if compile_bytecode else "as shipped",
            "compiler": self.compilers["cc"],
        }
        if variant != "default":
            # Only a non-default variant is an input, so runtimes built before variants existed keep their key.
            wanted["variant"] = variant
        super(RuntimeLayerSpec, self).__init__(dest, wanted)

    def compare(self, stored, wanted):
        """As the engine's, with a fingerprint without a variant read as the default build."""
        inputs = dict(stored.get("inputs", {}))
        inputs.setdefault("variant", "default")
        return _layer.ACTION_RECREATED, _layer.describe_changes(inputs, dict(wanted, variant=self.variant), self.labels)

    @property
    def stdlib_dir(self):
        return "lib/python" + self.abi

    def python(self, root=None):
        return os.path.join(root or self.path, "bin", "python" + self.abi)

    def verify(self, stored):
        facts = stored.get("facts", {})
        interpreter = self.python()
        if not os.access(interpreter, os.X_OK):
            return ["the interpreter %s is missing or not executable" % interpreter]
        expected = facts.get("manifest_sha256")
        if not expected:
            return ["the layer has no file list"]
        return _manifest.check_manifest(self.path, expected)

    def build(self, target, runner):
        from ansible_collections.appenv.python.plugins.module_utils import _archive, _bytecode

        limits = dict({"max_download_mb": MAX_DOWNLOAD_MB, "max_archive_mb": _archive.MAX_TOTAL_MB,
                       "max_archive_members": _archive.MAX_MEMBERS}, **self.limits)
        work = os.path.join(target, ".appenv-work")
        os.makedirs(work, 0o700)
        path = self.src
        if not path:
            path = os.path.join(work, self.wanted["archive"] or "runtime.tar.gz")
            from ansible_collections.appenv.python.plugins.module_utils import _download

            _download.download(self.url, path, self.wanted["archive_sha256"], retries=self.retries,
                               timeout=min(self.timeout, 300), deadline=self.timeout,
                               max_bytes=limits["max_download_mb"] << 20)
        # Hashed and extracted through one open file: src cannot be swapped between the check and the extraction.
        archive, actual = _archive.open_checked(path)
        with archive:
            if actual != self.wanted["archive_sha256"]:
                raise AppenvError("checksum_mismatch", url=path, expected=self.wanted["archive_sha256"],
                                  actual=actual)
            extracted = os.path.join(work, "extract")
            _archive.safe_extract(archive, extracted, runner=runner,
                                  max_total_bytes=limits["max_archive_mb"] << 20,
                                  max_members=limits["max_archive_members"])
        top = os.path.join(extracted, "python")
        if not os.path.isfile(os.path.join(top, "bin", "python" + self.abi)):
            raise AppenvError("runtime_layout_unexpected", archive=self.wanted["archive"], minor=self.abi,
                              found=", ".join(sorted(os.listdir(extracted))[:10]) or "nothing")
        for name in os.listdir(top):
            os.rename(os.path.join(top, name), os.path.join(target, name))
        shutil.rmtree(work)
        # Before the stdlib is compiled: a rewritten _sysconfigdata must not keep the archive's bytecode.
        settings = _sysconfig.rewrite_runtime(target, self.path, self.minor, self.compilers, self.wanted["archive"])

        probe = self._probe(target, runner)
        probe["build_settings"] = settings
        if self.compile_bytecode:
            stdlib = os.path.join(target, self.stdlib_dir)
            # The archive's own level-0 pycs that match their sources are re-stamped (their code kept, a few
            # milliseconds), the rest compiled; then every other pyc (other levels, orphans) is deleted.
            compiled = _bytecode.compile_trees(runner, self.python(target), [stdlib], invalidation_mode="unchecked-hash",
                                               optimize_levels=(0,), workers=self.workers, reuse=True)
            _bytecode.delete_pycs([stdlib], keep_tag=compiled["cache_tag"])
        # site-packages and pip's scripts belong to pip_tooling, which upgrades pip in place.
        manifest_sha, entries = _manifest.write_manifest(
            target, exclude_dirs=[self.stdlib_dir + "/site-packages"], exclude_prefixes=("bin/pip",))
        probe.update({"manifest_sha256": manifest_sha, "files": entries})
        return probe

    def _probe(self, root, runner):
        """Run the new interpreter once: it must start on this host and be the version asked for."""
        interpreter = self.python(root)
        result = runner.run([interpreter, "-I", "-c", _PROBE], what="Starting the new Python interpreter",
                            check=False, fault="runtime_broken")
        if result.rc != 0:
            raise AppenvError("runtime_broken", interpreter=interpreter, arch=self.wanted["arch"],
                              host_arch=_host.host_arch(), output=runner.mask(result.output[-2000:]))
        try:
            facts = json.loads(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AppenvError("runtime_broken", interpreter=interpreter, arch=self.wanted["arch"],
                              host_arch=_host.host_arch(), output=runner.mask(result.output[-2000:]))
        if facts.get("version") != self.wanted["python_version"]:
            raise AppenvError("runtime_version_mismatch", archive=self.wanted["archive"],
                              expected=self.wanted["python_version"], actual=facts.get("version"))
        built = "freethreaded" if facts.get("gil_disabled") else "default"
        if built != self.variant:
            raise AppenvError("runtime_variant_mismatch", archive=self.wanted["archive"], expected=self.variant,
                              actual=built)
        return {
            "python_version": facts["version"],
            "machine": facts.get("machine"),
            "cache_tag": facts.get("cache_tag"),
            "purelib_rel": os.path.relpath(facts.get("purelib", ""), facts.get("prefix", "/")),
        }


def check_host_arch(wanted_arch):
    host = _host.host_arch()
    if wanted_arch and _host.normalise_arch(wanted_arch) != host:
        raise AppenvError("runtime_wrong_arch", wanted=wanted_arch, host=host)
    return host


def runtime_result(spec, layer_result, diff=False):
    result = layer_result.as_result(diff=diff)
    facts = layer_result.facts or {}
    result.update({
        "python_version": spec.wanted["python_version"],
        "arch": spec.wanted["arch"],
        "variant": spec.variant,
        "dest": spec.path,
        "interpreter": spec.python(),
        "bin_dir": os.path.join(spec.path, "bin"),
        "build_settings": facts.get("build_settings"),
        "site_packages": os.path.join(spec.path, facts["purelib_rel"]) if facts.get("purelib_rel")
        else os.path.join(spec.path, spec.stdlib_dir, "site-packages"),
    })
    return result


def _pick_candidate(params):
    """Take the resolution for this host's arch from those the action plugin made for every arch."""
    arch = _host.host_arch()
    entry = (params["_candidates"] or {}).get(arch)
    if entry is None:
        raise AppenvError("arch_unsupported", machine=arch)
    if entry.get("error"):
        raise AppenvError(entry["error"]["code"], **entry["error"]["fields"])
    for key in ("version", "url", "sha256"):
        params[key] = entry.get(key)
    params["_resolution"] = entry.get("resolution")
    params["arch"] = arch


def _spec(params):
    if params["_candidates"] and not params["version"]:
        _pick_candidate(params)
    for option in ("version", "sha256"):
        if not params[option]:
            raise AppenvError("bad_argument", option=option, module="python_runtime",
                              detail="%s is required once the version request is resolved" % option)
    if not (params["url"] or params["src"]):
        raise AppenvError("bad_argument", option="url", module="python_runtime",
                          detail="one of url or src is required once the version request is resolved")
    arch = check_host_arch(params["arch"])
    source = params["src"] or params["url"]
    return RuntimeLayerSpec(
        params["dest"], params["version"], arch, params["sha256"], source.rstrip("/").rsplit("/", 1)[-1],
        url=params["url"], src=params["src"], variant=params["variant"] or "default",
        compile_bytecode=params["compile_bytecode"],
        workers=params["bytecode_workers"], retries=params["retries"], timeout=params["timeout"],
        compiler=params["compiler"],
        limits=dict((name, params[name]) for name in RUNTIME_LIMITS if params.get(name) is not None))


def run_python_runtime(params, runner, check_mode=False, diff=False, cache=None):
    """The module python_runtime: its parameters (the version request resolved by the action plugin) in, its result
    out. _decide_only reports the action and the layer cache key a run would have, and changes nothing."""
    spec = _spec(params)
    if params["_decide_only"]:
        action, reasons, _stored = _layer.decide(spec)
        return {"changed": False, _layer.ACTION_KEY: action, "reasons": reasons,
                "key": _layer.make_record(spec, {})["key"]}
    layer = _layer.converge(spec, runner, check_mode=check_mode, lock_timeout=params["lock_timeout"], cache=cache,
                            force=params.get("force", False))
    result = runtime_result(spec, layer, diff=diff)
    if params["_resolution"]:
        result["resolution"] = params["_resolution"]
    return result
