"""The layer_cache option: the one place its values (compression: auto, max_size_mb...) become a cache."""

import os
import subprocess
import sys

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _layer_cache_options as options
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from ansible_collections.appenv.python.plugins.module_utils._layer_cache import DirectoryCache
from ansible_collections.appenv.python.plugins.module_utils._layer_cache_http import HttpCache

from tests.collection_path import COLLECTIONS_DIR


def test_the_spec_is_the_doc_fragments():
    spec = options.argument_spec()
    assert spec["type"] == "dict" and spec["mutually_exclusive"] == [["path", "controller_path", "url"]]
    assert sorted(spec["options"]) == ["compression", "controller_path", "max_age_days", "max_size_mb", "path", "url",
                                       "url_password", "url_username"]
    assert spec["options"]["compression"] == {"type": "str", "choices": ["auto", "none", "gzip"], "default": "auto"}
    assert spec["options"]["url_password"]["no_log"] is True


@pytest.mark.parametrize("where, auto", [("path", "none"), ("controller_path", "gzip"), ("url", "gzip")])
def test_auto_is_plain_tar_on_the_target_and_gzip_across_a_network(where, auto):
    assert options.compression({"compression": "auto"}, where) == auto
    assert options.compression({}, where) == options.compression(None, where) == auto
    for chosen in ("none", "gzip"):
        assert options.compression({"compression": chosen}, where) == chosen


@pytest.mark.parametrize("max_size_mb, expected", [(None, None), (0, None), (1, 1048576), (300, 300 << 20)])
def test_max_size_mb_in_bytes(max_size_mb, expected):
    assert options.max_bytes({"max_size_mb": max_size_mb}) == expected


def test_no_option_or_only_a_controller_path_is_no_cache_on_the_target(tmp_path):
    assert options.from_options(None) is None and options.from_options({}) is None
    assert options.from_options({"controller_path": str(tmp_path), "compression": "auto"}) is None


def test_a_path_is_a_directory_cache_with_its_limits(tmp_path):
    cache = options.from_options({"path": str(tmp_path), "max_size_mb": 2, "max_age_days": 7, "compression": "auto"})
    assert isinstance(cache, DirectoryCache)
    assert (cache.root, cache.max_bytes, cache.max_age_days, cache.compression) == (str(tmp_path), 2 << 20, 7, "none")
    assert options.from_options({"path": str(tmp_path), "compression": "gzip"}).compression == "gzip"


def test_a_url_is_an_http_cache_with_the_credentials_given_apart():
    cache = options.from_options({"url": "https://cache.example.invalid/appenv", "url_username": "ci",
                                  "url_password": "t:k", "compression": "auto"}, "app_dependencies")
    assert isinstance(cache, HttpCache) and cache.compression == "gzip"
    assert cache.base == "https://ci:t%3Ak@cache.example.invalid/appenv/"
    assert cache.location == "https://***@cache.example.invalid/appenv/"
    with pytest.raises(AppenvError) as caught:
        options.from_options({"url": "ftp://cache.example.invalid/"}, "pyc_compile")
    assert "pyc_compile" in caught.value.message


def test_the_controller_cache_expands_home_and_gzips(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    cache = options.controller_cache({"controller_path": "~/appenv", "max_size_mb": 0, "max_age_days": None,
                                      "compression": "auto"})
    assert (cache.root, cache.max_bytes, cache.max_age_days, cache.compression) == (
        str(tmp_path / "appenv"), None, None, "gzip")
    assert options.controller_cache({"controller_path": str(tmp_path), "compression": "none"}).compression == "none"


def test_a_cache_is_told_a_compression_never_auto(tmp_path):
    with pytest.raises(ValueError):
        DirectoryCache(str(tmp_path), compression="auto")
    with pytest.raises(ValueError):
        HttpCache("https://cache.example.invalid/", compression=None)


def test_a_directory_cache_never_imports_the_download_code(tmp_path):
    """Only a module whose layer_cache names a URL loads _download (and the HTTP cache)."""
    program = (
        "import sys\n"
        "from ansible_collections.appenv.python.plugins.module_utils import _layer_cache_options as options\n"
        "cache = options.from_options({'path': sys.argv[1], 'compression': 'auto'})\n"
        "prefix = 'ansible_collections.appenv.python.plugins.module_utils.'\n"
        "print(sorted(name for name in (prefix + '_download', prefix + '_layer_cache_http') if name in sys.modules))\n"
        "options.from_options({'url': 'https://cache.example.invalid/'})\n"
        "print(sorted(name[len(prefix):] for name in sys.modules if name.startswith(prefix + '_layer_cache_h')))\n")
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS_DIR))
    out = subprocess.run([sys.executable, "-c", program, str(tmp_path)], env=env, check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout.splitlines()
    assert out == ["[]", "['_layer_cache_http']"]
