"""pip: its install command per location, its log of skipped index pages, how its failures are classified."""

import pytest

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._installers import pip

PIP = pip.Pip("/opt/appenv/tools")


@pytest.mark.parametrize("output, code", [
    ("WARNING: Retrying ... NewConnectionError: Failed to establish a new connection\nERROR: No matching "
     "distribution found for x", "deps_index_unreachable"),
    ("ERROR: Could not find a version that satisfies the requirement nope", "deps_not_found"),
    ("error: subprocess-exited-with-error\n× Getting requirements to build wheel did not run successfully.",
     "deps_build_failed"),
    ("ERROR: Invalid requirement: 'x >=< 1'", "deps_install_failed"),
    # An index answering 500: pip only says "from versions: none"; its log (--log) says why.
    ("ERROR: Could not find a version that satisfies the requirement demo (from versions: none)\n"
     "2026-01-01T00:00:00,000 Could not fetch URL http://127.0.0.1:1/simple/demo/: connection error: "
     "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: /simple/demo/ "
     "(Caused by ResponseError('too many 500 error responses')) - skipping", "deps_index_unreachable"),
    ("Could not fetch URL http://h/simple/demo/: 504 Server Error: Gateway Timeout for url: x - skipping\n"
     "ERROR: No matching distribution found for demo", "deps_index_unreachable"),
    ("Could not fetch URL http://h/simple/demo/: 404 Client Error: Not Found for url: x - skipping\n"
     "ERROR: No matching distribution found for demo", "deps_not_found"),
    # A download cut short, retried and resumed until pip gives up.
    ("WARNING: Connection interrupted while downloading.\nerror: incomplete-download\n"
     "Download failed after 6 attempts because not enough bytes were received", "deps_index_unreachable"),
    ("ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device", "layer_no_space"),
])
def test_failures_are_classified(output, code):
    assert PIP.classify(output) == code


def test_fetch_failures_are_the_lines_that_say_why_an_index_page_was_skipped():
    log = ("2026-01-01T00:00:00,000 Looking in indexes: http://127.0.0.1:1/simple\n"
           "2026-01-01T00:00:01,000 Could not fetch URL http://127.0.0.1:1/simple/a/: 500 Server Error - skipping\n"
           "2026-01-01T00:00:01,000 Could not fetch URL http://127.0.0.1:1/simple/a/: 500 Server Error - skipping\n"
           + "".join("2026-01-01T00:00:02,000 Could not fetch URL http://h/simple/p%d/: timed out\n" % n
                     for n in range(9)))
    lines = pip.fetch_failures(log)
    assert len(lines) == 5 and "500 Server Error" in lines[0] and "p0" in lines[1]
    assert pip.fetch_failures("") == []


def test_the_install_command_per_location(runtime):
    common = ["install", "--no-compile", "--disable-pip-version-check", "--no-input", "--no-warn-script-location",
              "--retries", "2"]
    python = [runtime.python, "-m", "pip"]
    assert PIP.install_argv(runtime, "user", "/d", 2) == python + common + ["--user", "--ignore-installed"]
    assert PIP.install_argv(runtime, "target", "/d", 2) == python + common + ["--target", "/d"]
    assert PIP.install_argv(runtime, "system", "/d", 2) == python + common
    # A venv is installed into by the runtime's pip, pointed at the venv's interpreter.
    assert PIP.install_argv(runtime, "venv", "/d", 2) == python + ["--python", "/d/bin/python"] + common


def test_the_install_keeps_a_log_and_adds_its_skipped_pages_to_a_failure(runner, result):
    def failing(argv, what, **kwargs):
        log = argv[argv.index("--log") + 1]
        with open(log, "w") as handle:
            handle.write("2026 Could not fetch URL http://h/simple/a/: 500 Server Error: Internal Server Error for url: "
                         "http://h/simple/a/ - skipping\n")
        runner.calls.append(argv)
        return result(rc=1, stderr="ERROR: No matching distribution found for a")

    runner.run = failing
    argv, outcome, output = PIP.install(runner, ["python", "-m", "pip", "install", "a"], "/srv/app", {}, 60)
    assert argv[:5] == ["python", "-m", "pip", "install", "a"] and argv[5] == "--log"
    assert outcome.rc == 1 and output.splitlines()[-1].startswith("2026 Could not fetch URL")
    assert PIP.classify(output) == "deps_index_unreachable"


def test_a_stopped_install_says_what_pip_logged_last(runner):
    """pip's own output may still be in its buffer when the timeout stops it: its log names the index it waited on."""
    def stopped(argv, what, **kwargs):
        log = argv[argv.index("--log") + 1]
        with open(log, "w") as handle:
            handle.write("".join("2026 line %d\n" % n for n in range(20)))
            handle.write("2026 Starting new HTTP connection (1): 127.0.0.1:4711\n")
        raise AppenvError("command_timeout", what=what, command="pip install a", timeout=20, output="(nothing)")

    runner.run = stopped
    with pytest.raises(AppenvError) as caught:
        PIP.install(runner, ["python", "-m", "pip", "install", "a"], "/srv/app", {}, 20)
    cause = caught.value.cause
    assert caught.value.code == "command_timeout" and "(nothing)" not in cause
    assert cause.endswith("pip's log ends with:\n" + "\n".join(
        ["2026 line %d" % n for n in range(13, 20)] + ["2026 Starting new HTTP connection (1): 127.0.0.1:4711"]))

    def failing(argv, what, **kwargs):  # any other error goes on unchanged
        raise AppenvError("command_not_found", program="python", detail="gone")

    runner.run = failing
    with pytest.raises(AppenvError) as caught:
        PIP.install(runner, ["python", "-m", "pip", "install", "a"], "/srv/app", {}, 20)
    assert caught.value.code == "command_not_found" and "log" not in caught.value.cause


def test_hashed_requirements_get_a_warning():
    class Walk:
        hashes = True

    assert PIP.requirement_warnings(Walk()) == [pip.HASH_WARNING]
    Walk.hashes = False
    assert PIP.requirement_warnings(Walk()) == []


def test_pip_is_the_runtimes_own(runtime, distribution):
    with pytest.raises(AppenvError) as caught:
        PIP.version(runtime)
    assert caught.value.code == "tool_missing" and runtime.root in caught.value.cause
    distribution(runtime.site_packages, "pip", "26.3")
    assert PIP.version(runtime) == "26.3"
