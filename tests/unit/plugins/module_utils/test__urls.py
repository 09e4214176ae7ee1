"""Credentials in URLs: inserted, found in every form, and redacted from anything shown."""

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _urls
from ansible_collections.appenv.python.plugins.module_utils._urls import redact_url


@pytest.mark.parametrize("url, expected", [
    ("https://u:p@host/simple", "https://***@host/simple"),
    ("http://token@host:8080/x", "http://***@host:8080/x"),
    ("https://host/simple", "https://host/simple"),
    ("--index-url=https://a:b@h/s and git+https://c:d@h/r.git", "--index-url=https://***@h/s and git+https://***@h/r.git"),
])
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_url_password():
    assert _urls.url_password("https://u:p@h/x") == "p"
    assert _urls.url_password("https://token@h/x") == "token"
    assert _urls.url_password("https://h/x@y") is None
    assert _urls.url_password(None) is None


def test_url_secrets_as_written_and_decoded():
    assert _urls.url_secrets("https://u:p%40ss@h/x") == ["p%40ss", "p@ss"]
    assert _urls.url_secrets("https://h/x") == []


@pytest.mark.parametrize("url, username, password, expected", [
    ("https://h/simple", "u", "p:w@d", "https://u:p%3Aw%40d@h/simple"),
    ("https://h/simple", "u", None, "https://u:@h/simple"),
    ("https://h/simple", None, "p", "https://h/simple"),
    ("https://a:b@h/simple", "u", "p", "https://a:b@h/simple"),  # credentials in the URL win
    ("/srv/wheels", "u", "p", "/srv/wheels"),
    (None, "u", "p", None),
])
def test_with_credentials(url, username, password, expected):
    assert _urls.with_credentials(url, username, password) == expected
