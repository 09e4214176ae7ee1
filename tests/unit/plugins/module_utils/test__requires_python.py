"""The Python range of an app's lock and project files, read on the target without a TOML reader."""

import json

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _requires_python as rp


@pytest.mark.parametrize("specifier, version, allowed", [
    (">=3.14", "3.13.1", False),
    (">=3.11", "3.13.1", True),
    (">=3.11,<3.13", "3.13.0", False),
    (">=3.11, <3.13", "3.12.7", True),
    (">= 3.11", "3.11.0", True),
    ("==3.12.*", "3.12.4", True),
    ("==3.12.*", "3.13.0", False),
    ("3.12.*", "3.12.4", True),
    ("!=3.12.*", "3.12.4", False),
    ("~=3.12.0", "3.12.9", True),
    ("~=3.12.0", "3.13.0", False),
    ("~=3.11", "3.13.0", True),
    ("^3.11", "3.13.0", True),
    ("^3.11", "4.0.0", False),
    ("^3.14", "3.13.9", False),
    ("~3.11", "3.11.9", True),
    ("~3.11", "3.12.0", False),
    (">=3.8 <4.0", "3.13.1", True),
    (">=3.8,<3.9 || >=3.12", "3.13.0", True),
    (">=3.8,<3.9 || >=3.14", "3.13.0", False),
    ("*", "3.13.0", True),
    ("==3.11", "3.11.0", True),
    ("==3.11", "3.11.4", False),
    ("3.13.1", "3.13.1", True),
    (">3.13", "3.13.1", True),
    ("<=3.12", "3.12.1", False),
    (">=3.11", "3.14.0rc1", True),
])
def test_the_common_forms(specifier, version, allowed):
    assert rp.allows(specifier, version) is allowed


@pytest.mark.parametrize("specifier", ["~=3", ">=3.11;python_version", "latest", ">=3.11b1x"])
def test_a_form_it_does_not_read_is_not_guessed(specifier):
    assert rp.allows(specifier, "3.13.0") is None


def test_each_file_is_read_where_its_tool_writes_the_range(tmp_path):
    (tmp_path / "uv.lock").write_text('version = 1\nrevision = 3\nrequires-python = ">=3.14"\n\n[[package]]\n'
                                      'name = "demo"\nrequires-python = ">=3.8"\n')
    (tmp_path / "poetry.lock").write_text('[[package]]\nname = "demo"\npython-versions = ">=3.6"\n\n[metadata]\n'
                                          'lock-version = "2.1"\npython-versions = "^3.12"\ncontent-hash = "ab"\n')
    (tmp_path / "Pipfile.lock").write_text(json.dumps({"_meta": {"requires": {"python_version": "3.11"}}}))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\nrequires-python = ">=3.10" # any\n')
    assert rp.requirements(str(tmp_path), ["uv.lock", "poetry.lock", "Pipfile.lock", "pyproject.toml", "Pipfile"]) \
        == [("uv.lock", ">=3.14"), ("poetry.lock", "^3.12"), ("Pipfile.lock", "==3.11.*"),
            ("pyproject.toml", ">=3.10")]


def test_poetrys_own_dependency_table(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.poetry]\nname = "app"\n\n[tool.poetry.dependencies]\n'
                                             'python = "^3.14"\ndemo = "*"\n')
    assert rp.excluded(str(tmp_path), ["poetry.lock", "pyproject.toml"], "3.13.1") == ("pyproject.toml", "^3.14")
    assert rp.excluded(str(tmp_path), ["poetry.lock", "pyproject.toml"], "3.14.0") is None


def test_no_range_or_no_file_excludes_nothing(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n')
    assert rp.excluded(str(tmp_path), ["uv.lock", "pyproject.toml"], "3.13.1") is None
