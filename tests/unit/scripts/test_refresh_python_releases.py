"""scripts/refresh_python_releases.py: which archives it keeps, newest release wins, same input same file, clear errors."""

import ast
import importlib.util
import io
import json

import pytest

from tests.collection_path import REPO_ROOT

spec = importlib.util.spec_from_file_location("refresh_python_releases",
                                              str(REPO_ROOT / "scripts" / "refresh_python_releases.py"))
refresh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(refresh)

X86 = "x86_64-unknown-linux-gnu"
ARM = "aarch64-unknown-linux-gnu"
BASE = "https://mirror.example.invalid/pbs"


def digest(n):
    return ("%064x" % n)


def entry(version, release, triple=X86, flavour="install_only_stripped.tar.gz", sha=1, name="cpython", variant=None,
          prerelease="", folder=None, plus="%2B"):
    filename = "%s-%s%s%s-%s-%s" % (name, version, plus, release, triple, flavour)
    return {"name": name, "variant": variant, "prerelease": prerelease, "build": release,
            "url": "%s/%s/%s" % (BASE, folder or release, filename), "sha256": digest(sha)}


def fixture_metadata():
    """Keys mimic a download-metadata document; the keys themselves are never read."""
    entries = [
        entry("3.12.7", "20241008", sha=1),
        entry("3.12.7", "20241016", sha=2),             # newer release of the same version wins
        entry("3.12.7", "20241002", sha=3),             # older, listed after: still loses
        entry("3.12.7", "20241016", ARM, sha=4),
        entry("3.12.6", "20240909", sha=5),
        entry("3.12.6", "20240909", ARM, sha=6),
        entry("3.13.0", "20241016", sha=7),
        entry("3.9.20", "20241016", sha=8),
        entry("3.8.20", "20241016", sha=9),             # too old
        entry("3.12.7", "20241016", flavour="install_only.tar.gz", sha=10),
        entry("3.12.7", "20241016", flavour="debug-full.tar.zst", sha=11),
        entry("3.12.7", "20241016", "x86_64_v3-unknown-linux-gnu", sha=12),
        entry("3.12.7", "20241016", "x86_64-unknown-linux-musl", sha=13),
        entry("3.12.7", "20241016", "aarch64-apple-darwin", sha=14),
        entry("3.13.0", "20241016", X86 + "-freethreaded", sha=15),
        entry("3.14.0rc1", "20250801", sha=16, prerelease="rc1"),
        entry("3.12.7", "20241016", ARM, sha=17, variant="debug"),
        {"name": "pypy", "url": BASE + "/pypy3.10-v7.3.17-linux64.tar.bz2", "sha256": digest(18)},
        {"name": "graalpy", "url": BASE + "/graalpy-24.1.0-linux-amd64.tar.gz", "sha256": None},
    ]
    return {"entry-%02d" % index: value for index, value in enumerate(entries)}


def write(tmp_path, document, name="metadata.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = refresh.main([str(arg) for arg in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_keeps_only_final_cpython_install_only_stripped_for_the_two_glibc_triples():
    table = refresh.select(fixture_metadata())
    assert table == (
        ("3.9.20", "20241016", X86, "cpython-3.9.20+20241016-%s-install_only_stripped.tar.gz" % X86, digest(8)),
        ("3.12.6", "20240909", ARM, "cpython-3.12.6+20240909-%s-install_only_stripped.tar.gz" % ARM, digest(6)),
        ("3.12.6", "20240909", X86, "cpython-3.12.6+20240909-%s-install_only_stripped.tar.gz" % X86, digest(5)),
        ("3.12.7", "20241016", ARM, "cpython-3.12.7+20241016-%s-install_only_stripped.tar.gz" % ARM, digest(4)),
        ("3.12.7", "20241016", X86, "cpython-3.12.7+20241016-%s-install_only_stripped.tar.gz" % X86, digest(2)),
        ("3.13.0", "20241016", X86, "cpython-3.13.0+20241016-%s-install_only_stripped.tar.gz" % X86, digest(7)),
    )


def test_newest_release_wins_whatever_the_order():
    entries = [entry("3.12.7", tag, sha=n) for n, tag in enumerate(["20241016", "20240909", "20250115", "20241002"])]
    for ordering in (entries, entries[::-1], entries[1:] + entries[:1]):
        (row,) = refresh.select(ordering)
        assert row[1] == "20250115" and row[4] == digest(2)


def test_versions_sort_as_numbers_and_sha256_is_lowercased():
    document = [entry("3.10.15", "20241016", sha=1), entry("3.9.20", "20241016", sha=2),
                dict(entry("3.13.10", "20251202"), sha256="ABCDEF" * 10 + "ABCD")]
    table = refresh.select(document)
    assert [row[0] for row in table] == ["3.9.20", "3.10.15", "3.13.10"]
    assert table[-1][4] == ("abcdef" * 10 + "abcd")


def test_same_input_gives_the_same_file_whatever_the_order(tmp_path):
    document = fixture_metadata()
    shuffled = dict(reversed(list(document.items())))
    first, second = tmp_path / "a.py", tmp_path / "b.py"
    assert run(write(tmp_path, document), "--output", first)[0] == 0
    assert run(write(tmp_path, shuffled, "other.json"), "--output", second)[0] == 0
    assert first.read_bytes() == second.read_bytes()
    # Running again changes nothing, and --check agrees.
    before = first.read_bytes()
    code, out, _err = run(write(tmp_path, document), "--output", first)
    assert code == 0 and "unchanged" in out and first.read_bytes() == before
    assert run(write(tmp_path, document), "--output", first, "--check")[0] == 0


def test_generated_file_is_a_python_38_module_with_the_table(tmp_path):
    target = tmp_path / "_python_releases.py"
    assert run(write(tmp_path, fixture_metadata()), "--output", target)[0] == 0
    text = target.read_text()
    lines = text.splitlines()
    host_header = (REPO_ROOT / "plugins" / "module_utils" / "_host.py").read_text().splitlines()[:3]
    assert lines[:3] == host_header
    assert "GENERATED by scripts/refresh_python_releases.py" in text
    assert "from __future__ import absolute_import, division, print_function" in lines
    assert "__metaclass__ = type" in lines
    ast.parse(text, feature_version=(3, 8))
    assert max(len(line) for line in lines) <= 160
    namespace = {}
    exec(compile(text, str(target), "exec"), namespace)  # noqa: S102 - the file the script just wrote
    assert namespace["DEFAULT_MIRROR"] == "https://github.com/astral-sh/python-build-standalone/releases/download"
    assert namespace["RELEASES"] == refresh.select(fixture_metadata())
    assert str(tmp_path) not in text


def test_check_reports_what_would_change(tmp_path):
    target = tmp_path / "_python_releases.py"
    assert run(write(tmp_path, [entry("3.12.6", "20240909")]), "--output", target)[0] == 0
    newer = [entry("3.12.6", "20240909"), entry("3.12.7", "20241016")]
    code, out, _err = run(write(tmp_path, newer), "--output", target, "--check")
    assert code == 1 and "added 3.12.7 %s (release 20241016)" % X86 in out
    code, out, _err = run(write(tmp_path, [entry("3.12.6", "20240909", sha=99)]), "--output", target)
    assert code == 0 and "sha256 of release 20240909 CHANGED" in out


def test_reads_file_urls(tmp_path):
    path = write(tmp_path, fixture_metadata())
    target = tmp_path / "out.py"
    code, _out, err = run(path.as_uri(), "--output", target)
    assert code == 0, err
    assert "3.12.7" in target.read_text()


def test_a_literal_plus_in_the_url_is_read_like_its_escape():
    assert refresh.select([entry("3.12.7", "20241016", plus="+")]) == refresh.select([entry("3.12.7", "20241016")])


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    ('"a string"', "must be a JSON object or list of entries, not str"),
    ('{"a": 3}', "entry 'a' is int, not an object"),
    ('[{"sha256": "%s"}]' % ("0" * 64), "entry #0 has no url"),
    ("{}", "no entry of the metadata is a CPython 3.9+ install_only_stripped archive"),
    (json.dumps([entry("3.8.20", "20241016")]), "no entry of the metadata"),
    (json.dumps({"k": dict(entry("3.12.7", "20241016"), sha256="abc")}),
     "entry 'k': sha256 of cpython-3.12.7+20241016-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz must be"),
    (json.dumps({"k": dict(entry("3.12.7", "20241016"), sha256=None)}), "must be 64 hex digits, found None"),
    (json.dumps([entry("3.12.7", "20241016", folder="latest")]), "is not in a folder named after its release 20241016"),
    (json.dumps([entry("3.12.7", "20241016", sha=1), entry("3.12.7", "20241016", sha=2)]),
     "listed twice with different sha256"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, content, message):
    source = tmp_path / "metadata.json"
    source.write_text(content)
    target = tmp_path / "out.py"
    code, out, err = run(source, "--output", target)
    assert code == 2 and out == ""
    assert err.startswith("scripts/refresh_python_releases.py: error: ")
    assert message in err
    assert not target.exists()


def test_missing_source_and_unreadable_url(tmp_path):
    code, _out, err = run(tmp_path / "nope.json", "--output", tmp_path / "out.py")
    assert code == 2 and "cannot read" in err and "nope.json" in err
    code, _out, err = run("file://user:secret@localhost" + str(tmp_path / "nope.json"), "--output",
                          tmp_path / "out.py")
    assert code == 2 and "cannot read" in err and "secret" not in err


def test_a_source_is_required(capsys):
    with pytest.raises(SystemExit) as caught:
        refresh.main([])
    assert caught.value.code == 2
    assert "source" in capsys.readouterr().err


def test_the_shipped_table_is_what_the_script_renders():
    path = REPO_ROOT / "plugins" / "plugin_utils" / "_python_releases.py"
    assert path.read_text() == refresh.render(refresh.read_table(path))
