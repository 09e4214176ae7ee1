"""The runtime layer, built from a tiny archive whose interpreter is a wrapper around this test's Python.

The archive has python-build-standalone's layout (a top ``python/`` directory); its ``bin/pythonX.Y`` execs
sys.executable, so the probe, the version check and the stdlib compile run a real interpreter.
"""

import io
import os
import platform
import sys
import tarfile

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _host, _layer, _manifest, _runtime
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner

VERSION = platform.python_version()  # what the wrapped interpreter reports
MINOR = ".".join(VERSION.split(".")[:2])
TAG = sys.implementation.cache_tag


def _wrapper(body=None):
    return body or '#!/bin/sh\nexec "%s" "$@"\n' % sys.executable


def make_archive(directory, name="cpython-%s+20261201-x86_64-unknown-linux-gnu-install_only.tar.gz" % VERSION,
                 top="python", interpreter=None, extra=None):
    """A gzip'd tar in python-build-standalone's layout; returns (path, sha256)."""
    files = {
        "bin/python" + MINOR: (_wrapper(interpreter), 0o755),
        "bin/pip3": ("#!/bin/sh\n# pip's script\n", 0o755),
        "lib/python%s/os.py" % MINOR: ("import abc\n", 0o644),
        "lib/python%s/json/__init__.py" % MINOR: ("VALUE = 1\n", 0o644),
        "lib/python%s/__pycache__/os.%s.pyc" % (MINOR, TAG): ("shipped bytecode", 0o644),
        "lib/python%s/__pycache__/os.%s.opt-1.pyc" % (MINOR, TAG): ("shipped bytecode", 0o644),
        "lib/python%s/site-packages/README.txt" % MINOR: ("pip_tooling's\n", 0o644),
    }
    files.update(extra or {})
    path = os.path.join(str(directory), name)
    with tarfile.open(path, "w:gz") as archive:
        for rel, (text, mode) in sorted(files.items()):
            data = text.encode("utf-8")
            info = tarfile.TarInfo("%s/%s" % (top, rel))
            info.size, info.mode = len(data), mode
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("%s/bin/python3" % top)
        link.type, link.linkname = tarfile.SYMTYPE, "python" + MINOR
        archive.addfile(link)
    return path, _layer.file_sha256(path)


def spec_for(dest, archive, sha256, version=VERSION, compile_bytecode=True):
    return _runtime.RuntimeLayerSpec(str(dest), version, _host.host_arch(), sha256, os.path.basename(archive),
                                     src=archive, compile_bytecode=compile_bytecode, workers=1, timeout=120)


@pytest.fixture
def archive(tmp_path):
    return make_archive(tmp_path)


def _build(tmp_path, archive, compile_bytecode):
    path, sha = archive
    spec = spec_for(tmp_path / "runtime", path, sha, compile_bytecode=compile_bytecode)
    runner = CommandRunner()
    return spec, _layer.converge(spec, runner, lock_timeout=5), runner


@pytest.fixture
def built(tmp_path, archive):
    """A runtime layer converged from the archive, its bytecode as shipped (one process): (spec, result, runner)."""
    return _build(tmp_path, archive, compile_bytecode=False)


@pytest.mark.parametrize("version, minor", [("3.12.7", "3.12"), ("3.9.0", "3.9"), ("3.14.10", "3.14")])
def test_minor_of_an_exact_version(version, minor):
    assert _runtime.minor_of(version) == minor


@pytest.mark.parametrize("version", ["3.12", "3", "3.12.7rc1", " 3.12.7", "3.12.7.1", "", None, "latest"])
def test_a_request_that_is_not_exact_is_refused(version):
    with pytest.raises(AppenvError) as caught:
        _runtime.minor_of(version)
    assert caught.value.code == "bad_argument"
    assert caught.value.fields["option"] == "version"
    assert repr(version) in caught.value.cause
    assert "not an exact X.Y.Z version" in caught.value.cause


def test_the_inputs_of_the_runtime_layer(tmp_path):
    spec = _runtime.RuntimeLayerSpec(str(tmp_path / "rt"), "3.12.7", "x86_64", "AB" * 32, "cpython.tar.gz",
                                     url="https://mirror.invalid/cpython.tar.gz")
    assert spec.wanted == {
        "python_version": "3.12.7",
        "arch": "x86_64",
        "distro": _host.host_distro(),
        "libc": _host.host_libc(),
        "archive": "cpython.tar.gz",
        "archive_sha256": "ab" * 32,  # lower-cased: the same archive is one input however it was written
        "stdlib_bytecode": "unchecked-hash",
        "compiler": "cc",  # no compiler option: the host's cc is named in the build settings
    }
    assert spec.stdlib_dir == "lib/python3.12"
    assert spec.python() == str(tmp_path / "rt" / "bin" / "python3.12")
    assert spec.python("/elsewhere") == "/elsewhere/bin/python3.12"
    as_shipped = _runtime.RuntimeLayerSpec(str(tmp_path / "rt"), "3.12.7", "x86_64", "ab" * 32, "cpython.tar.gz",
                                           compile_bytecode=False)
    assert as_shipped.wanted["stdlib_bytecode"] == "as shipped"
    with pytest.raises(AppenvError):
        _runtime.RuntimeLayerSpec(str(tmp_path / "rt"), "3.12", "x86_64", "ab" * 32, "cpython.tar.gz")


def test_a_build_from_a_local_archive_then_a_no_op(tmp_path, archive):
    spec, result, runner = _build(tmp_path, archive, compile_bytecode=True)
    assert result.action == _layer.ACTION_CREATED
    assert result.reasons == ["no python_runtime layer at %s yet" % spec.path]
    facts = result.facts
    assert facts["python_version"] == VERSION
    assert facts["cache_tag"] == TAG
    assert facts["machine"] == platform.machine()
    assert os.access(spec.python(), os.X_OK)
    stdlib = os.path.join(spec.path, "lib", "python" + MINOR)
    # The shipped bytecode is replaced by the new interpreter's own.
    with open(os.path.join(stdlib, "__pycache__", "os.%s.pyc" % TAG), "rb") as handle:
        assert handle.read() != b"shipped bytecode"
    assert os.path.isfile(os.path.join(stdlib, "json", "__pycache__", "__init__.%s.pyc" % TAG))
    assert not os.path.exists(os.path.join(stdlib, "__pycache__", "os.%s.opt-1.pyc" % TAG))  # only level 0 now
    assert not os.path.exists(os.path.join(spec.path, ".appenv-work"))
    # The file list leaves out what pip_tooling owns (site-packages, bin/pip*).
    with open(os.path.join(spec.path, _manifest.MANIFEST_NAME)) as handle:
        listed = set(line.split("\t")[2] for line in handle.read().splitlines())
    assert "bin/python" + MINOR in listed and "bin/python3" in listed
    assert "lib/python%s/os.py" % MINOR in listed
    assert "bin/pip3" not in listed
    assert not [rel for rel in listed if "site-packages" in rel]
    assert facts["files"] == len(listed)

    started = len(runner.history)
    again = _layer.converge(spec, runner, lock_timeout=5)
    assert (again.action, again.reasons) == (_layer.ACTION_KEPT, [])
    assert len(runner.history) == started  # a no-op starts no process


def test_runtime_result_names_the_interpreter_and_site_packages(built):
    spec, result, _runner = built
    out = _runtime.runtime_result(spec, result)
    assert out["changed"] is True and out["layer_action"] == "created"
    assert out["python_version"] == VERSION
    assert out["arch"] == _host.host_arch()
    assert out["dest"] == spec.path
    assert out["interpreter"] == os.path.join(spec.path, "bin", "python" + MINOR)
    assert out["bin_dir"] == os.path.join(spec.path, "bin")
    # Where the interpreter itself says purelib is, relative to its prefix.
    assert out["site_packages"] == os.path.join(spec.path, result.facts["purelib_rel"])
    assert result.facts["purelib_rel"].endswith("site-packages")
    assert "diff" not in out and "before" in _runtime.runtime_result(spec, result, diff=True)["diff"]


def test_runtime_result_without_a_probed_purelib_falls_back_to_the_posix_layout(tmp_path):
    spec = _runtime.RuntimeLayerSpec(str(tmp_path / "rt"), "3.12.7", "x86_64", "ab" * 32, "cpython.tar.gz")
    kept = _layer.LayerResult(_layer.ACTION_KEPT, [], {"key": "k"}, {"key": "k"}, {}, spec.path)
    out = _runtime.runtime_result(spec, kept)
    assert out["changed"] is False
    assert out["site_packages"] == str(tmp_path / "rt" / "lib" / "python3.12" / "site-packages")


def test_a_deleted_stdlib_file_is_found_without_a_process(built):
    spec, _result, _runner = built
    os.unlink(os.path.join(spec.path, "lib", "python" + MINOR, "os.py"))
    action, reasons, _stored = _layer.decide(spec)
    assert action == _layer.ACTION_RECREATED
    assert reasons == ["the layer was changed on disk: 1 file(s) missing (lib/python%s/os.py)" % MINOR]


def test_a_missing_interpreter_is_named(built):
    spec, _result, _runner = built
    os.chmod(spec.python(), 0o644)
    action, reasons, _stored = _layer.decide(spec)
    assert action == _layer.ACTION_RECREATED
    assert reasons == ["the layer was changed on disk: the interpreter %s is missing or not executable"
                       % spec.python()]


def test_another_archive_is_a_reason_and_check_mode_changes_nothing(tmp_path, built):
    spec, _result, runner = built
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    path, sha = make_archive(other_dir, name="cpython-%s+20270101-x86_64-unknown-linux-gnu-install_only.tar.gz"
                             % VERSION, extra={"lib/python%s/new.py" % MINOR: ("NEW = 1\n", 0o644)})
    newer = spec_for(spec.path, path, sha, compile_bytecode=False)
    old_sha = spec.wanted["archive_sha256"]
    predicted = _layer.converge(newer, runner, check_mode=True, lock_timeout=5)
    assert predicted.action == _layer.ACTION_RECREATED
    assert predicted.reasons == [
        "Runtime archive changed from %s to %s" % (spec.wanted["archive"], newer.wanted["archive"]),
        "Runtime archive sha256 changed from %s to %s" % (old_sha, sha),
    ]
    assert not os.path.exists(os.path.join(spec.path, "lib", "python" + MINOR, "new.py"))
    assert _layer.decide(spec)[0] == _layer.ACTION_KEPT
    done = _layer.converge(newer, runner, lock_timeout=5)
    assert done.action == _layer.ACTION_RECREATED
    assert os.path.isfile(os.path.join(spec.path, "lib", "python" + MINOR, "new.py"))


def test_turning_stdlib_bytecode_on_is_a_reason(built):
    spec, _result, _runner = built
    compiled = spec_for(spec.path, spec.src, spec.wanted["archive_sha256"], compile_bytecode=True)
    action, reasons, _stored = _layer.decide(compiled)
    assert (action, reasons) == (_layer.ACTION_RECREATED, ["Stdlib bytecode changed from as shipped to unchecked-hash"])


def _refused(spec, code):
    with pytest.raises(AppenvError) as caught:
        _layer.converge(spec, CommandRunner(), lock_timeout=5)
    assert caught.value.code == code
    return caught.value


def test_an_archive_with_another_sha256_is_refused_and_the_layer_kept(built):
    spec, _result, _runner = built
    wrong = spec_for(spec.path, spec.src, "0" * 64, compile_bytecode=False)
    error = _refused(wrong, "checksum_mismatch")
    assert error.fields["expected"] == "0" * 64
    assert error.fields["actual"] == spec.wanted["archive_sha256"]
    assert _layer.decide(spec)[:2] == (_layer.ACTION_KEPT, [])
    assert not os.path.exists(spec.path + ".appenv-new")


def test_an_archive_without_the_python_directory_is_refused(tmp_path, archive):
    path, sha = make_archive(tmp_path, name="cpython-%s+1-x86_64-unknown-linux-gnu-install_only.tar.gz" % VERSION,
                             top="cpython")
    error = _refused(spec_for(tmp_path / "runtime", path, sha), "runtime_layout_unexpected")
    assert error.fields["found"] == "cpython"
    assert error.fields["minor"] == MINOR
    assert not os.path.exists(str(tmp_path / "runtime"))
    assert not os.path.exists(str(tmp_path / "runtime.appenv-new"))


def test_an_interpreter_of_another_version_is_refused(tmp_path, archive):
    path, sha = archive
    claimed = "%s.99" % MINOR
    error = _refused(spec_for(tmp_path / "runtime", path, sha, version=claimed), "runtime_version_mismatch")
    assert (error.fields["expected"], error.fields["actual"]) == (claimed, VERSION)
    assert not os.path.exists(str(tmp_path / "runtime"))


def test_an_interpreter_that_does_not_start_is_refused_with_its_output(tmp_path):
    path, sha = make_archive(tmp_path, interpreter="#!/bin/sh\necho 'cannot execute binary file' >&2\nexit 126\n")
    error = _refused(spec_for(tmp_path / "runtime", path, sha), "runtime_broken")
    assert "cannot execute binary file" in error.fields["output"]
    assert error.fields["host_arch"] == _host.host_arch()
    assert not os.path.exists(str(tmp_path / "runtime"))
    assert not os.path.exists(str(tmp_path / "runtime.appenv-new"))


def test_an_interpreter_that_prints_no_facts_is_refused(tmp_path):
    path, sha = make_archive(tmp_path, interpreter="#!/bin/sh\necho hello\n")
    error = _refused(spec_for(tmp_path / "runtime", path, sha), "runtime_broken")
    assert "hello" in error.fields["output"]


def test_check_host_arch():
    host = _host.host_arch()
    assert _runtime.check_host_arch(None) == host
    assert _runtime.check_host_arch(host) == host
    if host == "x86_64":
        assert _runtime.check_host_arch("amd64") == "x86_64"
    other = "aarch64" if host == "x86_64" else "x86_64"
    with pytest.raises(AppenvError) as caught:
        _runtime.check_host_arch(other)
    assert caught.value.code == "runtime_wrong_arch"
    assert (caught.value.fields["wanted"], caught.value.fields["host"]) == (other, host)


# -- the free-threaded variant ---------------------------------------------------------------------

def test_the_free_threaded_variant_is_an_input_and_names_the_interpreter_with_its_abi_flag(tmp_path):
    default = _runtime.RuntimeLayerSpec(str(tmp_path / "rt"), "3.13.5", "x86_64", "ab" * 32, "cpython.tar.gz")
    assert "variant" not in default.wanted  # runtimes built before variants existed keep their key
    spec = _runtime.RuntimeLayerSpec(str(tmp_path / "rt"), "3.13.5", "x86_64", "ab" * 32, "cpython.tar.gz",
                                     variant="freethreaded")
    assert spec.wanted["variant"] == "freethreaded"
    assert spec.python() == str(tmp_path / "rt" / "bin" / "python3.13t")
    assert spec.stdlib_dir == "lib/python3.13t"


def test_a_variant_change_rebuilds_with_the_reason(built):
    spec, _result, _runner = built
    assert _layer.decide(spec)[:2] == (_layer.ACTION_KEPT, [])
    freethreaded = _runtime.RuntimeLayerSpec(spec.path, VERSION, _host.host_arch(), spec.wanted["archive_sha256"],
                                             spec.wanted["archive"], src=spec.src, variant="freethreaded",
                                             compile_bytecode=False)
    action, reasons, _stored = _layer.decide(freethreaded)
    assert (action, reasons) == (_layer.ACTION_RECREATED, ["Python variant changed from default to freethreaded"])


def test_an_archive_of_the_other_variant_is_refused(tmp_path):
    def spec(path, sha):
        return _runtime.RuntimeLayerSpec(str(tmp_path / "runtime"), VERSION, _host.host_arch(), sha,
                                         os.path.basename(path), src=path, variant="freethreaded",
                                         compile_bytecode=False, timeout=120)

    path, sha = make_archive(tmp_path)  # a default build: no bin/python3.Xt
    error = _refused(spec(path, sha), "runtime_layout_unexpected")
    assert error.fields["minor"] == MINOR + "t"
    other = tmp_path / "other"
    other.mkdir()
    # Named like a free-threaded build, but the interpreter has the GIL (this test's Python).
    path, sha = make_archive(other, extra={"bin/python%st" % MINOR: (_wrapper(), 0o755)})
    error = _refused(spec(path, sha), "runtime_variant_mismatch")
    assert (error.fields["expected"], error.fields["actual"]) == ("freethreaded", "default")
    assert not os.path.exists(str(tmp_path / "runtime"))
