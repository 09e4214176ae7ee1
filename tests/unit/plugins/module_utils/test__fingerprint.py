"""The fingerprint record: its key, the generic compare, reading (never a crash) and atomic writing."""

import json
import os

import pytest

from ansible_collections.appenv.python.plugins.module_utils import _fingerprint


class Spec:
    """What the fingerprint functions read of a layer spec."""

    kind = "toy"
    format_version = 1

    def __init__(self, tmp_path, version="1"):
        self.path = str(tmp_path / "layer")
        self.wanted = {"version": version}
        self.state_path = os.path.join(self.path, _fingerprint.FINGERPRINT_FILE)


def test_describe_changes_sentences():
    reasons = _fingerprint.describe_changes({"a": 1, "gone": "x"}, {"a": 2, "new": "y"}, {"a": "Python version"})
    assert reasons == ["Python version changed from 1 to 2", "gone is no longer set (was x)", "new is new: y"]


def test_key_is_host_independent_and_input_sensitive(tmp_path):
    one = _fingerprint.make_record(Spec(tmp_path, "1"), {})
    two = _fingerprint.make_record(Spec(tmp_path, "1"), {"other": "facts"})
    three = _fingerprint.make_record(Spec(tmp_path, "2"), {})
    assert one["key"] == two["key"] != three["key"]
    assert one["key"] == _fingerprint.record_key(Spec(tmp_path, "1"))
    assert _fingerprint.record_key(Spec(tmp_path, "1"), {"version": "2"}) == three["key"]


def test_written_record_reads_back_and_leaves_no_temporary_file(tmp_path):
    spec = Spec(tmp_path)
    record = _fingerprint.make_record(spec, {"built": "1"})
    _fingerprint.write_fingerprint(spec, record)
    assert _fingerprint.read_fingerprint(spec) == (record, None)
    assert os.listdir(spec.path) == [_fingerprint.FINGERPRINT_FILE]


@pytest.mark.parametrize("content, words", [
    ("{not json", "not valid JSON"),
    (json.dumps([1]), "not an appenv.python fingerprint"),
    (json.dumps({"format": _fingerprint.FINGERPRINT_FORMAT, "format_version": 1, "kind": "other", "inputs": {}}),
     "of kind other"),
    (json.dumps({"format": _fingerprint.FINGERPRINT_FORMAT, "format_version": 1, "kind": "toy", "inputs": []}),
     "missing its inputs"),
    (json.dumps({"format": _fingerprint.FINGERPRINT_FORMAT, "format_version": 1, "kind": "toy", "inputs": {},
                 "layer_version": 0}), "layer format 0, this one uses 1"),
])
def test_unusable_record_is_a_sentence_not_a_crash(tmp_path, content, words):
    spec = Spec(tmp_path)
    assert _fingerprint.read_fingerprint(spec) == (None, None)
    os.makedirs(spec.path)
    with open(spec.state_path, "w") as handle:
        handle.write(content)
    record, problem = _fingerprint.read_fingerprint(spec)
    assert record is None and words in problem


def runtime_record(**changes):
    record = {"format": _fingerprint.FINGERPRINT_FORMAT, "format_version": 1, "kind": "python_runtime",
              "layer_version": 1, "key": "k", "inputs": {"python_version": "3.12.7", "arch": "x86_64"},
              "facts": {"purelib_rel": "lib/python3.12/site-packages"}}
    record.update(changes)
    return record


def test_runtime_fingerprint(tmp_path):
    path = tmp_path / _fingerprint.FINGERPRINT_FILE
    record, problem = _fingerprint.read_runtime_fingerprint(str(tmp_path))
    assert record is None and problem.startswith("no fingerprint %s: " % path)
    path.write_text(json.dumps(runtime_record()))
    assert _fingerprint.read_runtime_fingerprint(str(tmp_path)) == (runtime_record(), None)


@pytest.mark.parametrize("content", [
    "{", json.dumps([1]), json.dumps(runtime_record(kind="app_dependencies")), json.dumps(runtime_record(key=None)),
    json.dumps(runtime_record(inputs={"arch": "x86_64"})), json.dumps(runtime_record(facts=[])),
])
def test_a_foreign_runtime_fingerprint_is_unreadable(tmp_path, content):
    (tmp_path / _fingerprint.FINGERPRINT_FILE).write_text(content)
    record, problem = _fingerprint.read_runtime_fingerprint(str(tmp_path))
    assert record is None
    assert problem == "its fingerprint %s is unreadable; run python_runtime again to repair it" % (
        tmp_path / _fingerprint.FINGERPRINT_FILE)


# -- hardening (issue 16): what kill -9 left behind ---------------------------

def _dead_pid():
    import subprocess
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid  # reaped: no such process (until the pid is reused, which the age check does not excuse)


def test_leftovers_of_dead_runs_are_removed_without_following_links(tmp_path):
    import time as time_module
    from ansible_collections.appenv.python.plugins.module_utils._fingerprint import clean_leftovers
    state = tmp_path / "state"
    state.mkdir()
    outside = tmp_path / "outside"
    outside.write_text("keep me\n")
    dead, old = _dead_pid(), time_module.time() - 3600
    names = {
        "fp.json.tmp-%d-0badc0de" % dead: "file",        # killed: removed
        "fp.json.tmp-%d-deadbeef" % dead: "link",        # a symlink: the link is removed, never its target
        "fp.json.tmp-%d-00000001" % os.getpid(): "file",  # a live run's: kept
        "fp.json.tmp-%d-00000002" % dead: "young",       # written less than a minute ago: kept
        "other.json.tmp-%d-00000003" % dead: "file",     # another stem: not ours to clean
        "fp.json.tmp-%d-dir00000" % dead: "file",        # not the pattern: kept
    }
    for name, kind in names.items():
        path = state / name
        if kind == "link":
            os.symlink(str(outside), str(path))
        else:
            path.write_text("{}")
        if kind != "young":
            os.utime(str(path), (old, old), follow_symlinks=False)
    removed = clean_leftovers(str(state), "fp.json")
    assert sorted(removed) == sorted(["fp.json.tmp-%d-0badc0de" % dead, "fp.json.tmp-%d-deadbeef" % dead])
    assert outside.read_text() == "keep me\n"
    assert sorted(os.listdir(str(state))) == sorted(set(names) - set(removed))
    assert clean_leftovers(str(tmp_path / "missing"), "fp.json") == []
