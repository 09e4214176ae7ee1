"""app_code on a real Debian host over Ansible's connection: a tree of many files written, kept in one module run,
changed, checked against the host, and written as root into a tree the app user owns (and attacks)."""

import pytest

from tests.integration import harness

pytestmark = pytest.mark.integration

MODULE = "appenv.python.app_code"
DEST = "/srv/code-under-test"


def _tree(root, files=120):
    for number in range(files):
        path = root / ("pkg%d" % (number % 6)) / ("mod%d.py" % number)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("VALUE = %d\n" % number)
    (root / "pkg0" / "__pycache__").mkdir()
    (root / "pkg0" / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"\0")


def test_written_kept_in_one_run_changed_and_checked_against_the_host(amd64_host, tmp_path):
    src = tmp_path / "app"
    _tree(src)
    args = {"src": str(src), "dest": DEST}
    amd64_host.sh("rm -rf %s; mkdir -p %s && echo data > %s/data.txt" % (DEST, DEST, DEST))
    first = harness.assert_ok(harness.check_then_real_task(amd64_host, MODULE, args))
    assert (first["layer_action"], first["files"], first["commands"]) == ("created", 120, [])
    listing = amd64_host.sh("cd %s && find . -type f | sort | xargs stat -c '%%n %%U %%a'" % DEST).stdout.split("\n")
    assert "./pkg5/mod119.py root 644" in listing and "./data.txt root 644" in listing
    assert amd64_host.sh("find %s -name __pycache__ | wc -l" % DEST).stdout.strip() == "0"

    again = harness.assert_ok(harness.check_then_real_task(amd64_host, MODULE, args))
    assert (again["layer_action"], again["changed"], again["commands"]) == ("kept", False, [])

    (src / "pkg1" / "mod1.py").write_text("VALUE = 'one'\n")
    (src / "pkg2" / "mod2.py").unlink()
    changed = harness.assert_ok(harness.check_then_real_task(amd64_host, MODULE, args, diff=True))
    assert changed["layer_action"] == "updated"
    assert changed["reasons"] == ["2 file(s) of the code changed (changed: pkg1/mod1.py; removed: pkg2/mod2.py)"]
    assert amd64_host.sh("cat %s/pkg1/mod1.py" % DEST).stdout == "VALUE = 'one'\n"
    assert not amd64_host.exists(DEST + "/pkg2/mod2.py") and amd64_host.exists(DEST + "/data.txt")

    amd64_host.sh("echo tampered > %s/pkg3/mod3.py" % DEST)
    repaired = harness.assert_ok(harness.check_then_real_task(amd64_host, MODULE, args))
    assert repaired["layer_action"] == "recreated" and "pkg3/mod3.py" in repaired["reasons"][0]
    assert amd64_host.sh("cat %s/pkg3/mod3.py" % DEST).stdout == "VALUE = 3\n"
    assert harness.assert_ok(harness.run_task(amd64_host, MODULE, args))["layer_action"] == "kept"


def test_as_root_into_a_tree_the_app_user_owns_a_planted_link_is_refused(amd64_host, tmp_path):
    """The app user owns its code (owner: the app user) and can write the tree; before a deploy it replaces a
    directory of the code with a link to a root-owned directory. Expected: a titled error naming the link, no
    file written where it points, the files the app user cannot be blamed for unchanged; once the link is gone
    the run converges and the next one keeps."""
    src = tmp_path / "app"
    _tree(src, files=12)
    dest = DEST + "-app"
    amd64_host.sh("id demo >/dev/null 2>&1 || useradd --system demo; rm -rf %s /srv/victim; mkdir -p /srv/victim"
                  % dest)
    args = {"src": str(src), "dest": dest, "owner": "demo"}
    first = harness.assert_ok(harness.check_then_real_task(amd64_host, MODULE, args))
    assert first["layer_action"] == "created"
    assert amd64_host.sh("stat -c '%%U' %s %s/pkg4/mod4.py" % (dest, dest)).stdout.split() == ["demo", "demo"]

    amd64_host.sh("rm -rf %s/pkg4 && ln -s /srv/victim %s/pkg4" % (dest, dest), user="demo")
    (src / "pkg4" / "mod4.py").write_text("VALUE = 'new'\n")
    error = harness.error_of(harness.run_task(amd64_host, MODULE, args))
    assert error["code"] == "code_link_in_the_way" and dest + "/pkg4" in error["title"], error
    assert amd64_host.sh("ls -A /srv/victim").stdout == ""

    amd64_host.sh("rm %s/pkg4" % dest)
    fixed = harness.assert_ok(harness.check_then_real_task(amd64_host, MODULE, args))
    # A write that failed half-way leaves no fingerprint (the engine's rule for layers changed in place): the
    # next run writes the code as a first one does, skipping the files already as they should be.
    assert fixed["layer_action"] == "created"
    assert amd64_host.sh("cat %s/pkg4/mod4.py" % dest).stdout == "VALUE = 'new'\n"
    assert harness.assert_ok(harness.run_task(amd64_host, MODULE, args))["layer_action"] == "kept"


def test_a_link_out_of_the_source_tree_is_a_titled_error_before_the_host_is_asked(amd64_host, tmp_path):
    src = tmp_path / "app"
    _tree(src, files=2)
    (src / "secrets").symlink_to(tmp_path)
    error = harness.error_of(harness.run_task(amd64_host, MODULE, {"src": str(src), "dest": DEST + "-link"}))
    assert error["code"] == "code_src_link" and error["fault"] == "the app's files", error
    assert not amd64_host.exists(DEST + "-link")


def test_a_src_the_controller_cannot_find_is_a_titled_error(amd64_host, tmp_path):
    error = harness.error_of(harness.run_task(amd64_host, MODULE, {"src": str(tmp_path / "nowhere"), "dest": DEST}))
    assert error["code"] == "bad_argument" and "src" in error["title"], error
