"""Version requests: every file format, precedence, conflicts, EOL, unknown versions, mirrors."""

import datetime
import http.server
import threading

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.appenv.python.plugins.plugin_utils import _version_request as v
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError

X86 = "x86_64-unknown-linux-gnu"
ARM = "aarch64-unknown-linux-gnu"
TODAY = datetime.date(2026, 11, 25)


def release(version, triple=X86):
    name = "cpython-%s+20261101-%s-install_only_stripped.tar.gz" % (version, triple)
    return v.Release(version, "20261101", triple, name, "a" * 64, "http://mirror/20261101/" + name)


RELEASES = [release(x) for x in ("3.9.20", "3.10.15", "3.11.2", "3.11.9", "3.12.6", "3.12.7", "3.13.5")] + [
    release("3.11.2", ARM)]


def resolve(version=None, project=None, triple=X86, **kwargs):
    return v.resolve(version, str(project) if project else None, RELEASES, triple, today=TODAY, **kwargs)


@pytest.mark.parametrize("request_text, expected", [
    ("3.12", "3.12.7"), ("3.12.6", "3.12.6"), ("3", "3.13.5"), (">=3.11,<3.13", "3.12.7"),
    ("~=3.11.0", "3.11.9"), ("==3.11.*", "3.11.9"), ("<3.12", "3.11.9"),
])
def test_option_requests_pick_the_newest_match(request_text, expected):
    assert resolve(request_text).version == expected


def test_arch_decides_what_is_available():
    assert resolve("3.11", triple=ARM).version == "3.11.2"
    with pytest.raises(AppenvError) as caught:
        resolve("3.12", triple=ARM)
    assert caught.value.code == "version_unknown"


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


def test_option_beats_files_but_files_must_still_agree(tmp_path):
    (tmp_path / ".python-version").write_text("3.12\n")
    assert resolve("3.13", project=tmp_path).version == "3.13.5"
    (tmp_path / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.12"\n')
    with pytest.raises(AppenvError) as caught:
        resolve("3.11", project=tmp_path)
    assert caught.value.code == "version_conflict"


def test_conflicting_files_name_both_files_and_values(tmp_path):
    (tmp_path / ".python-version").write_text("3.11.2\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.12"\n')
    with pytest.raises(AppenvError) as caught:
        resolve(project=tmp_path)
    error = caught.value
    assert error.code == "version_conflict"
    assert ".python-version" in error.message and "pyproject.toml" in error.message
    assert "3.11.2" in error.message and ">=3.12" in error.message


@pytest.mark.parametrize("name, text", [
    (".python-version", "pypy3.10\n"), (".python-version", "system\n"), (".python-version", "\n# nothing\n"),
    ("runtime.txt", "3.12"), ("pyproject.toml", "[project\n"), ("pyproject.toml", '[project]\nrequires-python = "banana"\n'),
    ("pyproject.toml", '[project]\nrequires-python = 3.12\n'),
])
def test_bad_files_are_titled_errors_naming_the_file(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    with pytest.raises(AppenvError) as caught:
        resolve(project=tmp_path)
    assert caught.value.code == "version_file_invalid"
    assert name in caught.value.message


def test_unknown_version_lists_what_exists():
    with pytest.raises(AppenvError) as caught:
        resolve("3.99")
    assert caught.value.code == "version_unknown"
    assert "3.13.5" in caught.value.message


def test_end_of_life_is_refused_unless_allowed():
    with pytest.raises(AppenvError) as caught:
        resolve("3.10")
    assert caught.value.code == "version_eol" and "2026-10-31" in caught.value.message
    assert resolve("3.10", allow_eol=True).version == "3.10.15"
    assert v.resolve("3.10", None, RELEASES, X86, today=datetime.date(2026, 1, 1)).version == "3.10.15"


def test_nothing_requested():
    with pytest.raises(AppenvError) as caught:
        v.resolve(None, None, RELEASES, X86)
    assert caught.value.code == "version_missing"


def test_sha256sums_parsing_and_mirror_over_http(tmp_path):
    sums = "\n".join([
        "%s  cpython-3.11.2+20261101-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz" % ("b" * 64),
        "%s  cpython-3.11.2+20261101-x86_64-unknown-linux-gnu-debug-full.tar.zst" % ("c" * 64),
        "garbage line", ""])
    (tmp_path / "20261101").mkdir()
    (tmp_path / "20261101" / "SHA256SUMS").write_text(sums)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = "http://127.0.0.1:%d" % server.server_address[1]
        releases = v.mirror_releases(base, "20261101")
        assert [(r.version, r.sha256) for r in releases] == [("3.11.2", "b" * 64)]
        assert releases[0].url.startswith(base + "/20261101/cpython-3.11.2")
        file_releases = v.mirror_releases(tmp_path.as_uri(), "20261101")
        assert len(file_releases) == 1
        with pytest.raises(AppenvError) as caught:
            v.mirror_releases("http://user:secret@127.0.0.1:%d" % server.server_address[1], "missing", retries=0)
        assert caught.value.code == "mirror_unreachable" and "secret" not in caught.value.message
    finally:
        server.shutdown()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([".python-version", "runtime.txt", "pyproject.toml"]), st.text(max_size=80),
       st.one_of(st.none(), st.text(max_size=20)))
def test_any_input_gives_a_resolution_or_a_titled_error(tmp_path_factory, name, text, option):
    project = tmp_path_factory.mktemp("p")
    (project / name).write_text(text, encoding="utf-8", errors="surrogateescape") if "\udc80" not in text else None
    try:
        chosen = v.resolve(option, str(project), RELEASES, X86, today=TODAY)
    except AppenvError as error:
        assert error.title and error.fixes
    else:
        assert chosen.version in {r.version for r in RELEASES}
