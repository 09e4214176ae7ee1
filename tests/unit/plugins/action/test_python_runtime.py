"""The controller half of python_runtime: what it hands the module for each way of asking, and its refusals.

The release table shipped with the collection is the default source; tests read its answers through the plugin
(any 3.12 it resolves) rather than pinning table rows, which a refresh replaces.
"""

import gc
import hashlib
import os
import re
import subprocess
import sys

import pytest

from ansible_collections.appenv.python.plugins.action.python_runtime import ActionModule
from tests.collection_path import COLLECTIONS_DIR

MODULE = "appenv.python.python_runtime"
TRIPLES = {"x86_64": "x86_64-unknown-linux-gnu", "aarch64": "aarch64-unknown-linux-gnu"}
NAME = re.compile(r"^cpython-(?P<version>\d+\.\d+\.\d+)\+(?P<release>[^-]+)-(?P<triple>[a-z0-9_]+-unknown-linux-gnu)"
                  r"(?P<variant>-freethreaded)?-install_only(_stripped)?\.tar\.gz$")
X86 = {"ansible_facts": {"architecture": "x86_64"}}


def _run(make_action, args, task_vars=None, answers=(), check_mode=False):
    action, recorder = make_action(ActionModule, args, answers, check_mode)
    return action.run(task_vars=dict(task_vars or {})), recorder


def _refused(make_action, args, code, task_vars=None):
    result, recorder = _run(make_action, args, task_vars)
    assert result["failed"] is True and result["changed"] is False
    assert result["error"]["code"] == code
    assert result["msg"].startswith(result["error"]["title"])
    assert recorder.calls == []  # nothing ran on the host
    return result


def _check_release(entry, arch, request, version_prefix):
    """entry: the module's arguments (the resolution in _resolution) or a candidate of one arch (in resolution)."""
    entry = dict(entry, resolution=entry.get("_resolution") or entry.get("resolution"))
    match = NAME.match(entry["resolution"]["filename"])
    assert match, entry["resolution"]["filename"]
    assert match.group("triple") == TRIPLES[arch]
    assert entry["version"] == match.group("version") and entry["version"].startswith(version_prefix)
    assert entry["resolution"]["release"] == match.group("release")
    assert entry["url"].endswith("/%s/%s" % (match.group("release"), entry["resolution"]["filename"]))
    assert re.match(r"^[0-9a-f]{64}$", entry["sha256"])
    assert (entry["resolution"]["request"], entry["resolution"]["source"]) == (request, "the version option")


def test_an_exact_archive_goes_to_the_module_as_given_without_controller_options(make_action):
    args = {"version": "3.12.7", "url": "https://mirror.invalid/cpython.tar.gz", "sha256": "ab" * 32,
            "dest": "/opt/py", "mirror": "https://mirror.invalid", "project_dir": "/srv/app", "allow_eol": True,
            "release": "20261201"}
    result, recorder = _run(make_action, args, X86, answers=[{"changed": True, "layer_action": "created"}])
    assert recorder.calls == [(MODULE, {"version": "3.12.7", "url": "https://mirror.invalid/cpython.tar.gz",
                                        "sha256": "ab" * 32, "dest": "/opt/py", "arch": "x86_64"})]
    assert (result["changed"], result["layer_action"]) == (True, "created")


@pytest.mark.parametrize("task_vars, args, arch", [
    ({"ansible_facts": {"architecture": "amd64"}}, {}, "x86_64"),
    ({"ansible_architecture": "arm64"}, {}, "aarch64"),
    (X86, {"arch": "aarch64"}, "aarch64"),  # the task's arch wins over the facts
])
def test_the_arch_comes_from_the_task_or_the_facts(make_action, task_vars, args, arch):
    _result, recorder = _run(make_action, dict(args, src="/srv/cpython.tar.gz", version="3.12.7",
                                               sha256="ab" * 32), task_vars)
    assert recorder.args[0]["arch"] == arch
    assert recorder.args[0]["src"] == "/srv/cpython.tar.gz"


def test_without_facts_every_arch_is_resolved_and_the_module_picks(make_action):
    _result, recorder = _run(make_action, {"version": "3.12", "dest": "/opt/py"})
    (name, args), = recorder.calls
    assert name == MODULE
    assert sorted(args) == ["_candidates", "dest", "variant"] and args["variant"] == "default"
    assert sorted(args["_candidates"]) == ["aarch64", "x86_64"]
    for arch, entry in args["_candidates"].items():
        _check_release(entry, arch, "3.12", "3.12.")


def test_the_module_runs_with_the_garbage_collector_paused_and_resumed_after(make_action):
    """Ansible builds the module's payload inside the module run (plugin_utils/_worker_gc.py)."""
    assert gc.isenabled()
    _result, recorder = _run(make_action, {"version": "3.12", "dest": "/opt/py"}, X86)
    assert recorder.collector == [False] and gc.isenabled()


def test_with_facts_the_hosts_arch_alone_is_resolved(make_action):
    _result, every = _run(make_action, {"version": "3.12"})
    _result, recorder = _run(make_action, {"version": "3.12"}, X86)
    args = recorder.args[0]
    assert "_candidates" not in args
    _check_release(args, "x86_64", "3.12", "3.12.")
    assert args["arch"] == "x86_64"
    assert args["_resolution"] == every.args[0]["_candidates"]["x86_64"]["resolution"]
    assert (args["version"], args["url"], args["sha256"]) == tuple(
        every.args[0]["_candidates"]["x86_64"][key] for key in ("version", "url", "sha256"))


def test_a_verbatim_mirror_serves_the_tables_files(make_action):
    _result, default = _run(make_action, {"version": "3.12"}, X86)
    _result, mirrored = _run(make_action, {"version": "3.12", "mirror": "https://pbs.mirror.invalid/releases/"}, X86)
    want, got = default.args[0], mirrored.args[0]
    assert (got["version"], got["sha256"], got["_resolution"]) == (want["version"], want["sha256"], want["_resolution"])
    assert got["url"] == "https://pbs.mirror.invalid/releases/%s/%s" % (
        want["_resolution"]["release"], want["_resolution"]["filename"])
    assert "mirror" not in got


def _mirror(tmp_path, release="20261201", version="3.13.5"):
    directory = tmp_path / "mirror" / release
    directory.mkdir(parents=True)
    lines = ["not a sum line"]
    for triple in sorted(TRIPLES.values()):
        name = "cpython-%s+%s-%s-install_only_stripped.tar.gz" % (version, release, triple)
        lines.append("%s  %s" % (hashlib.sha256(name.encode()).hexdigest(), name))
    (directory / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return "file://" + str(tmp_path / "mirror")


def test_a_release_is_read_from_the_mirrors_sha256sums(make_action, tmp_path):
    mirror = _mirror(tmp_path)
    _result, recorder = _run(make_action, {"version": "3.13", "mirror": mirror, "release": "20261201"})
    candidates = recorder.args[0]["_candidates"]
    for arch, triple in TRIPLES.items():
        name = "cpython-3.13.5+20261201-%s-install_only_stripped.tar.gz" % triple
        assert candidates[arch]["version"] == "3.13.5"
        assert candidates[arch]["url"] == "%s/20261201/%s" % (mirror, name)
        assert candidates[arch]["sha256"] == hashlib.sha256(name.encode()).hexdigest()
        assert candidates[arch]["resolution"] == {"request": "3.13", "source": "the version option",
                                                  "release": "20261201", "filename": name}


def test_a_release_the_mirror_lacks_is_refused(make_action, tmp_path):
    mirror = _mirror(tmp_path)
    result = _refused(make_action, {"version": "3.13", "mirror": mirror, "release": "20990101", "retries": 0},
                      "mirror_unreachable", X86)
    assert "20990101/SHA256SUMS" in result["msg"]


def test_the_apps_own_version_file_is_the_request(make_action, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / ".python-version").write_text("3.12\n")
    _result, recorder = _run(make_action, {"project_dir": str(app)}, X86)
    args = recorder.args[0]
    assert args["version"].startswith("3.12.")
    assert args["_resolution"]["source"] == str(app / ".python-version")
    assert args["_resolution"]["request"] == "3.12"
    assert "project_dir" not in args


@pytest.mark.parametrize("args, task_vars, code", [
    ({"version": "3.12"}, {"ansible_facts": {"architecture": "armv7l"}}, "arch_unsupported"),
    ({"version": "2.7"}, X86, "version_unknown"),
    ({"version": "2.7"}, {}, "version_unknown"),  # no arch resolves: the request itself is wrong
    ({"version": "python3.12"}, X86, "version_request_invalid"),
    ({"version": "3.12", "variant": "freethreaded"}, X86, "variant_unavailable"),
    ({"version": "3.13t", "variant": "default"}, {}, "variant_conflict"),
    ({"version": ">=3.12,<3.11"}, X86, "version_unknown"),
])
def test_requests_that_cannot_be_met_fail_before_the_host_is_touched(make_action, args, task_vars, code):
    _refused(make_action, args, code, task_vars)


def test_an_end_of_life_version_is_refused_when_the_host_does_not_have_it(make_action, tmp_path):
    mirror = _mirror(tmp_path, version="3.9.25")  # 3.9 reached its end of life on 2025-10-31
    args = {"version": "3.9", "mirror": mirror, "release": "20261201", "dest": "/opt/py"}
    result, recorder = _run(make_action, args, X86, answers=[{"changed": False, "layer_action": "created"}])
    assert result["failed"] is True and result["error"]["code"] == "version_eol"
    assert "3.9.25" in result["msg"] and "2025-10-31" in result["msg"]
    (name, probe), = recorder.calls  # the module was only asked what it would do
    assert probe["_decide_only"] is True and probe["version"] == "3.9.25"


def test_an_end_of_life_runtime_the_host_keeps_is_a_warning_not_a_failure(make_action, tmp_path):
    mirror = _mirror(tmp_path, version="3.9.25")
    args = {"version": "3.9", "mirror": mirror, "release": "20261201", "dest": "/opt/py"}
    kept = {"changed": False, "layer_action": "kept", "arch": "x86_64", "warnings": ["the module's own"]}
    result, recorder = _run(make_action, args, X86, answers=[kept, kept])
    assert "failed" not in result and result["layer_action"] == "kept"
    probe, run = recorder.args
    assert probe["_decide_only"] is True and "_decide_only" not in run
    assert result["warnings"][0] == "the module's own"
    assert "3.9.25 at /opt/py reached its end of life on 2025-10-31" in result["warnings"][1]


def test_allow_eol_installs_with_a_warning_and_asks_nothing_first(make_action, tmp_path):
    mirror = _mirror(tmp_path, version="3.9.25")
    args = {"version": "3.9", "mirror": mirror, "release": "20261201", "allow_eol": True}
    result, recorder = _run(make_action, args, X86, answers=[{"changed": True, "layer_action": "created", "arch": "x86_64"}])
    (run,) = recorder.args
    assert run["version"] == "3.9.25" and "allow_eol" not in run and "_decide_only" not in run
    assert any("allow_eol is set" in warning for warning in result["warnings"])


def test_end_of_life_without_facts_turns_each_such_candidate_into_its_error(make_action, tmp_path):
    mirror = _mirror(tmp_path, version="3.9.25")
    args = {"version": "3.9", "mirror": mirror, "release": "20261201"}
    answers = [{"changed": False, "layer_action": "created"}, {"failed": True, "msg": "the module raised it"}]
    _result, recorder = _run(make_action, args, answers=answers)
    probe, run = recorder.args
    assert probe["_decide_only"] is True and probe["_candidates"]["x86_64"]["version"] == "3.9.25"
    for arch in TRIPLES:
        assert run["_candidates"][arch]["error"]["code"] == "version_eol"
        assert run["_candidates"][arch]["error"]["fields"]["version"] == "3.9.25"


def test_nothing_requested_installs_the_newest_with_a_warning_to_pin_it(make_action):
    result, recorder = _run(make_action, {"dest": "/opt/py"}, X86,
                            answers=[{"changed": True, "layer_action": "created", "arch": "x86_64"}])
    (args,) = recorder.args
    _result, newest = _run(make_action, {"version": "*"}, X86)
    assert args["version"] == newest.args[0]["version"]
    minor = ".".join(args["version"].split(".")[:2])
    assert args["_resolution"]["source"] == "nothing requested"
    (warning,) = result["warnings"]
    assert "No Python version was requested" in warning and "version: '%s'" % minor in warning


def test_the_warnings_are_those_of_the_hosts_arch(make_action):
    result, _recorder = _run(make_action, {"version": "3.12.4"},
                             answers=[{"changed": True, "layer_action": "created", "arch": "aarch64"}])
    assert any("3.12.4 is not the newest 3.12" in warning for warning in result["warnings"])


def test_an_old_exact_patch_resolves_to_its_install_only_archive(make_action):
    _result, recorder = _run(make_action, {"version": "3.11.4"}, X86)
    args = recorder.args[0]
    assert args["version"] == "3.11.4"
    assert args["_resolution"]["filename"].endswith("-x86_64-unknown-linux-gnu-install_only.tar.gz")


@pytest.mark.parametrize("args", [{"version": "3.13", "variant": "freethreaded"}, {"version": "3.13t"}])
def test_the_free_threaded_variant_goes_to_the_module(make_action, args):
    _result, recorder = _run(make_action, args)
    (module_args,) = recorder.args
    assert module_args["variant"] == "freethreaded"
    for arch, entry in module_args["_candidates"].items():
        match = NAME.match(entry["resolution"]["filename"])
        assert match.group("variant") == "-freethreaded" and match.group("triple") == TRIPLES[arch]
        assert entry["version"].startswith("3.13.")


# -- an archive on the controller -------------------------------------------------------------

ARCHIVE = "cpython-3.12.7+20261201-x86_64-unknown-linux-gnu-install_only.tar.gz"


def _archive(tmp_path, name=ARCHIVE, sums=True):
    files = tmp_path / "files"
    files.mkdir(exist_ok=True)
    (files / name).write_bytes(b"not really a tarball")
    if sums:
        (files / "SHA256SUMS").write_text("%s  %s\n%s  other.tar.gz\n" % ("cd" * 32, name, "ef" * 32))
    return str(files / name)


def test_a_pushed_archive_is_not_sent_when_the_layer_is_kept(make_action, tmp_path):
    _archive(tmp_path)
    result, recorder = _run(make_action, {"archive": ARCHIVE, "dest": "/opt/py"}, X86,
                            answers=[{"changed": False, "layer_action": "kept"}])
    resolution = {"request": ARCHIVE, "source": "the archive option", "release": "20261201", "filename": ARCHIVE}
    probe, run = recorder.args
    assert probe == {"dest": "/opt/py", "arch": "x86_64", "version": "3.12.7", "sha256": "cd" * 32,
                     "variant": "default", "_resolution": resolution, "src": "/nonexistent/" + ARCHIVE,
                     "_decide_only": True}
    assert run == {"dest": "/opt/py", "arch": "x86_64", "version": "3.12.7", "sha256": "cd" * 32,
                   "variant": "default", "_resolution": resolution, "src": "/nonexistent/" + ARCHIVE}
    assert result["layer_action"] == "kept"


def test_check_mode_never_sends_the_archive(make_action, tmp_path):
    _archive(tmp_path)
    result, recorder = _run(make_action, {"archive": ARCHIVE}, X86, check_mode=True,
                            answers=[{"changed": False, "layer_action": "created"},
                                     {"changed": True, "layer_action": "created", "reasons": ["predicted"]}])
    # The archive's name (a fingerprint input) is the one the transferred file will have: the prediction and the
    # decision name the same archive as the real run.
    assert [args["src"] for args in recorder.args] == ["/nonexistent/" + ARCHIVE] * 2
    assert result["reasons"] == ["predicted"]


def test_the_sha256_option_wins_over_the_sums_file(make_action, tmp_path):
    path = _archive(tmp_path)
    _result, recorder = _run(make_action, {"archive": path, "sha256": "ab" * 32}, X86)
    assert recorder.args[0]["sha256"] == "ab" * 32


def test_an_archive_without_a_sha256_is_refused(make_action, tmp_path):
    _archive(tmp_path, sums=False)
    result = _refused(make_action, {"archive": ARCHIVE}, "checksum_missing", X86)
    assert ARCHIVE in result["msg"]


def test_an_archive_with_a_foreign_name_is_refused(make_action, tmp_path):
    _archive(tmp_path, name="python-3.12.tar.gz")
    result = _refused(make_action, {"archive": "python-3.12.tar.gz"}, "archive_name_unrecognised", X86)
    assert "python-3.12.tar.gz" in result["msg"]


def test_a_pushed_archive_names_its_variant(make_action, tmp_path):
    name = "cpython-3.13.5+20261201-x86_64-unknown-linux-gnu-freethreaded-install_only_stripped.tar.gz"
    _archive(tmp_path, name=name)
    _result, recorder = _run(make_action, {"archive": name}, X86)
    assert recorder.args[0]["variant"] == "freethreaded" and recorder.args[0]["version"] == "3.13.5"
    result = _refused(make_action, {"archive": name, "variant": "default"}, "variant_conflict", X86)
    assert name in result["msg"]


# -- hardening (issue 16): a custom mirror and release, checked against the shipped table ---------

def _table_row():
    from ansible_collections.appenv.python.plugins.plugin_utils._python_releases import RELEASES
    return next(row for row in reversed(RELEASES) if row[2] == TRIPLES["x86_64"] and NAME.match(row[3])
                and not NAME.match(row[3]).group("variant"))


def _table_mirror(tmp_path, sha256):
    version, release, _triple, filename, _sha = _table_row()
    directory = tmp_path / "mirror" / release
    directory.mkdir(parents=True)
    (directory / "SHA256SUMS").write_text("%s  %s\n" % (sha256, filename))
    return "file://" + str(tmp_path / "mirror"), version, release


def test_a_file_of_the_shipped_table_keeps_the_tables_sha256_on_a_custom_mirror(make_action, tmp_path):
    row = _table_row()
    mirror, version, release = _table_mirror(tmp_path, row[4])
    _result, recorder = _run(make_action, {"version": version, "mirror": mirror, "release": release}, X86)
    assert recorder.args[0]["sha256"] == row[4]
    assert recorder.args[0]["url"] == "%s/%s/%s" % (mirror, release, row[3])


def test_a_custom_mirror_listing_another_sha256_for_a_file_of_the_table_is_refused(make_action, tmp_path):
    row = _table_row()
    forged = hashlib.sha256(b"a different file").hexdigest()
    mirror, version, release = _table_mirror(tmp_path, forged)
    result = _refused(make_action, {"version": version, "mirror": mirror, "release": release},
                      "runtime_mirror_sha_differs", X86)
    assert row[4] in result["msg"] and forged in result["msg"]


def test_a_release_listing_is_read_once_per_run_and_again_by_the_next(make_action, tmp_path, monkeypatch):
    """The listing the run's first task reads serves its other tasks and hosts (its private local temp directory);
    a new run (another temp directory) reads the mirror again and sees what it lists now."""
    from ansible import constants as C
    from ansible_collections.appenv.python.plugins.plugin_utils import _version_request as versions

    mirror = _mirror(tmp_path)
    run_dir = tmp_path / "run-1"
    run_dir.mkdir()
    monkeypatch.setattr(C, "DEFAULT_LOCAL_TMP", str(run_dir), raising=False)
    fetched = []
    real = versions.fetch_text
    monkeypatch.setattr(versions, "fetch_text", lambda url, **kwargs: fetched.append(url) or real(url, **kwargs))
    args = {"version": "3.13", "mirror": mirror, "release": "20261201"}
    for _host in range(3):
        _result, recorder = _run(make_action, args)
        assert recorder.args[0]["_candidates"]["x86_64"]["version"] == "3.13.5"
    assert len(fetched) == 1
    # The mirror lists a newer patch of the release; the next run (a new temp directory) finds it.
    _mirror(tmp_path / "newer", version="3.13.6")
    (tmp_path / "mirror" / "20261201" / "SHA256SUMS").write_text(
        (tmp_path / "newer" / "mirror" / "20261201" / "SHA256SUMS").read_text())
    run_dir = tmp_path / "run-2"
    run_dir.mkdir()
    monkeypatch.setattr(C, "DEFAULT_LOCAL_TMP", str(run_dir), raising=False)
    _result, recorder = _run(make_action, args)
    assert recorder.args[0]["_candidates"]["x86_64"]["version"] == "3.13.6" and len(fetched) == 2


def test_importing_the_action_plugins_loads_no_http_code():
    """ansible-playbook imports the action plugins of every task it runs (once per run): Ansible's urls, with the TLS
    and x509 code it loads, only when a release listing is read."""
    program = (
        "import sys\n"
        "import ansible_collections.appenv.python.plugins.action.python_runtime\n"
        "import ansible_collections.appenv.python.plugins.action.app_dependencies\n"
        "print([name for name in ('ansible.module_utils.urls', 'http.client') if name in sys.modules])\n")
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS_DIR))
    out = subprocess.run([sys.executable, "-c", program], env=env, check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout.splitlines()
    assert out == ["[]"]
