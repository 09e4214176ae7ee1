# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Downloads that are never used half-done: retried, bounded, checked by sha256.

The body streams to ``<dest>.part-<pid>``; only a complete body whose sha256
matches is renamed to dest. Connection errors, timeouts, 5xx, 429 and short
bodies are retried with exponential backoff; 4xx are not. Credentials in the
URL are sent as a Basic Authorization header and never shown.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import os
import re
import socket
import time

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import unquote, urlsplit, urlunsplit
from ansible.module_utils.six.moves.urllib.request import Request, urlopen

from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._runner import redact_url
from ansible_collections.appenv.python.plugins.module_utils._version import COLLECTION_VERSION

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_CHUNK = 1 << 20
USER_AGENT = "appenv.python/%s (+python-urllib)" % COLLECTION_VERSION


class _Retryable(Exception):
    pass


def _split_credentials(url):
    parts = urlsplit(url)
    if not parts.username:
        return url, None
    netloc = parts.hostname or ""
    if parts.port:
        netloc += ":%d" % parts.port
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    token = "%s:%s" % (unquote(parts.username), unquote(parts.password or ""))
    return clean, "Basic " + base64.b64encode(token.encode("utf-8")).decode("ascii")


def _fetch_once(url, part, timeout, user_agent):
    """Stream url into part; return its sha256. Raises _Retryable or AppenvError-ready exceptions."""
    sha = hashlib.sha256()
    if url.startswith("file://"):
        source = unquote(urlsplit(url).path)
        try:
            reader = open(source, "rb")
        except (IOError, OSError) as exc:
            raise ValueError("cannot read %s: %s" % (source, exc.strerror or exc))
        with reader, open(part, "wb") as writer:
            while True:
                block = reader.read(_CHUNK)
                if not block:
                    break
                sha.update(block)
                writer.write(block)
        return sha.hexdigest()
    clean, auth = _split_credentials(url)
    request = Request(clean, headers={"User-Agent": user_agent})
    if auth:
        request.add_header("Authorization", auth)
    try:
        response = urlopen(request, timeout=timeout)
    except HTTPError as exc:
        if exc.code >= 500 or exc.code == 429:
            raise _Retryable("HTTP %d %s" % (exc.code, exc.reason))
        raise ValueError("HTTP %d %s" % (exc.code, exc.reason))
    except (URLError, socket.timeout, OSError) as exc:
        raise _Retryable(str(getattr(exc, "reason", exc)))
    expected = response.headers.get("Content-Length")
    received = 0
    try:
        with open(part, "wb") as writer:
            while True:
                try:
                    block = response.read(_CHUNK)
                except (socket.timeout, OSError) as exc:
                    raise _Retryable("reading the body failed after %d bytes: %s" % (received, exc))
                if not block:
                    break
                received += len(block)
                sha.update(block)
                writer.write(block)
    finally:
        response.close()
    if expected is not None and received != int(expected):
        raise _Retryable("the body was cut short: %d of %s bytes" % (received, expected))
    return sha.hexdigest()


def download(url, dest_path, sha256, retries=4, backoff=1.0, timeout=60, user_agent=None, sleep=time.sleep):
    """Download url to dest_path, checked against sha256. Returns facts of the transfer."""
    shown = redact_url(url)
    if not sha256 or not _SHA256.match(sha256):
        raise AppenvError("bad_argument", option="sha256", module="python_runtime",
                          detail="a sha256 of 64 hexadecimal digits is required to download %s; got %r"
                                 % (shown, sha256))
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise AppenvError("bad_argument", option="url", module="python_runtime",
                          detail="%s: only http://, https:// and file:// URLs are supported" % shown)
    part = "%s.part-%d" % (dest_path, os.getpid())
    started = time.monotonic()
    attempt = 0
    last_error = None
    try:
        while attempt <= retries:
            attempt += 1
            try:
                actual = _fetch_once(url, part, timeout, user_agent or USER_AGENT)
            except _Retryable as exc:
                last_error = redact_url(str(exc))
                if attempt <= retries:
                    sleep(backoff * (2 ** (attempt - 1)))
                continue
            except ValueError as exc:
                last_error = redact_url(str(exc))
                break
            if actual != sha256.lower():
                raise AppenvError("checksum_mismatch", url=shown, expected=sha256.lower(), actual=actual)
            size = os.path.getsize(part)
            os.rename(part, dest_path)
            return {"url": shown, "bytes": size, "attempts": attempt, "seconds": round(time.monotonic() - started, 3)}
        raise AppenvError("download_failed", url=shown, error=last_error, attempts=attempt)
    finally:
        if os.path.exists(part):
            os.unlink(part)


def copy_verified(source, dest_path, sha256):
    """A local archive, copied like a download (checked before it is used)."""
    return download("file://" + os.path.abspath(source), dest_path, sha256, retries=0)

