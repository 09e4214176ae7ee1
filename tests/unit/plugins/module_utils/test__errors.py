"""The error catalogue: every entry is complete and renders without a traceback."""

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _errors


@pytest.mark.parametrize("code", sorted(_errors.CATALOGUE))
def test_every_entry_has_title_cause_fault_and_fixes(code):
    spec = _errors.CATALOGUE[code]
    assert spec.title and spec.cause
    assert spec.fault in (_errors.FAULT_APP, _errors.FAULT_TASK, _errors.FAULT_NETWORK, _errors.FAULT_HOST,
                          _errors.FAULT_COLLECTION)
    assert spec.fixes and all(fix.strip() for fix in spec.fixes)
    error = _errors.AppenvError(code)  # missing fields render as <name>, never raise
    assert error.title and "How to fix it:" in error.message


def test_rendering_and_result_shape():
    error = _errors.AppenvError("layer_locked", waited=3, lock_path="/x/.l", holder="pid 1")
    result = error.as_result()
    assert result["msg"].splitlines()[0] == "Another run holds the layer lock"
    assert "  1. " in result["msg"]
    assert set(result["error"]) == {"code", "title", "cause", "fault", "fixes"}


def test_unknown_code_is_an_internal_error_not_a_crash():
    error = _errors.AppenvError("no-such-code", a=1)
    assert error.code == "internal_error"
