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
    assert spec["type"] == "dict" and spec["mutually_exclusive"] == [["path", "controller_path", "url"],
                                                                     ["max_age", "max_age_days"]]
    assert sorted(spec["options"]) == ["allow_shared_writable", "allowed_signers", "compression", "controller_path",
                                       "hmac_key", "max_age", "max_age_days", "max_entry_mb", "max_entry_members",
                                       "max_size_mb", "path", "signing_key", "store",
                                       "trust", "url", "url_password", "url_username"]
    assert spec["options"]["compression"] == {"type": "str", "choices": ["auto", "none", "gzip"], "default": "auto"}
    assert spec["options"]["url_password"]["no_log"] is True and spec["options"]["hmac_key"]["no_log"] is True
    assert spec["options"]["trust"] == {"type": "str", "choices": ["signed", "unsigned"], "default": "signed"}
    assert spec["options"]["store"]["default"] is True and spec["options"]["allow_shared_writable"]["default"] is False
    assert (spec["options"]["max_entry_mb"]["default"], spec["options"]["max_entry_members"]["default"]) == (
        4096, 200000)  # the archive defaults (_archive.MAX_TOTAL_MB, MAX_MEMBERS)


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
    cache = options.from_options({"path": str(tmp_path), "max_size_mb": 2, "max_age_days": 7, "compression": "auto",
                                  "hmac_key": "k"})
    assert isinstance(cache, DirectoryCache)
    assert (cache.root, cache.max_bytes, cache.max_age_days, cache.compression) == (str(tmp_path), 2 << 20, 7, "none")
    assert (cache.trust.hmac_key, cache.store_enabled, cache.allow_shared_writable) == ("k", True, False)
    assert options.from_options({"path": str(tmp_path), "compression": "gzip", "hmac_key": "k"}).compression == "gzip"


def test_entry_limits_are_options_of_every_kind_of_cache(tmp_path):
    unset = options.from_options({"path": str(tmp_path), "hmac_key": "k"})
    assert (unset.max_entry_bytes, unset.max_entry_members) == (4096 << 20, 200000)
    for where in ({"path": str(tmp_path)}, {"url": "https://cache.example.invalid/appenv"}):
        cache = options.from_options(dict(where, hmac_key="k", max_entry_mb=8192, max_entry_members=500000))
        assert (cache.max_entry_bytes, cache.max_entry_members) == (8192 << 20, 500000)
    big = {"controller_path": str(tmp_path), "hmac_key": "k", "max_entry_mb": 8192}
    assert options.controller_cache(big).max_entry_bytes == 8192 << 20
    with pytest.raises(AppenvError) as caught:
        options.from_options({"path": str(tmp_path), "hmac_key": "k", "max_entry_members": 0}, "app_dependencies")
    assert caught.value.title == "Invalid value for layer_cache.max_entry_members"


def test_a_url_is_an_http_cache_with_the_credentials_given_apart():
    cache = options.from_options({"url": "https://cache.example.invalid/appenv", "url_username": "ci",
                                  "url_password": "t:k", "compression": "auto", "hmac_key": "k"}, "app_dependencies")
    assert isinstance(cache, HttpCache) and cache.compression == "gzip"
    assert cache.base == "https://ci:t%3Ak@cache.example.invalid/appenv/"
    assert cache.location == "https://***@cache.example.invalid/appenv/"
    with pytest.raises(AppenvError) as caught:
        options.from_options({"url": "ftp://cache.example.invalid/", "hmac_key": "k"}, "pyc_compile")
    assert "pyc_compile" in caught.value.message


def test_the_controller_cache_expands_home_and_gzips(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    cache = options.controller_cache({"controller_path": "~/appenv", "max_size_mb": 0, "max_age_days": None,
                                      "compression": "auto", "hmac_key": "k"})
    assert (cache.root, cache.max_bytes, cache.max_age_days, cache.compression) == (
        str(tmp_path / "appenv"), None, None, "gzip")
    assert options.controller_cache({"controller_path": str(tmp_path), "compression": "none",
                                     "hmac_key": "k"}).compression == "none"


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
        "cache = options.from_options({'path': sys.argv[1], 'compression': 'auto', 'hmac_key': 'k'})\n"
        "prefix = 'ansible_collections.appenv.python.plugins.module_utils.'\n"
        "print(sorted(name for name in (prefix + '_download', prefix + '_layer_cache_http') if name in sys.modules))\n"
        "options.from_options({'url': 'https://cache.example.invalid/', 'hmac_key': 'k'})\n"
        "print(sorted(name[len(prefix):] for name in sys.modules if name.startswith(prefix + '_layer_cache_h')))\n")
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS_DIR))
    out = subprocess.run([sys.executable, "-c", program, str(tmp_path)], env=env, check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout.splitlines()
    assert out == ["[]", "['_layer_cache_http']"]


# What each module's no-op never needs: the layer cache, signing, download and HTTP code (and Ansible's urls), and per
# module what only a build uses (extraction, bytecode, the other installers, pip_tooling's backend).
NOT_FOR_A_NO_OP = ("_layer_cache", "_layer_cache_http", "_layer_cache_trust", "_signing", "_download", "_http",
                   "_archive", "_archive_checks", "_archive_native", "_installers.pip", "_installers.poetry",
                   "_installers.pipenv", "_installers.uv")
NOT_FOR_ITS_NO_OP = {
    "python_runtime": ("_bytecode", "_privilege", "_index", "_installers", "_tooling"),
    "pip_tooling": (),
    "app_dependencies": ("_bytecode", "_tooling", "_requires_python", "_host"),
    "pyc_compile": ("_index", "_installers", "_tooling"),
}


@pytest.mark.parametrize("module", sorted(NOT_FOR_ITS_NO_OP))
def test_a_module_without_a_layer_cache_loads_no_cache_nor_download_code(module):
    """What a no-op without a layer_cache imports (AnsiballZ compiles every module_util a module imports from source,
    on every run): no cache, signing-check, download, extraction or build-only code, nor Ansible's urls (and
    cryptography) they pull in, nor pprint (and the dataclasses it loads) that only a runtime's build uses. The
    modules import everything else at the top, so importing one is what its no-op loads (app_dependencies and
    pip_tooling add _index, for their index options)."""
    heavy = NOT_FOR_A_NO_OP + NOT_FOR_ITS_NO_OP[module]
    program = (
        "import sys\n"
        "import ansible_collections.appenv.python.plugins.modules.%s\n"
        "prefix = 'ansible_collections.appenv.python.plugins.module_utils.'\n"
        "heavy = %r\n"
        "print(sorted(name for name in heavy if prefix + name in sys.modules)"
        " + sorted(name for name in ('ansible.module_utils.urls', 'pprint') if name in sys.modules))\n" % (module, heavy))
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS_DIR))
    out = subprocess.run([sys.executable, "-c", program], env=env, check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout.splitlines()
    assert out == ["[]"]


def test_without_a_way_to_check_entries_the_option_is_refused(tmp_path):
    for where in ({"path": str(tmp_path)}, {"url": "https://cache.example.invalid/"}):
        with pytest.raises(AppenvError) as caught:
            options.from_options(dict(where, compression="auto"), "pip_tooling")
        assert caught.value.code == "layer_cache_untrusted" and "pip_tooling" in caught.value.cause
    with pytest.raises(AppenvError) as caught:
        options.controller_cache({"controller_path": str(tmp_path)}, "app_dependencies")
    assert caught.value.code == "layer_cache_untrusted"
    unsigned = options.from_options({"path": str(tmp_path), "trust": "unsigned"})
    assert unsigned.trust.trust == "unsigned" and unsigned.trust.check({"key": "x"}) is None
    reader = options.from_options({"path": str(tmp_path), "allowed_signers": "/etc/appenv/allowed_signers",
                                   "store": False})
    assert reader.store_enabled is False and reader.trust.allowed_signers == "/etc/appenv/allowed_signers"


def test_the_hmac_key_is_masked_in_the_modules_commands(tmp_path):
    from ansible_collections.appenv.python.plugins.module_utils._runner import CommandRunner
    runner = CommandRunner()
    cache = options.from_options({"path": str(tmp_path), "hmac_key": "s3cret-key"}, runner=runner)
    assert cache.runner is runner and runner.mask("echo s3cret-key") == "echo ***"


def test_caches_other_users_can_write_are_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(str(shared), 0o1777)
    with pytest.raises(AppenvError) as caught:
        options.from_options({"path": str(shared), "hmac_key": "k"}, "pyc_compile")
    assert caught.value.code == "layer_cache_shared_writable" and "every user can write" in caught.value.cause
    assert options.from_options({"path": str(shared), "hmac_key": "k", "allow_shared_writable": True}) is not None
    with pytest.raises(AppenvError) as caught:
        options.from_options({"url": "http://ci:token@cache.example.invalid/", "hmac_key": "k"})
    assert caught.value.code == "layer_cache_cleartext_credentials" and "token" not in caught.value.message
    assert options.from_options({"url": "http://ci:token@127.0.0.1:8080/", "hmac_key": "k"}) is not None
    # layer_cache_info lists any cache: it reads metadata only, restores and writes nothing.
    listing = options.listing_cache({"path": str(shared)}, "layer_cache_info")
    assert listing.store_enabled is False and listing.trust.trust == "unsigned"


def test_the_controller_hands_the_host_its_trust_settings_and_checks_only_the_hmac(tmp_path):
    settings = {"controller_path": str(tmp_path), "hmac_key": "k", "signing_key": "/etc/appenv/key",
                "allowed_signers": "/etc/appenv/allowed", "trust": "signed", "store": True, "max_size_mb": 3,
                "max_entry_mb": 8192}
    assert options.host_options(settings, "/tmp/appenv-layer-cache.x", "gzip") == {
        "path": "/tmp/appenv-layer-cache.x", "compression": "gzip", "hmac_key": "k", "signing_key": "/etc/appenv/key",
        "allowed_signers": "/etc/appenv/allowed", "trust": "signed", "store": True, "max_entry_mb": 8192}
    assert options.controller_cache(settings).trust.hmac_key == "k"
    ssh_only = options.controller_cache({"controller_path": str(tmp_path), "allowed_signers": "/etc/appenv/allowed"})
    assert ssh_only.trust.trust == "unsigned"  # the hosts check ssh signatures: the paths are theirs


@pytest.mark.parametrize("given, days", [({"max_age": "30d"}, 30), ({"max_age": "12h"}, 0.5), ({"max_age": "3600"}, 1 / 24.0),
                                         ({"max_age_days": 7}, 7), ({}, None)])
def test_max_age_is_a_duration_as_app_dependencies_takes_it_and_max_age_days_still_counts(tmp_path, given, days):
    cache = options.from_options(dict(given, path=str(tmp_path), trust="unsigned"))
    assert cache.max_age_days == days


def test_a_max_age_that_is_no_duration_is_a_titled_error(tmp_path):
    with pytest.raises(AppenvError) as caught:
        options.from_options({"path": str(tmp_path), "trust": "unsigned", "max_age": "a month"}, "pip_tooling")
    assert caught.value.code == "bad_argument" and caught.value.fields["option"] == "layer_cache.max_age"
