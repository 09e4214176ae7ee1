"""python_runtime on real Debian hosts: install, no-op, check mode, invalidation, repair, bad input."""

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.integration import harness
from tests.integration.harness import error_of
from tests.integration.hosts import DEFAULT_DEST, install_runtime
from tests.testbed import runtimes

pytestmark = pytest.mark.integration

PROBE = "import json, platform, sys; print(json.dumps([platform.python_version(), platform.machine(), sys.prefix]))"


def interpreter_facts(host, dest=DEFAULT_DEST):
    out = host.exec([dest + "/bin/python3", "-c", PROBE]).stdout
    return json.loads(out)


def pyc_flags(host, path):
    """The flags word of a pyc header: 1 = hash-based unchecked, 3 = hash-based checked, 0 = timestamp."""
    script = "import sys; data = open(sys.argv[1], 'rb').read(8); print(int.from_bytes(data[4:8], 'little'))"
    return int(host.exec([DEFAULT_DEST + "/bin/python3", "-c", script, path]).stdout)


def test_install_is_idempotent_and_check_mode_predicts(amd64_host, runtime_mirror):
    predicted = install_runtime(amd64_host, runtime_mirror, "3.11", check=True)
    assert predicted["changed"] and predicted["layer_action"] == "created"
    assert not amd64_host.exists(DEFAULT_DEST), "check mode wrote files"

    first = harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))
    assert first["changed"] and first["layer_action"] == "created"
    assert first["reasons"] == predicted["reasons"]
    assert first["python_version"] == "3.11.2"
    version, machine, prefix = interpreter_facts(amd64_host)
    assert (version, machine, prefix) == ("3.11.2", "x86_64", DEFAULT_DEST)
    # Stdlib bytecode was replaced with unchecked-hash pycs.
    assert pyc_flags(amd64_host, DEFAULT_DEST + "/lib/python3.11/__pycache__/os.cpython-311.pyc") == 1

    again_check = harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11", check=True))
    again = harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))
    assert not again["changed"] and again["layer_action"] == "kept"
    assert again["commands"] == [], "a no-op run started a process"
    assert (again_check["changed"], again_check["layer_action"]) == (False, "kept")

    diff = harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11", diff=True))
    assert not diff["changed"]


def test_version_change_recreates_with_reason_and_deleted_file_is_repaired(amd64_host, runtime_mirror):
    harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))
    new_version = runtimes.exact_version("3.13")

    predicted = harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.13", check=True))
    changed = harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.13", diff=True))
    assert changed["layer_action"] == "recreated"
    assert "Python version changed from 3.11.2 to %s" % new_version in changed["reasons"]
    assert predicted["layer_action"] == changed["layer_action"] and predicted["reasons"] == changed["reasons"]
    assert "3.11.2" in changed["diff"]["before"] and new_version in changed["diff"]["after"]
    assert interpreter_facts(amd64_host)[0] == new_version
    assert not amd64_host.exists(DEFAULT_DEST + "/lib/python3.11")

    victim = DEFAULT_DEST + "/lib/python3.13/json/decoder.py"
    amd64_host.exec(["rm", victim])
    repaired = harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.13"))
    assert repaired["layer_action"] == "recreated"
    assert any("json/decoder.py" in reason for reason in repaired["reasons"]), repaired["reasons"]
    amd64_host.exec(["test", "-f", victim])
    assert not harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.13"))["changed"]


def test_file_url_mirror_and_project_files(amd64_image, runtime_mirror, tmp_path):
    """A file:// mirror (the same path on controller and host) and the version read from .python-version."""
    facts = runtime_mirror.ensure("3.11.2", "x86_64")
    from tests.integration.hosts import start_host
    host = start_host(amd64_image, "x86_64", network="none", volumes=[(str(runtime_mirror.root), str(runtime_mirror.root), "ro")])
    try:
        project = tmp_path / "app"
        project.mkdir()
        (project / ".python-version").write_text("3.11\n")
        (project / "pyproject.toml").write_text('[project]\nname = "app"\nrequires-python = ">=3.10"\n')
        args = {"project_dir": str(project), "mirror": runtime_mirror.file_url, "release": runtime_mirror.tag}
        first = harness.assert_ok(harness.run_task(host, "appenv.python.python_runtime", args))
        assert first["layer_action"] == "created" and first["python_version"] == "3.11.2"
        assert first["resolution"]["source"].endswith(".python-version"), first["resolution"]
        assert facts["filename"] and first["resolution"]["filename"] == facts["filename"], first["resolution"]
        second = harness.assert_ok(harness.run_task(host, "appenv.python.python_runtime", args))
        assert second["layer_action"] == "kept" and second["commands"] == []
    finally:
        host.container.remove()


def _hostile_archive(path, version):
    minor = ".".join(version.split(".")[:2])
    with tarfile.open(path, "w:gz") as tar:
        payload = b"#!/bin/sh\necho pwned\n"
        for name in ("python/bin/python" + minor, "python/../../../tmp/appenv-escaped"):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(payload))


def _corrupt_archive(path, good):
    data = Path(good).read_bytes()
    Path(path).write_bytes(data[: len(data) // 3])


@pytest.mark.parametrize("case", ["wrong-checksum", "corrupt", "escaping-member", "unknown-version",
                                  "conflicting-files", "unreachable-mirror"])
def test_bad_input_is_a_titled_error_and_keeps_the_runtime(amd64_host, runtime_mirror, tmp_path, case):
    harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))
    good = runtime_mirror.ensure("3.11.2", "x86_64")
    args = {"dest": DEFAULT_DEST}
    if case == "wrong-checksum":
        # A new sha256 is a changed input, so the layer must be rebuilt, and the download is refused.
        args.update(version="3.11.2", url=good["url"], sha256="0" * 64)
    elif case in ("corrupt", "escaping-member"):
        bad_dir = runtime_mirror.root / ("bad-" + case)
        bad_dir.mkdir(exist_ok=True)
        bad = bad_dir / good["filename"].replace("3.11.2", "3.11.9")
        if case == "corrupt":
            _corrupt_archive(bad, good["path"])
        else:
            _hostile_archive(bad, "3.11.9")
        digest = hashlib.sha256(bad.read_bytes()).hexdigest()
        (bad_dir / "SHA256SUMS").write_text("%s  %s\n" % (digest, bad.name))
        args.update(version="3.11.9", url="%s/%s/%s" % (runtime_mirror.base_url, bad_dir.name, bad.name),
                    sha256=digest)
    elif case == "unknown-version":
        args.update(version="3.99", mirror=runtime_mirror.base_url, release=runtime_mirror.tag)
    elif case == "conflicting-files":
        project = tmp_path / "app"
        project.mkdir()
        (project / ".python-version").write_text("3.11.2\n")
        (project / "pyproject.toml").write_text('[project]\nname = "app"\nrequires-python = ">=3.12"\n')
        args.update(project_dir=str(project), mirror=runtime_mirror.base_url, release=runtime_mirror.tag)
    elif case == "unreachable-mirror":
        args.update(version="3.11.2", url="http://127.0.0.1:9/cpython.tar.gz", sha256="1" * 64, retries=2,
                    compile_bytecode=False)

    result = harness.run_task(amd64_host, "appenv.python.python_runtime", args)
    error = error_of(result)
    expected_words = {
        "wrong-checksum": "sha256", "corrupt": "corrupt", "escaping-member": "appenv-escaped",
        "unknown-version": "3.99", "conflicting-files": ".python-version", "unreachable-mirror": "127.0.0.1:9",
    }[case]
    assert expected_words in result["msg"], result["msg"]
    if case == "conflicting-files":
        assert "pyproject.toml" in result["msg"]
    # The previous runtime still works and was not touched.
    assert interpreter_facts(amd64_host)[0] == "3.11.2"
    assert not amd64_host.exists("/tmp/appenv-escaped")
    leftovers = amd64_host.sh("ls -a /opt/appenv").stdout.split()
    assert not [name for name in leftovers if "appenv-new" in name or "appenv-old" in name], leftovers
    again = harness.assert_ok(install_runtime(amd64_host, runtime_mirror, "3.11"))
    assert again["layer_action"] == "kept", again["reasons"]


# The aarch64 runtime (archive picked, interpreter running, second run kept) is asserted on the one emulated host of
# tests/integration/test_emulated_aarch64.py.
