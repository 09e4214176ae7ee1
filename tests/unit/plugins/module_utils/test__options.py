"""The shared options: one argument spec, the layer cache a module may reach."""

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _options
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError


def test_every_layer_module_gets_the_lock_force_and_the_cache_and_its_own_options_first():
    spec = _options.layer_argument_spec(dict(paths=dict(type="list")), network=False)
    assert list(spec) == ["paths", "lock_timeout", "force", "layer_cache"]
    assert spec["lock_timeout"] == dict(type="int", default=600)
    assert spec["force"] == dict(type="bool", default=False)


def test_state_when_the_layer_can_be_removed():
    assert "state" not in _options.layer_argument_spec({})
    spec = _options.layer_argument_spec({}, state=True)
    assert spec["state"] == dict(type="str", default="present", choices=["present", "absent"])


def test_passwords_in_the_urls_of_extra_args_are_masked_secrets():
    params = {"extra_args": "--extra-index-url https://build:s%40cret@index.example/simple --trusted-host "
                            "index.example --find-links 'https://tok3n@links.example/wheels' --pre"}
    assert _options.passthrough_secrets(params) == ["s%40cret", "s@cret", "tok3n"]
    assert _options.passthrough_secrets({"extra_args": "--only-binary :all:"}) == []
    assert _options.passthrough_secrets({"extra_args": None}) == []
    assert _options.passthrough_secrets({}) == []


def test_network_and_index_options_when_asked():
    spec = _options.layer_argument_spec({}, index=True)
    assert list(spec)[:5] == ["lock_timeout", "force", "timeout", "retries", "layer_cache"]
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
