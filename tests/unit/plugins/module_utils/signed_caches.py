"""Layer caches for unit tests: signed with a test key (HMAC), as a pipeline's are.

Entries are restored only when signed (plugins/module_utils/_signing.py); tests that use a cache without
testing trust take theirs from here, so what they assert about restores holds for signed entries.
"""

from ansible_collections.appenv.python.plugins.module_utils import _layer_cache, _layer_cache_http
from ansible_collections.appenv.python.plugins.module_utils._signing import Trust

TEST_HMAC_KEY = "unit-test-hmac-key"
TEST_TRUST = Trust(hmac_key=TEST_HMAC_KEY)
# The layer_cache option's settings that sign with the test key.
SIGNED = {"hmac_key": TEST_HMAC_KEY}


def DirectoryCache(root, **kwargs):  # noqa: N802 pylint: disable=invalid-name
    kwargs.setdefault("trust", TEST_TRUST)
    return _layer_cache.DirectoryCache(root, **kwargs)


def HttpCache(url, **kwargs):  # noqa: N802 pylint: disable=invalid-name
    kwargs.setdefault("trust", TEST_TRUST)
    return _layer_cache_http.HttpCache(url, **kwargs)
