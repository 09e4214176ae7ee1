"""Version requests: every file format and form, precedence, conflicts, nothing requested, EOL, variants, mirrors."""

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


def release(version, triple=X86, variant="", flavour="install_only_stripped.tar.gz", tag="20261101", sha="a"):
    name = "cpython-%s+%s-%s%s-%s" % (version, tag, triple, "-" + variant if variant else "", flavour)
    return v.Release(version, tag, triple, name, sha * 64, "http://mirror/%s/%s" % (tag, name))


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


def test_unknown_version_lists_what_exists():
    with pytest.raises(AppenvError) as caught:
        resolve("3.99")
    assert caught.value.code == "version_unknown"
    assert "3.13.5" in caught.value.message


def test_end_of_life_is_reported_and_enforced_by_the_verdict():
    chosen = resolve("3.10")  # 3.10 reached its end of life on 2026-10-31; TODAY is after
    assert (chosen.version, chosen.end_of_life, chosen.newest) == ("3.10.15", "2026-10-31", "3.13.5")
    with pytest.raises(AppenvError) as caught:
        v.end_of_life_verdict(chosen, allow_eol=False, kept=False)
    error = caught.value
    assert error.code == "version_eol" and "2026-10-31" in error.message and "allow_eol" in error.message
    assert "3.10.15" in error.message and "3.13.5" in error.message and "the version option" in error.message
    (kept,) = v.end_of_life_verdict(chosen, allow_eol=False, kept=True, dest="/opt/py")
    assert "3.10.15 at /opt/py" in kept and "kept" in kept and "allow_eol" in kept and "3.13" in kept
    (allowed,) = v.end_of_life_verdict(chosen, allow_eol=True, kept=False)
    assert "allow_eol is set" in allowed and "2026-10-31" in allowed
    assert v.end_of_life_verdict(resolve("3.13"), allow_eol=False, kept=False) == []


@pytest.mark.parametrize("today, warned", [
    (datetime.date(2026, 1, 1), False),   # 303 days ahead: quiet
    (datetime.date(2026, 5, 1), True),    # 183 days ahead
    (datetime.date(2026, 10, 30), True),  # the day before
    (datetime.date(2026, 10, 31), False),  # passed: the verdict speaks, not this warning
])
def test_a_warning_ahead_of_the_end_of_life(today, warned):
    chosen = v.resolve("3.10", None, RELEASES, X86, today=today)
    ahead = [w for w in chosen.warnings if "reaches its end of life on 2026-10-31" in w]
    assert bool(ahead) == warned
    if warned:
        assert "(in %d days)" % (datetime.date(2026, 10, 31) - today).days in ahead[0] and "3.13" in ahead[0]
    assert bool(chosen.end_of_life) == (today >= datetime.date(2026, 10, 31))


def test_a_newer_patch_of_the_same_minor_is_a_warning():
    (warning,) = resolve("3.12.6").warnings
    assert "3.12.6 is not the newest 3.12: 3.12.7 is available" in warning and "Ask for 3.12" in warning
    assert resolve("3.12").warnings == [] and resolve("3.12.7").warnings == []


def test_nothing_requested_installs_the_newest_supported_python_and_says_how_to_pin_it(tmp_path):
    for project in (None, tmp_path):
        chosen = resolve(project=project)
        assert (chosen.version, chosen.source, chosen.request) == ("3.13.5", v.NOTHING_REQUESTED, "")
        (warning,) = chosen.warnings
        assert "No Python version was requested" in warning and "3.13.5" in warning
        assert "version: '3.13'" in warning and "write 3.13 to the app's .python-version" in warning
    assert str(tmp_path) in resolve(project=tmp_path).warnings[0]


def test_nothing_requested_skips_a_minor_past_its_end_of_life():
    releases = [release("3.9.25"), release("3.10.15"), release("3.10.16", ARM)]
    # 3.10 ended on 2026-10-31 and 3.9 before it: with nothing supported, the newest available still installs
    # (and the end-of-life verdict decides); with a supported minor, that one is chosen.
    assert v.resolve(None, None, releases + [release("3.11.2")], X86, today=TODAY).version == "3.11.2"
    chosen = v.resolve(None, None, releases, X86, today=TODAY)
    assert (chosen.version, chosen.end_of_life) == ("3.10.15", "2026-10-31")


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


# -- exact old patches, archive flavours -------------------------------------------------------

def test_an_old_patch_with_only_an_install_only_archive_resolves():
    releases = RELEASES + [release("3.11.4", flavour="install_only.tar.gz")]
    chosen = v.resolve("3.11.4", None, releases, X86, today=TODAY)
    assert chosen.filename.endswith("-install_only.tar.gz") and chosen.version == "3.11.4"


def test_a_stripped_archive_is_preferred_and_gzip_over_zstd_whatever_the_order():
    both = [release("3.12.7", flavour="install_only.tar.gz", sha="b"), release("3.12.7", sha="c"),
            release("3.12.7", flavour="install_only_stripped.tar.zst", sha="d", tag="20261201")]
    for ordering in (both, both[::-1]):
        chosen = v.resolve("3.12.7", None, ordering, X86, today=TODAY)
        assert chosen.sha256 == "c" * 64 and chosen.filename.endswith("-install_only_stripped.tar.gz")
    newer = both + [release("3.12.7", flavour="install_only.tar.gz", sha="e", tag="20261201")]
    assert v.resolve("3.12.7", None, newer, X86, today=TODAY).sha256 == "e" * 64  # the newer build of the version


def test_an_unknown_patch_lists_the_patches_of_its_minor():
    with pytest.raises(AppenvError) as caught:
        resolve("3.11.4")
    assert caught.value.code == "version_unknown" and "Newest available: 3.11.9, 3.11.2." in caught.value.message


# -- the free-threaded variant --------------------------------------------------------------------

FT = RELEASES + [release("3.13.5", variant="freethreaded", sha="f"), release("3.13.4", variant="freethreaded"),
                 release("3.13.5", ARM, variant="freethreaded", sha="e")]


@pytest.mark.parametrize("request_text, variant, expected, sha", [
    ("3.13", "freethreaded", "3.13.5", "f"), ("3.13t", None, "3.13.5", "f"), ("3.13.4t", None, "3.13.4", "a"),
    ("3.13", None, "3.13.5", "a"), ("3.13", "default", "3.13.5", "a"), ("3t", None, "3.13.5", "f"),
])
def test_the_variant_picks_its_own_archives(request_text, variant, expected, sha):
    chosen = v.resolve(request_text, None, FT, X86, today=TODAY, variant=variant)
    assert (chosen.version, chosen.sha256[0]) == (expected, sha)
    assert chosen.variant == (variant or ("freethreaded" if "t" in request_text else "default"))
    assert ("-freethreaded-" in chosen.filename) == (chosen.variant == "freethreaded")


def test_a_python_version_file_can_ask_for_the_free_threaded_build(tmp_path):
    (tmp_path / ".python-version").write_text("3.13t\n")
    chosen = v.resolve(None, str(tmp_path), FT, ARM, today=TODAY)
    assert (chosen.variant, chosen.sha256) == ("freethreaded", "e" * 64)
    with pytest.raises(AppenvError) as caught:
        v.resolve(None, str(tmp_path), FT, ARM, today=TODAY, variant="default")
    assert caught.value.code == "variant_conflict" and ".python-version" in caught.value.message


def test_a_version_without_a_free_threaded_build_says_what_exists():
    with pytest.raises(AppenvError) as caught:
        v.resolve("3.12", None, FT, X86, today=TODAY, variant="freethreaded")
    error = caught.value
    assert error.code == "variant_unavailable"
    assert "3.12.7" in error.cause and "3.13.5, 3.13.4" in error.cause and "3.13" in error.fixes[0]
    with pytest.raises(AppenvError) as caught:
        v.resolve("3.99", None, FT, X86, today=TODAY, variant="freethreaded")
    assert caught.value.code == "version_unknown"
    with pytest.raises(AppenvError) as caught:
        v.resolve("3.13", None, FT, X86, today=TODAY, variant="nogil")
    assert caught.value.code == "bad_argument"


def test_archive_names_of_every_kind():
    for name, variant, flavour in [
        ("cpython-3.13.5+20250612-x86_64-unknown-linux-gnu-freethreaded-install_only_stripped.tar.gz",
         "freethreaded", "install_only_stripped"),
        ("cpython-3.11.4+20230726-aarch64-unknown-linux-gnu-install_only.tar.gz", "default", "install_only"),
    ]:
        match = v.ARCHIVE_NAME.match(name)
        assert match and v.Release(match.group("version"), "", "", name, "").variant == variant
        assert v.Release("", "", "", name, "").flavour == flavour
    assert not v.ARCHIVE_NAME.match("cpython-3.13.5+20250612-x86_64-unknown-linux-gnu-freethreaded+pgo+lto-full.tar.zst")


def test_sha256sums_parsing_and_mirror_over_http(tmp_path):
    sums = "\n".join([
        "%s  cpython-3.11.2+20261101-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz" % ("b" * 64),
        "%s  cpython-3.11.2+20261101-x86_64-unknown-linux-gnu-debug-full.tar.zst" % ("c" * 64),
        "%s  cpython-3.13.5+20261101-x86_64-unknown-linux-gnu-freethreaded-install_only.tar.gz" % ("d" * 64),
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
        assert [(r.version, r.sha256, r.variant) for r in releases] == [
            ("3.11.2", "b" * 64, "default"), ("3.13.5", "d" * 64, "freethreaded")]
        assert releases[0].url.startswith(base + "/20261101/cpython-3.11.2")
        file_releases = v.mirror_releases(tmp_path.as_uri(), "20261101")
        assert len(file_releases) == 2
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
