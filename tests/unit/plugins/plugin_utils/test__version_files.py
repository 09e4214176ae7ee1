"""Reading a version request (plugins/plugin_utils/_version_files.py): the version option, .python-version,
runtime.txt and pyproject.toml as pip, uv and poetry write them; bad files are titled errors naming the file."""

import pytest

from ansible_collections.appenv.python.plugins.plugin_utils import _version_request as v
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError
from tests.unit.plugins.plugin_utils.test__version_request import ARM, FT, TODAY, resolve


@pytest.mark.parametrize("files, expected, source", [
    ({".python-version": "3.12\n"}, "3.12.7", ".python-version"),
    ({".python-version": "# pinned\n\n3.11.2\n3.12\n"}, "3.11.2", ".python-version"),
    ({"runtime.txt": "python-3.12.6\n"}, "3.12.6", "runtime.txt"),
    ({"runtime.txt": "python-3.11"}, "3.11.9", "runtime.txt"),
    ({"pyproject.toml": '[project]\nrequires-python = ">=3.11,<3.13"\n'}, "3.12.7", "requires-python"),
    ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.11"\n'}, "3.13.5", "poetry"),
    ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "~3.11"\n'}, "3.11.9", "poetry"),
    ({"pyproject.toml": '[tool.poetry.dependencies]\npython = {version = "3.12.*"}\n'}, "3.12.7", "poetry"),
    ({".python-version": "3.12", "pyproject.toml": '[project]\nrequires-python = ">=3.11"\n'}, "3.12.7",
     ".python-version"),
])
def test_project_files(tmp_path, files, expected, source):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    chosen = resolve(project=tmp_path)
    assert chosen.version == expected
    assert source in chosen.source


@pytest.mark.parametrize("name, text, code", [
    (".python-version", "pypy3.10\n", "version_request_invalid"),
    (".python-version", "system\n", "version_request_invalid"),
    (".python-version", "\n# nothing\n", "version_file_invalid"),
    ("runtime.txt", "3.12", "version_file_invalid"),
    ("runtime.txt", "python-3.12.*", "version_file_invalid"),
    ("pyproject.toml", "[project\n", "version_file_invalid"),
    ("pyproject.toml", '[project]\nrequires-python = "banana"\n', "version_request_invalid"),
    ("pyproject.toml", '[project]\nrequires-python = 3.12\n', "version_file_invalid"),
    ("pyproject.toml", '[tool.poetry.dependencies]\npython = "^banana"\n', "version_request_invalid"),
])
def test_bad_files_are_titled_errors_naming_the_file(tmp_path, name, text, code):
    (tmp_path / name).write_text(text)
    with pytest.raises(AppenvError) as caught:
        resolve(project=tmp_path)
    assert caught.value.code == code
    assert name in caught.value.message


@pytest.mark.parametrize("request_text, expected", [
    ("3.*", "3.13.5"), ("3.12.*", "3.12.7"), ("*", "3.13.5"), ("3.11.*", "3.11.9"), (" 3.12 ", "3.12.7"),
    ("==3.12.*", "3.12.7"), ("!=3.13.*", "3.12.7"), (">=3.11, <3.13", "3.12.7"),
])
def test_wildcards_and_specifiers_as_pip_uv_and_poetry_write_them(request_text, expected):
    chosen = resolve(request_text)
    assert chosen.version == expected and chosen.request == request_text.strip()


@pytest.mark.parametrize("text, expected, reading", [
    ('"3.12.*"', "3.12.7", "'==3.12.*'"), ('"*"', "3.13.5", "'(any version)'"), ('">=3.11.*"', "3.13.5", "'>=3.11'"),
    ('">=3.11,"', "3.13.5", "'>=3.11'"), ('"3.11.2"', "3.11.2", "'==3.11.2'"),
])
def test_requires_python_read_leniently_with_a_warning_naming_the_exact_form(tmp_path, text, expected, reading):
    (tmp_path / "pyproject.toml").write_text("[project]\nrequires-python = %s\n" % text)
    chosen = resolve(project=tmp_path)
    assert chosen.version == expected
    (note,) = [w for w in chosen.warnings if "not a PEP 440 specifier" in w]
    assert "pip and uv refuse it" in note and "read as %s" % reading in note and "requires-python" in note


def test_pep_440_requires_python_gives_no_warning(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.11, <3.13"\n')
    assert resolve(project=tmp_path).warnings == []


@pytest.mark.parametrize("text", ["python3.12", "3.12.x", "latest", "3.12-dev", "cpython", "3..12", "=> 3.12",
                                  ">=banana", "3.13tt"])
def test_requests_that_are_no_known_form_name_the_forms(text):
    with pytest.raises(AppenvError) as caught:
        resolve(text)
    error = caught.value
    assert error.code == "version_request_invalid" and "the version option" in error.cause
    assert "3.12.*" in error.message and ">=3.11,<3.13" in error.message and "3.13t" in error.message


def test_a_python_version_file_can_ask_for_the_free_threaded_build(tmp_path):
    (tmp_path / ".python-version").write_text("3.13t\n")
    chosen = v.resolve(None, str(tmp_path), FT, ARM, today=TODAY)
    assert (chosen.variant, chosen.sha256) == ("freethreaded", "e" * 64)
    with pytest.raises(AppenvError) as caught:
        v.resolve(None, str(tmp_path), FT, ARM, today=TODAY, variant="default")
    assert caught.value.code == "variant_conflict" and ".python-version" in caught.value.message
