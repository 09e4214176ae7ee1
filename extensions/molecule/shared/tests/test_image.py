"""pytest-testinfra checks of an app image built by appenv.python.image (every molecule scenario)."""

import json
import os

# The exact version expected when the runner knows it (the repo's tests: the test bed's build), else the series
# the scenario asked for (APPENV_MOLECULE_PYTHON, default 3.11).
EXPECTED_PYTHON = os.environ.get("APPENV_MOLECULE_EXPECT_PYTHON") or os.environ.get("APPENV_MOLECULE_PYTHON", "3.11")


def test_interpreter_is_the_right_version_and_arch(host):
    out = host.check_output("/opt/appenv/python/bin/python3 -c 'import json, platform; "
                            "print(json.dumps([platform.python_version(), platform.machine()]))'")
    version, machine = json.loads(out)
    assert version == EXPECTED_PYTHON or version.startswith(EXPECTED_PYTHON + ".")
    assert machine == host.system_info.arch or (machine, host.system_info.arch) in (("aarch64", "arm64"),
                                                                                    ("x86_64", "amd64"))
    assert host.file("/opt/appenv/python/.appenv-fingerprint.json").exists


def test_app_imports_its_dependencies_as_the_app_user(host):
    cmd = host.run("su -s /bin/sh demo -c 'set -a; . /etc/appenv/demo.env; set +a; \"$APPENV_PYTHON\" "
                   "/srv/demo/app.py'")
    assert cmd.rc == 0, cmd.stderr
    assert cmd.stdout.strip() == "app on 1.0"
    assert host.file("/opt/appenv/app/deps").user == "demo"


def test_pycs_are_in_the_chosen_modes(host):
    flags = ("import sys, glob; p = glob.glob(sys.argv[1])[0]; "
             "print(int.from_bytes(open(p, 'rb').read(8)[4:8], 'little'))")
    deps = host.check_output("/opt/appenv/python/bin/python3 -c \"%s\" "
                             "'/opt/appenv/app/deps/lib/python3.11/site-packages/demo_alpha/__pycache__/*.pyc'"
                             % flags)
    app = host.check_output("/opt/appenv/python/bin/python3 -c \"%s\" '/srv/demo/__pycache__/app.*.pyc'" % flags)
    stdlib = host.check_output("/opt/appenv/python/bin/python3 -c \"%s\" "
                               "'/opt/appenv/python/lib/python3.11/__pycache__/os.*.pyc'" % flags)
    assert (deps, app, stdlib) == ("3", "1", "1")  # checked-hash deps, unchecked-hash code and stdlib


def test_env_file_and_profile_script(host):
    env = host.file("/etc/appenv/demo.env")
    assert env.exists and env.mode == 0o644
    assert "PYTHONUSERBASE=/opt/appenv/app/deps" in env.content_string
    cmd = host.run("sh -c '. /etc/profile.d/appenv-demo.sh; demo-alpha'")
    assert cmd.rc == 0 and cmd.stdout.strip() == "demo-alpha 1.0", cmd.stderr


def test_nothing_world_writable(host):
    out = host.check_output("find /opt/appenv /srv/demo /etc/appenv -perm -o+w ! -type l -print | head -5")
    assert out == ""
