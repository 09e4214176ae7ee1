# -*- coding: utf-8 -*-
# Copyright (c) appenv.python contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The package index options every installer takes (doc fragment appenv.python.index).

``index_argument_spec()`` is the options' argument spec, for a module to merge
into its own; ``index_from_params(module)`` reads them into ``IndexOptions``:
the installer's arguments (credentials in), the fingerprint (credentials out)
and the secrets the module masks in every output.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.appenv.python.plugins.module_utils._urls import redact_url, url_secrets, with_credentials


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

    def args(self):
        argv = []
        if self.index_url:
            argv += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            argv += ["--extra-index-url", url]
        for link in self.find_links:
            argv += ["--find-links", link]
        return argv


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
