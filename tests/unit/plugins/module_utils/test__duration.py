"""Durations as options give them: app_dependencies' max_age and layer_cache.max_age."""

import pytest

from ansible_collections.appenv.python.plugins.module_utils._duration import parse_duration
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError


@pytest.mark.parametrize("text, seconds", [("90", 90), (3600, 3600), ("30m", 1800), ("12h", 43200), ("7d", 604800),
                                           ("2w", 1209600), (" 1.5h ", 5400), (None, None), ("", None)])
def test_a_duration_in_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["7 days", "-1d", "d", "1y"])
def test_anything_else_is_a_titled_error_naming_the_option(text):
    with pytest.raises(AppenvError) as caught:
        parse_duration(text, option="layer_cache.max_age", module="pyc_compile")
    assert caught.value.code == "bad_argument" and caught.value.title == "Invalid value for layer_cache.max_age"
