# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Downloads on the target: checked against a sha256, retried, never half-kept.

``download(url, dest_path, sha256)`` streams ``http://``, ``https://`` or
``file://`` (a local copy) into ``<dest_path>.part-<pid>``, hashing as it goes,
and renames the file into place only when its sha256 matches: whatever fails,
nothing partial or wrong is ever found at ``dest_path``. Connection errors,
timeouts (the timeout bounds every single read, so a hanging server cannot
hang the task, and ``deadline`` bounds the whole download, so a server that
drip-feeds bytes cannot either), 5xx, 429 and bodies cut short are retried with exponential
backoff; a 404 or 403 is not. A body larger than ``max_bytes`` is cut off
and refused as soon as it passes the cap (Content-Length is not trusted), so a
mirror cannot fill the disk before the sha256 check. Credentials in the URL are sent as basic auth
(only to the same origin, never on to a redirect elsewhere) and never shown:
errors and results carry the redacted URL.

Every request goes through ``ansible.module_utils.urls`` (the convention of
Ansible collections): proxies from http_proxy/https_proxy/no_proxy, certificates
checked against the system store and SSL_CERT_FILE/SSL_CERT_DIR (or the bundle
named by REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE/PIP_CERT), credentials from NETRC or
~/.netrc when the URL has none. Redirects are followed here, one hop at a time,
so credentials stay on their origin. A certificate no CA signed and a failing
proxy are their own titled errors (network_tls_untrusted, network_proxy_failed).

``request(url, method)`` is one plain request with the same credentials,
opener and masking, for small bodies (a layer cache's metadata and listings)
and uploads streamed from a file (``PUT``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import os
import re
import socket
import time

try:  # Python 3
    import http.client as http_client
    import urllib.error as urllib_error
    import urllib.request as urllib_request
    from urllib.parse import unquote, urlsplit, urlunsplit
except ImportError:  # pragma: no cover - Python 2 is not supported on targets
    raise

try:
    import ssl
except ImportError:  # pragma: no cover - a Python built without ssl: https is refused by urllib itself
    ssl = None

from ansible.module_utils.urls import Request, SSLValidationError, make_context

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import network_env, network_fault, proxy_settings
from ansible_collections.appenv.python.plugins.module_utils._urls import redact_url
from ansible_collections.appenv.python.plugins.module_utils._version import COLLECTION_VERSION

USER_AGENT = "appenv.python/%s (+python-urllib)" % COLLECTION_VERSION
SCHEMES = ("http", "https", "file")
RETRY_STATUS = frozenset([408, 429, 500, 502, 503, 504]) | frozenset(range(505, 600))
MAX_RETRY_AFTER = 60.0
MAX_REDIRECTS = 10
_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 1 << 20
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


class _Retryable(Exception):
    """A failure worth another attempt (network hiccup, overloaded server, cut-short body)."""

    def __init__(self, message, retry_after=None):
        super(_Retryable, self).__init__(message)
        self.retry_after = retry_after


class _Fatal(Exception):
    """A failure another attempt cannot fix (404, 403, a missing local file, a bad certificate)."""


class _Capped(_Fatal):
    """The download passed its byte cap (download_too_large) or its overall deadline (download_too_slow)."""

    def __init__(self, code, message, **fields):
        super(_Capped, self).__init__(message)
        self.code = code
        self.fields = fields


class _Limits:
    """The byte cap and the overall deadline (time.monotonic()) of one download; None: unbounded."""

    def __init__(self, max_bytes=None, deadline=None, seconds=None):
        self.max_bytes = max_bytes
        self.deadline = deadline
        self.seconds = seconds

    def check(self, size):
        if self.max_bytes is not None and size > self.max_bytes:
            raise _Capped("download_too_large", "the body is larger than the cap of %d bytes (max_download_mb); it "
                          "was cut off after %d bytes" % (self.max_bytes, size), cap=self.max_bytes)
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise _Capped("download_too_slow", "the download took longer than its overall deadline of %s s (%d bytes "
                          "arrived); the server is too slow or drip-feeds" % (self.seconds, size),
                          seconds=self.seconds, received=size)

    def read_timeout(self, timeout):
        """The timeout for the next connection or read: never past the deadline."""
        if self.deadline is None:
            return timeout
        return max(0.1, min(timeout, self.deadline - time.monotonic()))


class _Target:
    """The parts of a URL: what is requested, what is shown, and the secrets to keep out of text."""

    def __init__(self, url):
        if not isinstance(url, str) or not url.strip():
            raise AppenvError("download_bad_url", url=repr(url), detail="no URL was given.")
        self.raw = url.strip()
        try:
            parts = urlsplit(self.raw)
            port = parts.port  # raises ValueError on a malformed port
        except ValueError as exc:
            raise AppenvError("download_bad_url", url=redact_url(self.raw), detail="the URL is malformed (%s)." % exc)
        self.scheme = parts.scheme.lower()
        self.username = unquote(parts.username) if parts.username is not None else None
        self.password = unquote(parts.password) if parts.password is not None else None
        self.secrets = [s for s in (parts.username, parts.password, self.username, self.password) if s]
        host = parts.hostname or ""
        netloc = host if ":" not in host else "[%s]" % host
        if port is not None:
            netloc += ":%d" % port
        # The URL actually requested carries no userinfo (urllib cannot parse it; it goes in a header).
        self.clean = urlunsplit((self.scheme, netloc, parts.path, parts.query, parts.fragment))
        shown_netloc = ("***@" + netloc) if parts.username is not None or parts.password is not None else netloc
        self.shown = self.mask(urlunsplit((self.scheme, shown_netloc, parts.path, parts.query, parts.fragment)))
        self.host = host
        self.path = parts.path
        self.netloc = parts.netloc
        if self.scheme not in SCHEMES:
            raise AppenvError("download_bad_url", url=self.shown,
                              detail="the scheme %r is not supported; use one of %s."
                                     % (parts.scheme, ", ".join(s + "://" for s in SCHEMES)))
        if self.scheme in ("http", "https") and not host:
            raise AppenvError("download_bad_url", url=self.shown, detail="the URL names no host.")
        if self.scheme == "file" and host not in ("", "localhost"):
            raise AppenvError("download_bad_url", url=self.shown,
                              detail="a file:// URL names a path on the target host itself; it cannot name "
                                     "another host (%s)." % host)

    def authorization(self):
        if self.username is None and self.password is None:
            return None
        token = "%s:%s" % (self.username or "", self.password or "")
        return "Basic " + base64.b64encode(token.encode("utf-8")).decode("ascii")

    def mask(self, text):
        """Text safe to show: no userinfo in any URL, no credential anywhere."""
        text = redact_url(str(text))
        for secret in sorted(set(self.secrets), key=len, reverse=True):
            if len(secret) >= 3:
                text = text.replace(secret, "***")
        return text


def _origin(url):
    parts = urlsplit(url)
    return (parts.scheme.lower(), (parts.hostname or "").lower(), parts.port)


def _ca_path():
    """A CA bundle named for requests, curl or pip when OpenSSL's own SSL_CERT_FILE/SSL_CERT_DIR is not set.

    None: the system store plus SSL_CERT_FILE/SSL_CERT_DIR (OpenSSL reads them itself).
    """
    settings = network_env()
    if settings.get("SSL_CERT_FILE") or settings.get("SSL_CERT_DIR"):
        return None
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT"):
        if settings.get(name) and os.path.isfile(settings[name]):
            return settings[name]
    return None


_CONTEXTS = {}


def _context():
    """The TLS context for every request of this process, built once (loading the CA store takes ~0.1 s)."""
    ca_path = _ca_path()
    key = (ca_path, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    if key not in _CONTEXTS:
        _CONTEXTS[key] = make_context(cafile=ca_path)
    return _CONTEXTS[key]


def _proxied(target):
    """True when the environment sends target through a proxy (no_proxy considered)."""
    if target.scheme not in ("http", "https"):
        return False
    return bool(urllib_request.getproxies().get(target.scheme)) and not urllib_request.proxy_bypass(target.host)


def _describe(exc, timeout):
    """A short sentence for an exception from the network."""
    if isinstance(exc, urllib_error.URLError) and not isinstance(exc, urllib_error.HTTPError):
        reason = exc.reason
        if isinstance(reason, BaseException):
            return _describe(reason, timeout)
        return str(reason)
    if isinstance(exc, socket.timeout) or (isinstance(exc, OSError) and "timed out" in str(exc)):
        return "no data for %s s (timed out)" % timeout
    if isinstance(exc, http_client.IncompleteRead):
        return "the connection closed before the body was complete (%d bytes read)" % len(exc.partial)
    text = str(exc) or exc.__class__.__name__
    return "%s: %s" % (exc.__class__.__name__, text) if exc.__class__.__name__ not in text else text


def _retry_after(headers):
    value = (headers or {}).get("Retry-After") if headers is not None else None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None  # an HTTP date, or nothing: the normal backoff applies
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def _is_cert_error(exc):
    if isinstance(exc, SSLValidationError):
        return True
    reason = getattr(exc, "reason", exc)
    cert_error = getattr(ssl, "SSLCertVerificationError", None) if ssl is not None else None
    return cert_error is not None and isinstance(reason, cert_error)


def _open_part(part):
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    return os.fdopen(os.open(part, flags, 0o644), "wb")


def _open(target, timeout, method="GET", body=None, headers=None, user_agent=None):
    """Send a request for target through ansible.module_utils.urls; the response.

    Credentials from the URL go as basic auth to its origin only: redirects (GET and HEAD) are followed here,
    hop by hop, and a hop to another origin is sent without them (netrc may still name some for that host).
    """
    auth = target.authorization()
    url = target.clean
    for hop in range(MAX_REDIRECTS + 1):
        send = {"Accept-Encoding": "identity"}
        send.update(headers or {})
        same_origin = auth is not None and _origin(url) == _origin(target.clean)
        if same_origin:
            send["Authorization"] = auth
        try:
            return Request().open(
                method, url, data=body, headers=send, timeout=timeout, http_agent=user_agent or USER_AGENT,
                use_proxy=True, validate_certs=True, context=_context(), follow_redirects="none",
                decompress=False, force_basic_auth=False, use_netrc=not same_origin,
                unredirected_headers=["Authorization"])
        except urllib_error.HTTPError as exc:
            if exc.code not in _REDIRECTS or method not in ("GET", "HEAD") or hop == MAX_REDIRECTS:
                raise
            url = exc.geturl()  # the absolute Location the server answered
            exc.close()
            if urlsplit(url).scheme.lower() not in ("http", "https"):
                raise _Fatal("a redirect to %s is not followed (http and https only)" % redact_url(url))
    raise _Fatal("more than %d redirects" % MAX_REDIRECTS)  # pragma: no cover - the loop raises first


def _fetch_http(target, part, user_agent, timeout, limits=None):
    """One attempt: the body into part. Returns (bytes, sha256 hex). Raises _Retryable/_Fatal/OSError(local)."""
    limits = limits or _Limits()
    try:
        response = _open(target, limits.read_timeout(timeout), user_agent=user_agent)
    except urllib_error.HTTPError as exc:
        status, reason, headers = exc.code, exc.reason, exc.headers
        exc.close()
        text = "HTTP %d %s" % (status, reason or "")
        if status in RETRY_STATUS:
            raise _Retryable(text.strip(), retry_after=_retry_after(headers))
        raise _Fatal(text.strip())
    except (urllib_error.URLError, http_client.HTTPException, OSError, SSLValidationError) as exc:
        if _is_cert_error(exc):
            raise _Fatal("the server's TLS certificate is not trusted: %s" % _describe(exc, timeout))
        if isinstance(exc, urllib_error.URLError) and "unknown url type" in str(exc.reason):
            raise _Fatal("this host's Python cannot open %s:// URLs (built without ssl?)" % target.scheme)
        raise _Retryable(_describe(exc, timeout))

    sha = hashlib.sha256()
    size = 0
    with response:
        length = response.headers.get("Content-Length")
        length = int(length) if length is not None and length.strip().isdigit() else None
        if length is not None and limits.max_bytes is not None and length > limits.max_bytes:
            raise _Capped("download_too_large", "the server announces %d bytes, more than the cap of %d bytes "
                          "(max_download_mb)" % (length, limits.max_bytes), cap=limits.max_bytes)
        # read1: what has arrived, at most _CHUNK (read() would wait for a whole chunk of a drip feed)
        read = getattr(response, "read1", None) or response.read
        with _open_part(part) as handle:
            while True:
                try:
                    block = read(_CHUNK)
                except (http_client.HTTPException, OSError, ValueError) as exc:
                    if limits.deadline is not None and time.monotonic() > limits.deadline:
                        limits.check(size)
                    raise _Retryable("reading the body failed after %d bytes: %s" % (size, _describe(exc, timeout)))
                if not block:
                    break
                limits.check(size + len(block))
                handle.write(block)  # a local OSError (disk full, read-only) is not a network error
                sha.update(block)
                size += len(block)
            handle.flush()
            os.fsync(handle.fileno())
    if length is not None and size != length:
        raise _Retryable("the body was cut short: %d of %d bytes (Content-Length) arrived" % (size, length))
    return size, sha.hexdigest()


class RequestFailed(Exception):
    """A request that did not succeed. status: the HTTP status, or None (network error, body cut short)."""

    def __init__(self, message, status=None):
        super(RequestFailed, self).__init__(message)
        self.status = status


def shown_url(url):
    """url as it may be shown: no credentials."""
    return _Target(url).shown


def request(url, method="GET", upload=None, data=None, content_type=None, timeout=60, max_bytes=16 << 20):
    """One HTTP(S) request, no retries. Returns (status, headers, body bytes; empty for HEAD).

    upload: path of a file sent as the body (streamed); data: bytes sent as the body.
    A body larger than max_bytes, or shorter than its Content-Length, is a failure.
    Raises RequestFailed (message masked: no credential of url in it); a malformed URL
    raises AppenvError(download_bad_url).
    """
    target = _Target(url)
    if target.scheme not in ("http", "https"):
        raise RequestFailed("only http:// and https:// URLs can be requested, not %s" % target.shown)
    headers = {"Content-Type": content_type} if content_type else {}
    handle = open(upload, "rb") if upload is not None else None
    try:
        if handle is not None:
            headers["Content-Length"] = str(os.fstat(handle.fileno()).st_size)
        elif data is not None:
            headers["Content-Length"] = str(len(data))
        try:
            response = _open(target, timeout, method, handle if handle is not None else data, headers)
        except urllib_error.HTTPError as exc:
            status, reason = exc.code, exc.reason
            exc.close()
            raise RequestFailed(target.mask(("HTTP %d %s" % (status, reason or "")).strip()), status=status)
        except (urllib_error.URLError, http_client.HTTPException, OSError, SSLValidationError) as exc:
            raise RequestFailed(target.mask(_describe(exc, timeout)))
        except _Fatal as exc:
            raise RequestFailed(target.mask(exc))
        with response:
            try:
                body = response.read(max_bytes + 1) if method != "HEAD" else b""
            except (http_client.HTTPException, OSError, ValueError) as exc:
                raise RequestFailed(target.mask("reading the body failed: %s" % _describe(exc, timeout)))
            length = response.headers.get("Content-Length")
            if len(body) > max_bytes:
                raise RequestFailed("the body is larger than %d bytes" % max_bytes)
            if method != "HEAD" and length is not None and length.strip().isdigit() and int(length) != len(body):
                raise RequestFailed("the body was cut short: %d of %s bytes (Content-Length) arrived"
                                    % (len(body), length.strip()))
            return response.status, response.headers, body
    finally:
        if handle is not None:
            handle.close()


def _fetch_file(target, part, limits=None):
    path = urllib_request.url2pathname(target.path)
    try:
        source = open(path, "rb")
    except (IOError, OSError) as exc:
        raise _Fatal("cannot read %s: %s" % (path, exc.strerror or exc))
    sha = hashlib.sha256()
    size = 0
    with source:
        with _open_part(part) as handle:
            while True:
                try:
                    block = source.read(_CHUNK)
                except (IOError, OSError) as exc:
                    raise _Fatal("reading %s failed after %d bytes: %s" % (path, size, exc.strerror or exc))
                if not block:
                    break
                if limits is not None:
                    limits.check(size + len(block))
                handle.write(block)
                sha.update(block)
                size += len(block)
            handle.flush()
            os.fsync(handle.fileno())
    return size, sha.hexdigest()


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _failure(target, attempts, exc):
    """The titled error for a download that failed: a cap, a private CA or a proxy, else download_failed."""
    error = target.mask(exc)
    if isinstance(exc, _Capped):
        return AppenvError(exc.code, url=target.shown, attempts=attempts, error=error, **exc.fields)
    settings = network_env()
    if not _proxied(target):
        settings = dict((name, value) for name, value in settings.items() if not name.lower().endswith("_proxy"))
    code = network_fault(error, settings) or "download_failed"
    return AppenvError(code, url=target.shown, attempts=attempts, error=error,
                       detail="%s (after %d attempt(s)): %s" % (target.shown, attempts, error),
                       proxies=proxy_settings(settings))


def download(url, dest_path, sha256, retries=4, backoff=1.0, timeout=60, user_agent=None, sleep=time.sleep,
             max_bytes=None, deadline=None):
    """Fetch url to dest_path if, and only if, its content has the given sha256.

    retries: extra attempts after the first for transient failures; waits backoff, 2*backoff,
    4*backoff... between them (longer if a 429/503 says Retry-After, up to MAX_RETRY_AFTER s).
    timeout: seconds allowed for the connection and for every single read.
    deadline: seconds allowed for the whole download, every attempt and wait included (None: no bound).
    max_bytes: the largest body accepted; a larger one is cut off as it arrives and refused, not retried.
    Returns dict(bytes, seconds, attempts, url (redacted), sha256). Raises AppenvError:
    download_bad_url, checksum_missing, download_failed, checksum_mismatch. Local write
    errors (disk full, read-only) propagate as OSError for the layer engine to name.
    """
    target = _Target(url)
    if not isinstance(sha256, str) or not _SHA256.match(sha256.strip()):
        raise AppenvError("checksum_missing", url=target.shown,
                          value="nothing" if not sha256 else repr(sha256)[:80])
    expected = sha256.strip().lower()
    retries = max(0, int(retries))
    user_agent = user_agent or USER_AGENT
    dest_path = os.fspath(dest_path)
    part = "%s.part-%d" % (dest_path, os.getpid())
    started = time.monotonic()
    limits = _Limits(max_bytes, started + deadline if deadline else None, deadline)
    attempts = 0
    try:
        while True:
            attempts += 1
            try:
                if target.scheme == "file":
                    size, actual = _fetch_file(target, part, limits)
                else:
                    size, actual = _fetch_http(target, part, user_agent, timeout, limits)
            except _Retryable as exc:
                _unlink(part)
                if attempts > retries:
                    raise _failure(target, attempts, exc)
                delay = backoff * (2 ** (attempts - 1))
                if exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                if limits.deadline is not None and time.monotonic() + delay > limits.deadline:
                    raise _failure(target, attempts, exc)
                sleep(delay)
                continue
            except _Fatal as exc:
                raise _failure(target, attempts, exc)
            break
        if actual != expected:
            raise AppenvError("checksum_mismatch", url=target.shown, expected=expected, actual=actual)
        os.rename(part, dest_path)
    finally:
        _unlink(part)
    return {
        "url": target.shown,
        "bytes": size,
        "seconds": round(time.monotonic() - started, 3),
        "attempts": attempts,
        "sha256": expected,
    }
