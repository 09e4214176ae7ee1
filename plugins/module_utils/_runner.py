# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way appenv.python starts a program on the target.

No shell, an environment cleared to what the step needs (so PYTHONHOME,
PYTHONPATH, PIP_*, VIRTUAL_ENV… on the host cannot hijack an install) except
the network settings of NETWORK_ENV (proxies, CA bundles, netrc), retries
with backoff for network steps, secrets masked everywhere, and a history of
every command for the module result (shown with -v).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import time

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._urls import redact_url

SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The network settings every installer and download keeps, read from the module process's environment
# (where the task's ``environment:`` keyword puts them). Everything else is cleared. The one list of them;
# docs/guides/company-networks.md explains it to users.
NETWORK_ENV = (
    # Proxies, in both spellings: curl, pip (requests), uv (reqwest) and urllib read the lower case, some
    # tools only the upper case. no_proxy keeps the loopback and internal indexes off the proxy.
    "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
    # A private CA (a TLS-inspecting proxy, an internal index): OpenSSL and uv's native TLS read
    # SSL_CERT_FILE/SSL_CERT_DIR, requests (poetry, pipenv, pip without truststore) REQUESTS_CA_BUNDLE,
    # pip PIP_CERT, curl and tools built on it CURL_CA_BUNDLE.
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE",
    # Credentials for an index kept out of URLs and logs (pip, uv and urllib read ~/.netrc or NETRC).
    "NETRC",
)
# Not kept, on purpose: PIP_INDEX_URL / UV_INDEX_URL / PIP_EXTRA_INDEX_URL (the index is a task option,
# index_url, part of the fingerprint; an index from the host's environment would change what is installed
# without the layer knowing), PIP_CLIENT_CERT and other installer settings (the same reason).
_CA_SETTINGS = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE")


def network_env(environ=None):
    """The NETWORK_ENV settings of environ (os.environ by default), as a dict, empty values dropped.

    When a CA is configured, uv runs with the system's certificates (UV_SYSTEM_CERTS=1, and UV_NATIVE_TLS=1
    for uv releases before that name): it then trusts the system store and SSL_CERT_FILE / SSL_CERT_DIR
    instead of its built-in roots, so a private CA works for uv as it does for pip. SSL_CERT_FILE is also
    pip's PIP_CERT unless that is set: pip before 24.2 trusts its own bundle, not SSL_CERT_FILE.
    """
    environ = os.environ if environ is None else environ
    found = {name: environ[name] for name in NETWORK_ENV if environ.get(name)}
    if any(name in found for name in _CA_SETTINGS):
        found["UV_SYSTEM_CERTS"] = found["UV_NATIVE_TLS"] = "1"
    if "SSL_CERT_FILE" in found and "PIP_CERT" not in found:
        found["PIP_CERT"] = found["SSL_CERT_FILE"]
    return found


_OUTPUT_TAIL = 4000


# What installers and urllib print when TLS verification fails (pip/requests/urllib: OpenSSL's words;
# uv: rustls's) or when a proxy refuses or cannot be reached.
_TLS_MARKERS = ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed", "invalid peer certificate",
                "UnknownIssuer", "unable to get local issuer certificate", "self-signed certificate",
                "self signed certificate", "SSLCertVerificationError")
_PROXY_MARKERS = ("ProxyError", "Cannot connect to proxy", "Tunnel connection failed", "proxy error",
                  "Unable to connect to proxy")
_UNREACHABLE_MARKERS = ("Connection refused", "Failed to establish a new connection", "error sending request",
                        "Name or service not known", "Temporary failure in name resolution", "timed out",
                        "Network is unreachable")


def network_fault(text, settings=None):
    """The catalogue code for a network failure described by text, or None.

    network_tls_untrusted: a certificate no configured CA signed. network_proxy_failed: the proxy said so, or
    the index/mirror was unreachable while a proxy is configured (settings: network_env() by default).
    """
    text = text or ""
    if any(marker in text for marker in _TLS_MARKERS):
        return "network_tls_untrusted"
    if any(marker in text for marker in _PROXY_MARKERS):
        return "network_proxy_failed"
    settings = network_env() if settings is None else settings
    proxied = any(name.lower().endswith("_proxy") and name.lower() != "no_proxy" for name in settings)
    if proxied and any(marker in text for marker in _UNREACHABLE_MARKERS):
        return "network_proxy_failed"
    return None


def proxy_settings(settings=None):
    """The proxy variables in effect, as text for an error message (credentials masked)."""
    settings = network_env() if settings is None else settings
    shown = ["%s=%s" % (name, redact_url(value)) for name, value in sorted(settings.items())
             if name.lower().endswith("_proxy")]
    return ", ".join(shown) or "none"


def find_program(name, path=SAFE_PATH):
    """The full path of program name on path (the runner's cleared PATH by default), or None."""
    for directory in path.split(os.pathsep):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _tail(text, limit=_OUTPUT_TAIL):
    return text if len(text) <= limit else "…" + text[-limit:]


def _partial(expired):
    """What a command stopped by its timeout had printed (subprocess hands it over as bytes, or None)."""
    parts = []
    for part in (expired.stdout, expired.stderr):
        if isinstance(part, bytes):
            part = part.decode("utf-8", "replace")
        if part:
            parts.append(part.rstrip("\n"))
    return "\n".join(parts)


class CommandResult:
    def __init__(self, argv, rc, stdout, stderr, seconds):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds

    @property
    def output(self):
        return (self.stdout + ("\n" if self.stdout and self.stderr else "") + self.stderr).strip()


class CommandRunner:
    """Runs argv lists with a cleared environment; keeps a masked history."""

    def __init__(self, env=None, secrets=(), sleep=time.sleep):
        home = os.environ.get("HOME") or "/root"
        self.base_env = {"PATH": SAFE_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": home}
        self.base_env.update(network_env())
        # SOURCE_DATE_EPOCH is an input the user set on purpose (reproducible pycs).
        if os.environ.get("SOURCE_DATE_EPOCH"):
            self.base_env["SOURCE_DATE_EPOCH"] = os.environ["SOURCE_DATE_EPOCH"]
        self.base_env.update(env or {})
        self.secrets = [secret for secret in secrets if secret]
        self.history = []
        self._sleep = sleep

    def add_secret(self, secret):
        if secret and secret not in self.secrets:
            self.secrets.append(secret)

    def mask(self, text):
        if text is None:
            return text
        text = redact_url(str(text))
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def run(self, argv, what, env=None, cwd=None, retries=0, backoff=1.0, timeout=None,
            check=True, fault="command_failed", stdin=None, stdin_file=None, retry_if=None):
        """Run argv (a list, never a shell string).

        what: a phrase for errors and logs ("Installing the app's dependencies").
        retries: extra attempts for steps that touch the network; waits backoff,
        2*backoff, 4*backoff… between them. A timeout is always retried; a failure
        (exit status not 0) is retried when retry_if(result) says it is transient
        (a network failure), or, without retry_if, whenever check is set.
        check: raise AppenvError(fault) when the exit status is not 0.
        stdin: text written to the program's standard input; stdin_file: an open file it reads instead.
        """
        argv = [str(arg) for arg in argv]
        full_env = dict(self.base_env)
        full_env.update({key: str(value) for key, value in (env or {}).items() if value is not None})
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                proc = subprocess.run(
                    argv, env=full_env, cwd=cwd, input=stdin, stdout=subprocess.PIPE,
                    stdin=stdin_file if stdin is None else None,
                    stderr=subprocess.PIPE, timeout=timeout, check=False,
                    universal_newlines=True, errors="replace")
            except FileNotFoundError as exc:
                self._record(argv, 127, "", str(exc), time.monotonic() - started, attempt)
                raise AppenvError("command_not_found", program=argv[0], detail=self.mask(exc))
            except PermissionError as exc:
                self._record(argv, 126, "", str(exc), time.monotonic() - started, attempt)
                raise AppenvError("command_not_found", program=argv[0], detail=self.mask(exc))
            except subprocess.TimeoutExpired as exc:
                printed = _partial(exc)
                self._record(argv, -1, printed, "timed out", time.monotonic() - started, attempt)
                if attempt <= retries:
                    self._sleep(backoff * (2 ** (attempt - 1)))
                    continue
                raise AppenvError("command_timeout", what=what, command=self.mask(" ".join(argv)), timeout=timeout,
                                  output=self.mask(_tail(printed.strip())) or "(nothing)")
            result = CommandResult(argv, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
            self._record(argv, result.rc, result.stdout, result.stderr, result.seconds, attempt)
            if result.rc != 0 and (retry_if(result) if retry_if is not None else check) and attempt <= retries:
                self._sleep(backoff * (2 ** (attempt - 1)))
                continue
            if result.rc == 0 or not check:
                return result
            raise AppenvError(fault, what=what, command=self.mask(" ".join(argv)), rc=result.rc,
                              output=self.mask(_tail(result.output)))

    def start(self, argv, what, stdin_file=None):
        """Start argv without waiting for it (the same cleared environment, no retries).

        Returns a Started; its wait() (or kill()) records the command in the history like run().
        Raises AppenvError(command_not_found) when the program cannot be started.
        """
        argv = [str(arg) for arg in argv]
        started = time.monotonic()
        try:
            proc = subprocess.Popen(argv, env=dict(self.base_env), stdin=stdin_file, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, universal_newlines=True, errors="replace")
        except (FileNotFoundError, PermissionError) as exc:
            self._record(argv, 127, "", str(exc), time.monotonic() - started, 1)
            raise AppenvError("command_not_found", program=argv[0], detail=self.mask(exc))
        return Started(self, argv, what, proc, started)

    def _record(self, argv, rc, stdout, stderr, seconds, attempt):
        self.history.append({
            "argv": [self.mask(arg) for arg in argv],
            "rc": rc,
            "seconds": round(seconds, 3),
            "attempt": attempt,
            "stdout": self.mask(_tail(stdout or "")),
            "stderr": self.mask(_tail(stderr or "")),
        })


class Started:
    """A program CommandRunner.start started: wait() for it, or kill() it; either records it once."""

    def __init__(self, runner, argv, what, proc, started):
        self.runner = runner
        self.argv = argv
        self.what = what
        self.proc = proc
        self.started = started
        self.result = None

    def wait(self):
        if self.result is None:
            stdout, stderr = self.proc.communicate()
            self.result = CommandResult(self.argv, self.proc.returncode, stdout, stderr,
                                        time.monotonic() - self.started)
            self.runner._record(self.argv, self.result.rc, stdout, stderr, self.result.seconds, 1)
        return self.result

    def kill(self):
        if self.result is None and self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:
                pass
        return self.wait()
