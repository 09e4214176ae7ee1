"""Package sets of the dependency benchmarks: one run per set, `set` in every sample, a row group per set
in the table, a skip (not a failure) when a registry set cannot be fetched, and the registry cache."""

import os

import pytest

from bench import deps_set, report, results, run
from bench.context import Context
from bench.registry import Comparison, Scenario, at_least

SPEED = Comparison("ours", "theirs", "≥ 2× (large set)", at_least(2), judged_on=("large",))
SETS = ("hermetic", "webapp", "large")


def sample(variant, seconds, **extra):
    data = {"scenario": 11, "variant": variant, "side": "us", "seconds": seconds, "repetition": 0, "order": 0}
    data.update(extra)
    return data


def document(name, finished, samples):
    return {"schema": results.SCHEMA, "_file": name, "finished": finished, "quick": False, "repetitions": 1,
            "machine": {"cores": 2, "arch": "x86_64"}, "commit": "0" * 40, "samples": samples}


def test_the_table_has_a_row_group_per_set_and_samples_without_a_set_are_the_default_one():
    scenario = Scenario(11, "Made up", None, (SPEED,), SETS)
    old = document("old.json", "2026-01-01", [sample("ours", 1.0), sample("theirs", 1.5)])
    new = document("new.json", "2026-01-02", [sample("ours", 2.0, set="large"), sample("theirs", 30.0, set="large"),
                                              sample("ours", 1.0, set="other"), sample("theirs", 3.0, set="other")])
    assert report.package_sets([new, old], scenario) == ["hermetic", "large", "other"]
    hermetic, large, other = report.rows([new, old], [scenario])
    assert (hermetic.package_set, hermetic.document["_file"], hermetic.ratio) == ("hermetic", "old.json", 1.5)
    assert (large.package_set, large.document["_file"], large.ratio) == ("large", "new.json", 15.0)
    # The aim is judged on the sets it names only.
    assert large.cells(first=True)[-1] == "yes" and other.cells(first=True)[-1] == "—"
    assert hermetic.cells(first=True)[0] == "11 — Made up, set `hermetic`"
    text = report.render([hermetic, large, other])
    assert text.count("| 11 — Made up, set `large` |") == 1 and "`old.json`" in text and "`new.json`" in text
    # A scenario without sets keeps one row per comparison, all samples counted.
    (plain,) = report.rows([new, old], [Scenario(11, "Made up", None, (SPEED,))])
    assert plain.package_set is None and plain.us.count == 2 and plain.cells(first=True)[0] == "11 — Made up"


def test_an_aim_may_differ_by_set():
    both = Comparison("ours", "theirs", "≥ 5× (webapp), ≥ 10× (large)",
                      met_on=(("webapp", at_least(5)), ("large", at_least(10))))
    scenario = Scenario(11, "Made up", None, (both,), SETS)
    new = document("new.json", "2026-01-02", [
        sample("ours", 1.0, set=name) for name in SETS] + [
        sample("theirs", 6.0, set="hermetic"), sample("theirs", 6.0, set="webapp"), sample("theirs", 6.0, set="large")])
    verdicts = dict((row.package_set, row.cells(first=True)[-1]) for row in report.rows([new], [scenario]))
    assert verdicts == {"hermetic": "—", "webapp": "yes", "large": "no"}


def test_a_full_run_measures_every_set_quick_the_default_one_and_set_chooses():
    with_sets, without = Scenario(1, "a", None, (), SETS), Scenario(5, "b", None, ())
    assert Context(log=print).sets_of(with_sets) == list(SETS)
    assert Context(quick=True, log=print).sets_of(with_sets) == ["hermetic"]
    assert Context(quick=True, sets=["webapp"], log=print).sets_of(with_sets) == ["webapp"]
    assert Context(sets=["webapp"], log=print).sets_of(without) == [None]
    assert run.parse_args(["--set", "webapp,large"]).sets == ["webapp", "large"]
    with pytest.raises(SystemExit):
        run.parse_args(["--set", "nope"])


def test_every_sample_records_its_set_and_an_unreachable_registry_is_a_skip_not_an_error():
    logged = []

    def measure(ctx):
        if ctx.package_set == "large":
            raise deps_set.SetUnavailable("set large: offline")
        yield from ctx.alternate(0, [("us", lambda: {"ours": 1.0}), ("alternative", lambda: {"theirs": 2.0})])

    scenario = Scenario(11, "Made up", measure, (SPEED,), SETS)
    ctx = Context(repetitions=1, sets=["webapp", "large"], log=logged.append)
    document = run.run([scenario], ctx, results.new_document(False, 1, [11]))
    assert [(s["variant"], s["set"]) for s in document["samples"]] == [("ours", "webapp"), ("theirs", "webapp")]
    assert document["errors"] == {} and document["skipped"] == {"11/large": "set large: offline"}
    assert "[bench 11/large] skipped: set large: offline" in logged
    assert any(line.startswith("[bench 11/webapp] rep 0") for line in logged)


def test_registry_sets_are_pinned_and_cached_by_their_requirement_text(tmp_path, monkeypatch):
    for name, lines in deps_set.REGISTRY_SETS.items():
        assert all("==" in line for line in lines) and lines[-1].startswith("whitenoise=="), name
    assert set(deps_set.REGISTRY_SETS["webapp"]) < set(deps_set.REGISTRY_SETS["large"])
    assert deps_set.cache_key(["a==1"]) != deps_set.cache_key(["a==2"]) != deps_set.cache_key(["a==2"], "aarch64")
    with pytest.raises(ValueError):
        deps_set.check("nope")
    monkeypatch.setenv("APPENV_TESTBED_CACHE", str(tmp_path))
    cached = tmp_path / "bench-sets" / ("webapp-x86_64-" + deps_set.cache_key(deps_set.REGISTRY_SETS["webapp"]))
    cached.mkdir(parents=True)
    (cached / "django-5.2.19-py3-none-any.whl").write_bytes(b"")
    (cached / ".complete").write_text("")
    assert deps_set.registry_wheels("webapp") == [cached / "django-5.2.19-py3-none-any.whl"]


def test_a_registry_set_that_cannot_be_downloaded_raises_set_unavailable(tmp_path, monkeypatch):
    # pip with no index and no configuration: what an offline machine gets (pip runs for real).
    monkeypatch.setenv("APPENV_TESTBED_CACHE", str(tmp_path))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    logged = []
    with pytest.raises(deps_set.SetUnavailable, match="set webapp: its wheels are not cached and pip download"):
        with deps_set.served_index(name="webapp", log=logged.append):
            pass
    assert logged and "downloading 8 pinned requirements" in logged[0]
    assert not list((tmp_path / "bench-sets").glob("webapp-*/"))  # nothing half-done is left as cached
