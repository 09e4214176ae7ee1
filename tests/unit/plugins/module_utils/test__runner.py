"""The one command runner: no shell, cleared environment, retries, masked secrets."""


import pytest

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import (
    NETWORK_ENV, CommandRunner, network_env, network_fault, proxy_settings)


def _no_network_settings(monkeypatch):
    for name in NETWORK_ENV:
        monkeypatch.delenv(name, raising=False)


def test_environment_is_cleared_but_for_what_the_step_needs(monkeypatch):
    _no_network_settings(monkeypatch)
    for hijack in ("PYTHONHOME", "PYTHONPATH", "PIP_INDEX_URL", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV"):
        monkeypatch.setenv(hijack, "/evil")
    runner = CommandRunner(env={"APPENV_WANTED": "yes"})
    result = runner.run(["env"], what="Listing the environment")
    names = {line.split("=", 1)[0] for line in result.stdout.splitlines()}
    assert names <= {"PATH", "LANG", "LC_ALL", "HOME", "APPENV_WANTED", "SOURCE_DATE_EPOCH"}
    assert "APPENV_WANTED" in names


def test_network_settings_pass_to_every_command_and_nothing_else(monkeypatch):
    _no_network_settings(monkeypatch)
    monkeypatch.setenv("https_proxy", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/company-ca.pem")
    monkeypatch.setenv("PIP_INDEX_URL", "http://elsewhere.invalid/simple")
    monkeypatch.setenv("UV_INDEX_URL", "http://elsewhere.invalid/simple")
    result = CommandRunner().run(["env"], what="Listing the environment")
    found = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert found["https_proxy"] == "http://proxy.invalid:3128"
    assert found["NO_PROXY"] == "127.0.0.1"
    assert found["SSL_CERT_FILE"] == "/etc/company-ca.pem"
    assert found["UV_SYSTEM_CERTS"] == found["UV_NATIVE_TLS"] == "1"  # uv trusts the CA with system certs
    assert found["PIP_CERT"] == "/etc/company-ca.pem"  # pip before 24.2 reads only its own setting
    assert "PIP_INDEX_URL" not in found and "UV_INDEX_URL" not in found


def test_uv_keeps_its_own_roots_when_no_ca_is_configured():
    assert network_env({"http_proxy": "http://p:3128", "SSL_CERT_FILE": ""}) == {"http_proxy": "http://p:3128"}
    assert network_env({"PIP_CERT": "/ca.pem"}) == {"PIP_CERT": "/ca.pem", "UV_SYSTEM_CERTS": "1",
                                                    "UV_NATIVE_TLS": "1"}
    assert network_env({"SSL_CERT_FILE": "/a.pem", "PIP_CERT": "/b.pem"})["PIP_CERT"] == "/b.pem"
    assert network_env({"HOME": "/root", "PYTHONPATH": "/evil"}) == {}


@pytest.mark.parametrize("text, settings, code", [
    # pip (urllib3 / truststore) and uv (rustls) on a TLS-inspecting network without the CA
    ("WARNING: Retrying ... SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate "
     "verify failed: unable to get local issuer certificate (_ssl.c:1006)'))", {}, "network_tls_untrusted"),
    ("error: Request failed after 3 retries\n  Caused by: invalid peer certificate: UnknownIssuer", {},
     "network_tls_untrusted"),
    ("ProxyError('Unable to connect to proxy', NewConnectionError(...Connection refused))", {},
     "network_proxy_failed"),
    ("OSError: Tunnel connection failed: 403 Filtered", {}, "network_proxy_failed"),
    # unreachable: the proxy is the suspect only when one is configured
    ("error sending request for url (https://127.0.0.1:9/simple/x/)", {"https_proxy": "http://p:3128"},
     "network_proxy_failed"),
    ("error sending request for url (https://127.0.0.1:9/simple/x/)", {"no_proxy": "*"}, None),
    ("No matching distribution found for demo-alpha", {"https_proxy": "http://p:3128"}, None),
])
def test_network_failures_are_told_apart(text, settings, code):
    assert network_fault(text, settings) == code


def test_proxy_settings_are_shown_without_credentials():
    shown = proxy_settings({"https_proxy": "http://u:secret@p:3128", "SSL_CERT_FILE": "/ca.pem"})
    assert shown == "https_proxy=http://***@p:3128"
    assert proxy_settings({}) == "none"


def test_arguments_are_never_given_to_a_shell(tmp_path):
    marker = tmp_path / "pwned"
    result = CommandRunner().run(["echo", "$(touch %s); rm -rf /" % marker], what="Echoing")
    assert not marker.exists()
    assert "$(touch" in result.stdout


def test_failure_is_a_titled_error_with_the_output_and_history():
    runner = CommandRunner()
    with pytest.raises(AppenvError) as caught:
        runner.run(["sh", "-c", "echo nope >&2; exit 3"], what="Installing the app")
    error = caught.value
    assert error.title == "Installing the app failed"
    assert "exited with status 3" in error.cause and "nope" in error.cause
    assert runner.history[-1]["rc"] == 3


def test_retries_with_backoff_then_succeeds(tmp_path):
    counter = tmp_path / "count"
    script = "n=$(cat %s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s; [ $n -ge 3 ]" % (counter, counter)
    sleeps = []
    runner = CommandRunner(sleep=sleeps.append)
    result = runner.run(["sh", "-c", script], what="Flaky step", retries=3, backoff=0.5)
    assert result.rc == 0
    assert sleeps == [0.5, 1.0]
    assert [entry["attempt"] for entry in runner.history] == [1, 2, 3]


def test_retries_are_bounded():
    sleeps = []
    runner = CommandRunner(sleep=sleeps.append)
    with pytest.raises(AppenvError):
        runner.run(["false"], what="Always failing", retries=2, backoff=1)
    assert sleeps == [1, 2] and len(runner.history) == 3


def test_missing_program_and_timeout_are_titled_errors():
    with pytest.raises(AppenvError) as caught:
        CommandRunner().run(["/nonexistent/pip"], what="Running pip")
    assert caught.value.code == "command_not_found"
    with pytest.raises(AppenvError) as caught:
        CommandRunner(sleep=lambda s: None).run(["sleep", "5"], what="Waiting", timeout=0.2)
    assert caught.value.code == "command_timeout" and caught.value.cause.endswith("printed last:\n(nothing)")


def test_a_stopped_command_says_what_it_printed_before_the_timeout():
    runner = CommandRunner(secrets=["s3cr3t"], sleep=lambda s: None)
    script = "echo waiting on https://u:pw@index.invalid/simple s3cr3t; echo stuck >&2; sleep 5"
    with pytest.raises(AppenvError) as caught:
        runner.run(["sh", "-c", script], what="Waiting", timeout=1)
    cause = caught.value.cause
    assert cause.endswith("printed last:\nwaiting on https://***@index.invalid/simple ***\nstuck"), cause
    assert runner.history[-1]["stdout"].startswith("waiting on") and "pw" not in repr(runner.history)


def test_secrets_and_url_credentials_never_reach_history_or_errors():
    runner = CommandRunner(secrets=["s3cr3t-token"])
    with pytest.raises(AppenvError) as caught:
        runner.run(["sh", "-c", "echo https://user:hunter2@index.invalid/simple s3cr3t-token; exit 1",
                    "https://bob:pa55@index.invalid/simple"], what="Resolving")
    text = repr(runner.history) + caught.value.message
    for secret in ("hunter2", "pa55", "s3cr3t-token"):
        assert secret not in text
    assert "***" in text


def test_a_started_program_is_recorded_once_when_waited_for_or_killed():
    runner = CommandRunner()
    done = runner.start(["sh", "-c", "echo out; echo err >&2"], what="Saying something")
    result = done.wait()
    assert (result.rc, result.stdout, result.stderr) == (0, "out\n", "err\n")
    assert done.wait() is result
    slow = runner.start(["sleep", "30"], what="Waiting")
    killed = slow.kill()
    assert killed.rc != 0 and killed.seconds < 10
    assert [(entry["argv"][0], entry["rc"]) for entry in runner.history] == [("sh", 0), ("sleep", killed.rc)]


def test_a_program_that_cannot_be_started_is_a_titled_error():
    with pytest.raises(AppenvError) as caught:
        CommandRunner().start(["/nonexistent/program"], what="Nothing")
    assert caught.value.code == "command_not_found"


def flaky_program(tmp_path, failures, message):
    """A real program that fails `failures` times printing message, then succeeds (argv; attempts counted)."""
    counter = tmp_path / "attempts"
    script = ("n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}; "
              "if [ $n -le {f} ]; then echo '{m}' >&2; exit 1; fi").format(c=counter, f=failures, m=message)
    return ["sh", "-c", script]


def test_a_failure_retry_if_calls_transient_is_retried_with_backoff_even_unchecked(tmp_path):
    sleeps = []
    runner = CommandRunner(sleep=sleeps.append)
    result = runner.run(flaky_program(tmp_path, 2, "Connection refused"), what="Installing", retries=3, check=False,
                        retry_if=lambda failed: "Connection refused" in failed.output)
    assert result.rc == 0 and sleeps == [1.0, 2.0]
    assert [entry["attempt"] for entry in runner.history] == [1, 2, 3]


def test_a_failure_retry_if_rejects_is_not_retried(tmp_path):
    sleeps = []
    runner = CommandRunner(sleep=sleeps.append)
    result = runner.run(flaky_program(tmp_path, 2, "No matching distribution"), what="Installing", retries=3,
                        check=False, retry_if=lambda failed: "Connection refused" in failed.output)
    assert result.rc == 1 and sleeps == [] and len(runner.history) == 1
