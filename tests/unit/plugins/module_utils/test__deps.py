"""app_dependencies' layer: durations (max_age), the one place the options become the layer spec."""

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _deps
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError


@pytest.mark.parametrize("text, seconds", [("90", 90), ("30m", 1800), ("12h", 43200), ("7d", 604800),
                                           ("2w", 1209600), ("1.5h", 5400), (None, None), ("", None)])
def test_durations(text, seconds):
    assert _deps.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "7 days", "-1d", "1y"])
def test_bad_durations(text):
    with pytest.raises(AppenvError) as caught:
        _deps.parse_duration(text)
    assert caught.value.code == "bad_argument"
