"""A company network: the index and the runtime mirror over HTTPS signed by a private CA, behind a real proxy.

tests/testbed/proxy.py serves them on 127.0.0.1 so that only tinyproxy can reach them. The CA and the proxy
are given the way a user gives them, with Ansible's environment keyword; appenv.python passes its documented
allowlist (plugins/module_utils/_runner.py NETWORK_ENV) to every installer and download. Every installer
(pip, uv pip, uv.lock, poetry, pipenv) and the runtime download succeed with them, and fail with the titled
error naming what is missing without the CA or with the proxy down. One container, fat plays.
"""

import os
import shlex
import socket
import subprocess
import sys
import uuid

import pytest

from tests.integration import harness
from tests.integration.conftest import SYNTHETIC, _start_host
from tests.integration.plugins.modules.test_app_dependencies import (
    APP, LOCK_COMMANDS, MATRIX, project_files, run_app, write_files)
from tests.testbed import package_index as package_index_mod, proxy as proxy_mod, runtimes

pytestmark = pytest.mark.integration

CA_ON_HOST = "/usr/local/share/appenv-test/company-ca.pem"
PACKAGES = {"demo-alpha": "1.0", "demo-beta": "1.0", "demo-delta": "1.0", "demo-gamma": "1.0"}


@pytest.fixture(scope="module")
def network(index_server, runtime_mirror):
    root, _base = index_server
    with proxy_mod.company_network([root, runtime_mirror.root]) as net:
        yield net


@pytest.fixture(scope="module")
def https_index(index_server, network):
    """The loopback index with the tool wheels and the demo packages, reached as https:// through the proxy."""
    root, _base = index_server
    name = "company-" + uuid.uuid4().hex[:8]
    index = package_index_mod.PackageIndex(root / name)
    index.add(package_index_mod.ensure_tool_wheels("x86_64"))
    for pkg, version, requires, options in SYNTHETIC:
        package_index_mod.build_wheel(index.files, pkg, version, requires, **options)
    index.write_pages()
    index.url = "%s/%s" % (network.urls[0], name)
    return index


@pytest.fixture(scope="module")
def company_host(amd64_image, network):
    """One bookworm container on the machine's network for the whole file, with the company CA in a file."""
    host = _start_host(amd64_image, "x86_64", network="host")
    _copy_ca(host, network.ca_pem)
    yield host
    host.container.remove()


def _copy_ca(host, path):
    host.sh("mkdir -p %s" % os.path.dirname(CA_ON_HOST))
    host.container.copy_in(str(path), CA_ON_HOST)
    host.sh("chmod 644 %s" % CA_ON_HOST)


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environments(network):
    """The task environments: with the CA, without it, and with the CA but the proxy down."""
    with_ca = network.environment()
    with_ca["SSL_CERT_FILE"] = CA_ON_HOST
    no_ca = network.environment(ca=False)
    proxy_down = dict(with_ca, https_proxy="http://127.0.0.1:%d" % _closed_port())
    proxy_down["http_proxy"] = proxy_down["https_proxy"]
    return with_ca, no_ca, proxy_down


def _play(environment, tasks):
    return {"hosts": "all", "gather_facts": False, "environment": environment,
            "tasks": [{"name": name, module: args, "ignore_errors": True} for name, module, args in tasks]}


def _run(host, plays):
    """Run the plays; the host's results by task name (names are unique per playbook)."""
    report = harness.run_playbook(plays, [host])
    results = {entry["_task"]: entry for entry in harness.task_results(report, host.name)}
    assert results, report["_stderr"][-3000:]
    return results


def _runtime_task(name, archive, dest, retries=3):
    return (name, "appenv.python.python_runtime",
            {"version": archive["version"], "url": archive["url"], "sha256": archive["sha256"], "dest": dest,
             "retries": retries})


def _deps_task(name, case, index, retries=3):
    installer, _kind, _tools = MATRIX[case]
    return (name, "appenv.python.app_dependencies",
            {"project_dir": "/srv/%s" % case, "installer": installer, "location": "venv",
             "dest": "/opt/appenv/venv-%s" % case, "index_url": index.simple_url, "retries": retries,
             "timeout": 300})


def _lock_projects(host, index, environment):
    """The apps' files, one directory per case; lock files made on the host through the proxy with the CA."""
    exports = " ".join("%s=%s" % (key, shlex.quote(value)) for key, value in sorted(environment.items()))
    exports += " REQUESTS_CA_BUNDLE=%s PIP_CERT=%s UV_SYSTEM_CERTS=1" % (CA_ON_HOST, CA_ON_HOST)
    for case, (_installer, kind, _tools) in sorted(MATRIX.items()):
        files = project_files(kind, index)
        if "Pipfile" in files:  # a pipenv source that skips verification would prove nothing here
            files["Pipfile"] = files["Pipfile"].replace("verify_ssl = false", "verify_ssl = true")
        write_files(host, files, root="/srv/%s" % case)
        if kind in LOCK_COMMANDS:
            host.sh("export %s; %s" % (exports, LOCK_COMMANDS[kind].replace("cd %s" % APP, "cd /srv/%s" % case)))


def test_every_installer_and_the_runtime_download_go_through_the_proxy_with_the_ca(
        company_host, network, https_index, runtime_mirror):
    host = company_host
    with_ca, no_ca, proxy_down = _environments(network)
    archive = runtime_mirror.ensure(runtimes.exact_version("3.11"), "x86_64")
    archive = dict(archive, url="%s/%s/%s" % (network.urls[1], runtime_mirror.tag, archive["filename"]))

    # The runtime download: the titled errors first (nothing installed), then through the proxy with the CA.
    results = _run(host, [
        _play(no_ca, [_runtime_task("runtime without the CA", archive, "/opt/appenv/python")]),
        _play(proxy_down, [_runtime_task("runtime with the proxy down", archive, "/opt/appenv/python", 0)]),
        _play(with_ca, [
            _runtime_task("runtime", archive, "/opt/appenv/python"),
            ("tools", "appenv.python.pip_tooling",
             {"index_url": https_index.simple_url, "tools": [{"name": "uv"}, {"name": "poetry"}, {"name": "pipenv"}]}),
        ]),
    ])
    error = harness.error_of(results["runtime without the CA"])
    assert error["code"] == "network_tls_untrusted", error
    assert "SSL_CERT_FILE" in " ".join(error["fixes"]) and network.urls[1] in error["cause"]
    error = harness.error_of(results["runtime with the proxy down"])
    assert error["code"] == "network_proxy_failed", error
    assert proxy_down["https_proxy"] in error["cause"] and "https_proxy" in " ".join(error["fixes"])
    assert harness.assert_ok(results["runtime"])["changed"] is True
    harness.assert_ok(results["tools"])

    # Every installer: without the CA, with the proxy down, then with both (lock files made through the proxy).
    _lock_projects(host, https_index, with_ca)
    cases = sorted(MATRIX)
    results = _run(host, [
        _play(no_ca, [_deps_task("%s without the CA" % case, case, https_index, 0) for case in cases] + [
            ("tools without the CA", "appenv.python.pip_tooling",
             {"index_url": https_index.simple_url, "tools": [{"name": "uv"}], "tools_dir": "/opt/appenv/tools-b",
              "retries": 0})]),
        _play(proxy_down, [_deps_task("%s with the proxy down" % case, case, https_index, 0)
                           for case in ("pip", "uv-lock")]),
        _play(with_ca, [_deps_task(case, case, https_index) for case in cases]),
    ])
    for case in cases:
        error = harness.error_of(results["%s without the CA" % case])
        assert error["code"] == "network_tls_untrusted", (case, error)
        assert "SSL_CERT_FILE" in " ".join(error["fixes"])
    error = harness.error_of(results["tools without the CA"])
    assert error["code"] == "network_tls_untrusted", error
    for case in ("pip", "uv-lock"):
        error = harness.error_of(results["%s with the proxy down" % case])
        assert error["code"] == "network_proxy_failed", (case, error)
        assert proxy_down["https_proxy"] in error["cause"]
    for case in cases:
        result = harness.assert_ok(results[case])
        assert (result["changed"], result["packages"]) == (True, PACKAGES), (case, result.get("reasons"))
        assert run_app(host, result) == "1.0"
        if case.startswith("uv"):  # uv trusts the CA with system certificates, switched on by the CA setting
            assert result["installer"] == "uv"

    # Idempotent: the second run changes nothing.
    results = _run(host, [_play(with_ca, [_runtime_task("runtime", archive, "/opt/appenv/python")]
                                + [_deps_task(case, case, https_index) for case in cases])])
    for name, result in results.items():
        assert harness.assert_ok(result)["changed"] is False, (name, result.get("reasons"))

    # Everything went through the proxy: it opened tunnels to both servers, and nothing reaches them directly.
    ports = {url.rsplit(":", 1)[1] for url in network.urls}
    assert {connect.rsplit(":", 1)[1] for connect in network.connects()} == ports
    direct = host.exec(["/opt/appenv/python/bin/python3", "-c",
                        "import ssl, sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=10, "
                        "context=ssl.create_default_context(cafile=sys.argv[2]))",
                        network.urls[0] + "/", CA_ON_HOST], check=False)
    assert direct.returncode != 0


def _configured_index():
    """The index this machine's pip uses: index-url from its configuration, else pip's own default."""
    proc = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                          check=False)
    for line in proc.stdout.splitlines():
        key, _sep, value = line.partition("=")
        if key.strip().endswith(".index-url") and not key.strip().endswith("extra-index-url"):
            return value.strip().strip("'\"").split()[0]
    try:
        from pip._internal.models.index import PyPI
    except ImportError:
        return None
    return PyPI.simple_url


@pytest.mark.online
def test_uv_installs_a_real_package_from_the_machines_registry_with_its_ca(amd64_host, runtime_mirror,
                                                                           package_index):
    """This machine's real path: its registry (from its pip configuration), its CA given by environment:."""
    index_url = _configured_index()
    ca_file = os.environ.get("SSL_CERT_FILE")
    if not index_url or not ca_file or not os.path.isfile(ca_file):
        pytest.skip("no index in the machine's pip configuration, or no SSL_CERT_FILE on the controller")
    host = amd64_host
    _copy_ca(host, ca_file)
    environment = {"SSL_CERT_FILE": CA_ON_HOST}
    for name in ("https_proxy", "http_proxy", "no_proxy", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"):
        if os.environ.get(name):
            environment[name] = os.environ[name]
    archive = runtime_mirror.ensure(runtimes.exact_version("3.11"), "x86_64")
    harness.assert_ok(harness.run_task(host, "appenv.python.python_runtime",
                                       {"version": archive["version"], "url": archive["url"],
                                        "sha256": archive["sha256"]}))
    harness.assert_ok(harness.run_task(host, "appenv.python.pip_tooling",
                                       {"index_url": package_index.simple_url, "tools": [{"name": "uv"}]}))
    write_files(host, {"requirements.txt": "six==1.17.0\n"})
    args = {"project_dir": APP, "installer": "uv", "location": "venv", "dest": "/opt/appenv/venv",
            "index_url": index_url}
    # Without the CA: on a TLS-inspected network, the titled error (elsewhere it simply installs).
    bare = harness.run_task(host, "appenv.python.app_dependencies", dict(args, dest="/opt/appenv/venv-bare"))
    if bare.get("failed"):
        assert harness.error_of(bare)["code"] == "network_tls_untrusted", bare["msg"]
    result = harness.assert_ok(harness.run_task(host, "appenv.python.app_dependencies", args,
                                                environment=environment))
    assert result["packages"] == {"six": "1.17.0"}
    again = harness.assert_ok(harness.run_task(host, "appenv.python.app_dependencies", args,
                                               environment=environment))
    assert again["changed"] is False
