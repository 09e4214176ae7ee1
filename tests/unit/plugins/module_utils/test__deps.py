"""app_dependencies' layer: durations (max_age), the one place the options become the layer spec."""

import time

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


def aged_spec(max_age):
    """A DepsLayerSpec holding only its max_age (refuse_cached reads nothing else)."""
    spec = _deps.DepsLayerSpec.__new__(_deps.DepsLayerSpec)
    spec.max_age_text, spec.max_age = max_age, _deps.parse_duration(max_age)
    return spec


def test_max_age_refuses_a_cache_entry_by_its_build_time():
    now = time.time()
    assert aged_spec("1h").refuse_cached({"built_at": int(now) - 60}) is None
    refusal = aged_spec("1h").refuse_cached({"built_at": int(now) - 7200})
    assert refusal.startswith("the layer cache's entry was built 2.0h ago, longer than max_age 1h")
    assert aged_spec("1h").refuse_cached({}) is not None  # no build time: it cannot be shown young enough
    assert aged_spec(None).refuse_cached({"built_at": 0}) is None
