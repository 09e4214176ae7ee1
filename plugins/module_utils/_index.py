# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The package index options every installer takes (doc fragment appenv.python.index).

``index_argument_spec()`` is the options' argument spec, for a module to merge
into its own; ``index_from_params(module)`` reads them into ``IndexOptions``:
the installer's arguments and environment, the fingerprint (credentials out)
and the secrets the module masks in every output.

A URL that carries credentials never goes on the command line, where every
local user reads it in /proc/<pid>/cmdline while the install runs: ``args()``
holds the URLs without them, ``env()`` those with them, for pip and uv alike
(PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS; UV_INDEX_URL,
UV_EXTRA_INDEX_URL, UV_FIND_LINKS). A process's environment is readable by
its own user and root only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported on targets
    raise

from ansible_collections.appenv.python.plugins.module_utils._urls import redact_url, url_secrets, with_credentials


def _userinfo(url):
    """True when url carries a user name or password (a token alone is a credential too)."""
    try:
        return "@" in urlsplit(url).netloc
    except ValueError:
        return True  # malformed: keep it off the command line


class IndexOptions:
    """index_url / extra_index_urls / find_links, with the credentials kept out of fingerprints."""

    def __init__(self, index_url=None, extra_index_urls=(), find_links=(), username=None, password=None):
        self.index_url = with_credentials(index_url, username, password) if index_url else None
        self.extra_index_urls = [with_credentials(url, username, password) for url in extra_index_urls or ()]
        self.find_links = list(find_links or ())
        self.secrets = [secret for secret in (password,) if secret]
        for url in [self.index_url] + self.extra_index_urls + self.find_links:
            for form in url_secrets(url):
                if form not in self.secrets:
                    self.secrets.append(form)

    def fingerprint(self):
        return {
            "index_url": redact_url(self.index_url) if self.index_url else None,
            "extra_index_urls": [redact_url(url) for url in self.extra_index_urls],
            "find_links": [redact_url(url) for url in self.find_links],
        }

    def _kinds(self):
        """(option, pip's variable, uv's variable, uv's separator, URLs, True when they go by environment)."""
        index = [self.index_url] if self.index_url else []
        kinds = (("--index-url", "PIP_INDEX_URL", "UV_INDEX_URL", " ", index),
                 ("--extra-index-url", "PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL", " ", self.extra_index_urls),
                 ("--find-links", "PIP_FIND_LINKS", "UV_FIND_LINKS", ",", self.find_links))
        # A kind with a credential in any of its URLs goes by environment as a whole (it replaces, not adds).
        return [kind + (any(_userinfo(url) for url in kind[4]),) for kind in kinds]

    def args(self):
        """The installer's arguments: the URLs without credentials (see env())."""
        argv = []
        for option, _pip, _uv, _separator, urls, by_env in self._kinds():
            if not by_env:
                for url in urls:
                    argv += [option, url]
        return argv

    def env(self):
        """The environment that carries the URLs with credentials, for pip and uv (see args())."""
        env = {}
        for _option, pip_name, uv_name, separator, urls, by_env in self._kinds():
            if by_env:
                env[pip_name] = " ".join(urls)
                env[uv_name] = separator.join(urls)
        return env


def index_argument_spec():
    """The index options shared by pip_tooling and app_dependencies (doc fragment appenv.python.index)."""
    return dict(
        index_url=dict(type="str"),
        extra_index_urls=dict(type="list", elements="str", default=[]),
        find_links=dict(type="list", elements="str", default=[]),
        index_username=dict(type="str"),
        index_password=dict(type="str", no_log=True),
    )


def index_from_params(module):
    """IndexOptions from a module's parameters; credentials found in URLs are masked in every output."""
    params = module.params
    index = IndexOptions(params["index_url"], params["extra_index_urls"], params["find_links"],
                         params["index_username"], params["index_password"])
    for secret in index.secrets:
        module.no_log_values.add(secret)
    return index
