"""The shared options: one argument spec, the layer cache a module may reach."""

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _options
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError


def test_every_layer_module_gets_the_lock_and_the_cache_and_its_own_options_first():
    spec = _options.layer_argument_spec(dict(paths=dict(type="list")), network=False)
    assert list(spec) == ["paths", "lock_timeout", "layer_cache"]
    assert spec["lock_timeout"] == dict(type="int", default=600)


def test_network_and_index_options_when_asked():
    spec = _options.layer_argument_spec({}, index=True)
    assert list(spec)[:4] == ["lock_timeout", "timeout", "retries", "layer_cache"]
    assert {"index_url", "extra_index_urls", "find_links", "index_username", "index_password"} <= set(spec)
    assert spec["index_password"]["no_log"] is True


def test_a_controller_cache_is_refused_by_a_module_without_an_action_plugin(tmp_path):
    params = {"layer_cache": {"controller_path": str(tmp_path)}}
    with pytest.raises(AppenvError) as caught:
        _options.layer_cache(params, "pyc_compile")
    assert caught.value.code == "bad_argument" and "pyc_compile reaches its layer cache" in caught.value.cause
    # The action plugin of python_runtime and app_dependencies moves it: the module sees no cache.
    assert _options.layer_cache(params, "python_runtime", controller=True) is None
    assert _options.layer_cache({"layer_cache": None}, "pyc_compile") is None
    assert _options.layer_cache({"layer_cache": {"path": str(tmp_path), "hmac_key": "k"}}, "pyc_compile").root == str(
        tmp_path)


@pytest.mark.parametrize("options", [{}, {"hmac_key": "k", "trust": "signed", "store": True}, {"path": "", "url": None}])
def test_a_layer_cache_that_names_no_cache_is_a_titled_error_not_a_silent_build(options):
    for module, controller in (("pyc_compile", False), ("app_dependencies", True)):
        with pytest.raises(AppenvError) as caught:
            _options.layer_cache({"layer_cache": options}, module, controller=controller)
        error = caught.value
        assert error.code == "bad_argument" and error.fields["option"] == "layer_cache"
        assert "path, controller_path, url" in error.cause and error.title == "Invalid value for layer_cache"
