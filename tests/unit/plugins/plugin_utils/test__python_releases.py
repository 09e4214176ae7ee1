"""The shipped release table: well formed, one archive per (version, triple), and the resolver reads it right."""

import ast
import datetime
import re

import pytest
from packaging.version import Version

from ansible_collections.appenv.python.plugins.plugin_utils import _python_releases as table
from ansible_collections.appenv.python.plugins.plugin_utils import _version_request as v
from tests.collection_path import REPO_ROOT

TRIPLES = ("x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu")
TODAY = datetime.date(2026, 11, 25)


def releases():
    """The table as the action plugin turns it into candidates (see ActionModule._table_releases)."""
    return [v.Release(version, release, triple, filename, sha256,
                      "%s/%s/%s" % (table.DEFAULT_MIRROR, release, filename))
            for version, release, triple, filename, sha256 in table.RELEASES]


def test_default_mirror():
    assert table.DEFAULT_MIRROR == "https://github.com/astral-sh/python-build-standalone/releases/download"


def test_rows_are_well_formed():
    assert isinstance(table.RELEASES, tuple) and table.RELEASES
    for row in table.RELEASES:
        assert isinstance(row, tuple) and len(row) == 5 and all(isinstance(field, str) for field in row), row
        version, release, triple, filename, sha256 = row
        assert re.match(r"^[0-9a-f]{64}$", sha256), row
        assert triple in TRIPLES, row
        assert Version(version) >= Version("3.9") and re.match(r"^\d+\.\d+\.\d+$", version), row
        match = v.ARCHIVE_NAME.match(filename)
        assert match, row
        assert (match.group("version"), match.group("release"), match.group("triple")) == (version, release, triple)
        assert filename.endswith("-install_only_stripped.tar.gz"), row


def test_one_archive_per_version_and_triple_and_sorted():
    keys = [(row[0], row[2]) for row in table.RELEASES]
    assert len(keys) == len(set(keys))
    assert len({row[3] for row in table.RELEASES}) == len(table.RELEASES)
    assert keys == sorted(keys, key=lambda key: (Version(key[0]), key[1]))


def test_both_triples_have_every_supported_minor():
    for triple in TRIPLES:
        minors = {".".join(row[0].split(".")[:2]) for row in table.RELEASES if row[2] == triple}
        assert {"3.9", "3.10", "3.11", "3.12", "3.13"} <= minors, triple


def test_the_module_is_python_38_syntax():
    text = (REPO_ROOT / "plugins" / "plugin_utils" / "_python_releases.py").read_text()
    ast.parse(text, feature_version=(3, 8))


@pytest.mark.parametrize("triple", TRIPLES)
def test_resolve_picks_the_newest_312_for_each_triple(triple):
    newest = max((row for row in table.RELEASES if row[2] == triple and row[0].startswith("3.12.")),
                 key=lambda row: Version(row[0]))
    chosen = v.resolve("3.12", None, releases(), triple, today=TODAY)
    assert (chosen.version, chosen.release, chosen.triple, chosen.filename, chosen.sha256) == (
        newest[0], newest[1], triple, newest[3], newest[4])
    assert chosen.url == "%s/%s/%s" % (table.DEFAULT_MIRROR, newest[1], newest[3])
    older = [row[0] for row in table.RELEASES if row[2] == triple and row[0].startswith("3.12.")]
    assert len(older) > 1 and all(Version(version) <= Version(chosen.version) for version in older)


@pytest.mark.parametrize("triple", TRIPLES)
def test_resolve_exact_version_from_the_table(triple):
    exact = next(row for row in table.RELEASES if row[2] == triple and row[0].startswith("3.12."))
    chosen = v.resolve(exact[0], None, releases(), triple, today=TODAY)
    assert (chosen.version, chosen.sha256) == (exact[0], exact[4])


def test_the_action_plugin_uses_the_shipped_table():
    from ansible_collections.appenv.python.plugins.action import python_runtime as action

    assert action.RELEASES is table.RELEASES and action.DEFAULT_MIRROR == table.DEFAULT_MIRROR
