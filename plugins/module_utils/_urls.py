# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credentials in URLs: put in, found, and kept out of everything shown.

Generic: the runner, the downloader, the layer cache and the module glue use
it, and it imports nothing of appenv.python. ``redact_url`` hides the user
info of every URL in a text; ``with_credentials`` puts a user name and
password given apart into a URL; ``url_secrets`` lists the password of a URL
as written and decoded, the forms a module masks in its output.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    from urllib.parse import quote, unquote
except ImportError:  # pragma: no cover - Python 2 targets are not supported
    from urllib import quote, unquote

_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


def redact_url(text):
    """Replace the user:password part of every URL in text with '***'."""
    if not text:
        return text
    return _URL_USERINFO.sub(lambda match: match.group("scheme") + "***@", text)


def with_credentials(url, username, password):
    """url with user:password inserted (only when both are given and the URL has none)."""
    if not url or not username or "://" not in url or "@" in url.split("://", 1)[1].split("/", 1)[0]:
        return url
    scheme, rest = url.split("://", 1)
    return "%s://%s:%s@%s" % (scheme, quote(username, safe=""), quote(password or "", safe=""), rest)


def url_password(url):
    """The password (or token) in a URL's user info, if any."""
    if not url or "://" not in url:
        return None
    netloc = url.split("://", 1)[1].split("/", 1)[0]
    if "@" not in netloc:
        return None
    userinfo = netloc.rsplit("@", 1)[0]
    secret = userinfo.split(":", 1)[1] if ":" in userinfo else userinfo
    return secret or None


def url_secrets(url):
    """The password of a URL's user info as written and decoded (both may show up in output)."""
    secret = url_password(url)
    return [form for form in (secret, unquote(secret or "")) if form]
