"""The requirements include walker: includes by content, relative paths, cycles, odd names."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.appenv.python.plugins.module_utils import _requirements
from ansible_collections.appenv.python.plugins.module_utils._errors import AppenvError


def write(root, files):
    for rel, text in files.items():
        path = os.path.join(str(root), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)


def test_includes_are_followed_relative_to_the_including_file(tmp_path):
    write(tmp_path, {
        "requirements.txt": "-r requirements/base.txt\n--requirement=requirements/extra.txt\nflask\n",
        "requirements/base.txt": "# comment\n-c constraints.txt\n-rshared/common.txt\n",
        "requirements/constraints.txt": "urllib3<3\n",
        "requirements/shared/common.txt": "requests \\\n  >=2\n",
        "requirements/extra.txt": "--constraint constraints.txt\n",
    })
    walk = _requirements.walk(str(tmp_path), ["requirements.txt"])
    inputs = walk.inputs()
    assert sorted(inputs) == ["requirements.txt", "requirements/base.txt", "requirements/constraints.txt",
                              "requirements/extra.txt", "requirements/shared/common.txt"]
    assert inputs["requirements/base.txt"]["via"] == "requirements.txt"
    assert inputs["requirements/constraints.txt"]["kind"] == "constraints"
    assert inputs["requirements/shared/common.txt"]["via"] == "requirements/base.txt"
    assert inputs["requirements.txt"]["via"] is None
    assert not walk.hashes


def test_content_not_mtime_is_the_input(tmp_path):
    write(tmp_path, {"requirements.txt": "flask\n"})
    first = _requirements.walk(str(tmp_path), ["requirements.txt"]).inputs()
    os.utime(str(tmp_path / "requirements.txt"), (1, 1))
    assert _requirements.walk(str(tmp_path), ["requirements.txt"]).inputs() == first
    write(tmp_path, {"requirements.txt": "flask==3\n"})
    second = _requirements.walk(str(tmp_path), ["requirements.txt"]).inputs()
    assert _requirements.describe_file_changes(first, second) == ["requirements.txt changed"]


def test_changes_name_the_including_file():
    old = {"a.txt": {"sha256": "1", "via": None}, "inc/b.txt": {"sha256": "2", "via": "a.txt"},
           "gone.txt": {"sha256": "3", "via": "a.txt"}}
    new = {"a.txt": {"sha256": "1", "via": None}, "inc/b.txt": {"sha256": "9", "via": "a.txt"},
           "new.txt": {"sha256": "4", "via": "inc/b.txt"}}
    assert _requirements.describe_file_changes(old, new) == [
        "gone.txt (included from a.txt) is no longer used",
        "inc/b.txt (included from a.txt) changed",
        "new.txt (included from inc/b.txt) is new",
    ]


def test_a_cycle_is_a_titled_error(tmp_path):
    write(tmp_path, {"requirements.txt": "-r a.txt\n", "a.txt": "-r sub/b.txt\n", "sub/b.txt": "-r ../a.txt\n"})
    with pytest.raises(AppenvError) as caught:
        _requirements.walk(str(tmp_path), ["requirements.txt"])
    assert caught.value.code == "requirements_cycle"
    assert "a.txt -> sub/b.txt -> a.txt" in caught.value.cause


def test_a_diamond_is_not_a_cycle(tmp_path):
    write(tmp_path, {"requirements.txt": "-r a.txt\n-r b.txt\n", "a.txt": "-c c.txt\n", "b.txt": "-c c.txt\n",
                     "c.txt": "x<2\n"})
    assert len(_requirements.walk(str(tmp_path), ["requirements.txt"]).files) == 4


def test_missing_include_names_the_including_file(tmp_path):
    write(tmp_path, {"requirements.txt": "-r missing.txt\n"})
    with pytest.raises(AppenvError) as caught:
        _requirements.walk(str(tmp_path), ["requirements.txt"])
    assert caught.value.code == "requirements_missing"
    assert caught.value.cause == "missing.txt (included from requirements.txt) does not exist."


def test_hashes_urls_and_odd_names(tmp_path):
    write(tmp_path, {"req s/ünï code.txt": "pkg==1 --hash=sha256:abc\n-r https://u:p@example.invalid/r.txt\n"})
    walk = _requirements.walk(str(tmp_path), ["req s/ünï code.txt"])
    assert walk.hashes
    assert walk.urls == ["https://u:p@example.invalid/r.txt"]
    assert list(walk.inputs()) == ["req s/ünï code.txt"]


_LINES = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.sampled_from(["-r a.txt", "-r b.txt", "-c c.txt", "-r", "--requirement=a.txt", "-r ../x.txt", "\\", "#"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["requirements.txt", "a.txt", "b.txt", "c.txt"]),
                       st.lists(_LINES, max_size=6).map("\n".join), min_size=1))
def test_any_input_gives_a_result_or_a_titled_error(tmp_path_factory, files):
    root = tmp_path_factory.mktemp("walk")
    write(root, files)
    try:
        walk = _requirements.walk(str(root), ["requirements.txt"])
    except AppenvError as error:
        assert error.code in ("requirements_missing", "requirements_cycle", "requirements_invalid")
        assert error.title and error.cause
    else:
        assert "requirements.txt" in walk.inputs()
