"""The benchmark harness's own logic on made-up samples: ratios, alternation, results files, the table, plots."""

import json

import pytest

from bench import report, results
from bench.context import Context
from bench.plot import by_hosts, plot_hosts
from bench.registry import COST, Comparison, Scenario, at_least, at_most

SPEED = Comparison("ours", "theirs", "≥ 2×", at_least(2))
SHARE = Comparison("ours no-op", "ours", "≤ 10 %", at_most(0.10), ratio=COST, percent=True)
SCENARIO = Scenario(9, "Made up", None, (SPEED, SHARE))


def sample(variant, seconds, repetition=0, **extra):
    data = {"scenario": 9, "variant": variant, "side": "us", "seconds": seconds, "repetition": repetition, "order": 0}
    data.update(extra)
    return data


def document(name, finished, samples, quick=False):
    return {"schema": results.SCHEMA, "_file": name, "finished": finished, "quick": quick, "repetitions": 3,
            "machine": {"cores": 2, "arch": "x86_64"}, "commit": "0" * 40, "samples": samples}


def test_ratios_are_taken_between_medians_and_judged_by_the_aim():
    assert SPEED.value(2.0, 5.0) == 2.5 and SPEED.shown(2.5) == "2.50×" and SPEED.verdict(2.5) == "yes"
    assert SHARE.value(0.5, 10.0) == 0.05 and SHARE.shown(0.05) == "5.0 %" and SHARE.verdict(0.05) == "yes"
    assert SHARE.verdict(0.2) == "no" and Comparison("a", "b").verdict(3.0) == "—" and SPEED.shown(None) == "—"
    full = document("full.json", "2026-01-02", [sample("ours", s) for s in (1.0, 9.0, 2.0)]
                    + [sample("theirs", s) for s in (4.0, 5.0, 6.0)])
    (row, missing) = report.rows([full], [SCENARIO])
    assert (row.us.median, row.alternative.median, row.ratio) == (2.0, 5.0, 2.5)
    assert missing.us is None and missing.cells(first=False)[3:] == ["—", "≤ 10 %", "—"]


def test_each_row_comes_from_the_newest_full_run_that_has_both_variants():
    old = document("old.json", "2026-01-01", [sample("ours no-op", 0.1), sample("ours", 2.0), sample("theirs", 4.0)])
    new = document("new.json", "2026-01-03", [sample("ours", 1.0), sample("theirs", 4.0, reused="old.json")])
    quick = document("quick.json", "2026-01-04", [sample("ours", 8.0), sample("theirs", 1.0)], quick=True)
    speed, share = report.rows([quick, new, old], [SCENARIO])
    assert speed.document["_file"] == "new.json" and speed.ratio == 4.0
    assert "reused from `old.json`" in speed.alternative.cell()
    assert share.document["_file"] == "old.json" and share.ratio == 0.05
    text = report.render([speed, share])
    assert text.count("| 9 — Made up |") == 1 and "`new.json`" in text and "`old.json`" in text
    assert report.rows([quick], [SCENARIO])[0].ratio == 0.125


def test_the_docs_table_is_replaced_between_the_markers_only(tmp_path):
    page = tmp_path / "performance.md"
    page.write_text("intro\n%s\nold table\n%s\nafter\n" % (report.START, report.END))
    assert report.update_docs(page, "| new |\n")
    assert page.read_text() == "intro\n%s\n| new |\n%s\nafter\n" % (report.START, report.END)
    assert not report.update_docs(page, "| new |\n")
    page.write_text("no markers\n")
    with pytest.raises(ValueError):
        report.update_docs(page, "| new |\n")


def test_results_files_are_never_overwritten_and_load_newest_first(tmp_path):
    first = results.new_document(False, 3, [5])
    first["finished"] = "2026-01-01T00:00:00+00:00"
    second = dict(first, finished="2026-01-01T01:00:00+00:00")
    paths = [results.write(tmp_path, doc) for doc in (first, second)]
    assert paths[0] != paths[1] and paths[1].name.endswith("-2.json")
    assert paths[0].name.startswith(first["started"][:10] + "-" + results.host_label())
    assert [doc["_file"] for doc in results.load_all(tmp_path, tmp_path)] == [paths[1].name, paths[0].name]
    assert json.loads(paths[0].read_text())["machine"]["cores"] >= 1


def test_steps_alternate_their_order_every_repetition():
    ctx = Context(repetitions=2, log=lambda text: None)
    ctx.scenario = SCENARIO
    ran = []

    def step(name):
        return lambda: ran.append(name) or {name: 1.0, name + " (task)": {"seconds": 0.5, "hosts": 2}}

    steps = [("us", step("ours")), ("alternative", step("theirs"))]
    samples = [s for repetition in ctx.rounds() for s in ctx.alternate(repetition, steps)]
    assert ran == ["ours", "theirs", "theirs", "ours"]
    assert [(s.variant, s.repetition, s.order) for s in samples if "task" not in s.variant] == [
        ("ours", 0, 0), ("theirs", 0, 1), ("theirs", 1, 0), ("ours", 1, 1)]
    recorded = samples[1].as_dict()
    assert isinstance(recorded.pop("load1"), float)
    assert recorded == {"scenario": 9, "variant": "ours (task)", "side": "us", "seconds": 0.5, "repetition": 0,
                        "order": 0, "hosts": 2}


def test_earlier_samples_are_reused_and_marked(tmp_path):
    done = results.new_document(False, 1, [9])
    done["samples"] = [sample("theirs", 300.0, jobs=2), sample("ours", 1.0)]
    path = results.write(tmp_path, done)
    ctx = Context(results_dirs=[tmp_path], log=lambda text: None)
    ctx.scenario = SCENARIO
    (reused,) = ctx.reuse("theirs")
    assert (reused.seconds, reused.extra) == (300.0, {"jobs": 2, "reused": path.name})
    assert not list(ctx.reuse("nothing measured"))


def test_time_against_hosts_is_plotted_per_variant(tmp_path):
    samples = [sample(variant, seconds * hosts, hosts=hosts) for variant, seconds in (("ours", 1.0), ("theirs", 3.0))
               for hosts in (1, 2, 4)] + [sample("ours", 9.0), sample("ours", 3.0, hosts=1)]
    series = by_hosts(samples, 9)
    assert series["ours"][0] == (1, 2.0, 1.0, 3.0) and [p[0] for p in series["theirs"]] == [1, 2, 4]
    pytest.importorskip("matplotlib")
    out = plot_hosts(samples, 9, tmp_path / "hosts.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        plot_hosts(samples, 5, tmp_path / "none.png")


def test_a_comparison_may_compare_another_field_of_the_samples():
    rss = Comparison("ours", "theirs", "≤ 1×", at_most(1.0), ratio=COST, field="module_rss_mib")
    made_up = Scenario(9, "Made up", None, (rss, SPEED))
    doc = document("rss.json", "2026-01-02", [sample("ours", 1.0, module_rss_mib=30.0), sample("ours", 2.0),
                                              sample("theirs", 4.0, module_rss_mib=60.0)])
    memory, speed = report.rows([doc], [made_up])
    assert (memory.us.median, memory.alternative.median, memory.ratio) == (30.0, 60.0, 0.5)
    assert memory.us.cell() == "`ours` module 30.0 MiB" and memory.cells(first=True)[3:] == ["0.50×", "≤ 1×", "yes"]
    assert speed.us.median == 1.5 and speed.us.cell() == "`ours` 1.50 s"


def test_scenario_9_compares_each_picked_row_on_both_arches():
    from bench.registry import selected  # pylint: disable=import-outside-toplevel
    from bench.scenarios import s09_aarch64  # pylint: disable=import-outside-toplevel

    (nine,) = selected([9])
    assert len(nine.comparisons) == 2 * len(s09_aarch64.PICKED)
    for x86, arm in zip(nine.comparisons[::2], nine.comparisons[1::2]):
        assert x86.us.startswith("x86_64: ") and arm.us == x86.us.replace("x86_64: ", "aarch64: ", 1)
        assert arm.alternative == x86.alternative.replace("x86_64: ", "aarch64: ", 1) and arm.aim == x86.aim


def test_variants_that_name_their_host_count_make_one_line():
    samples = [sample("clean converge, %d host%s" % (hosts, "s" if hosts > 1 else ""), 10.0 * hosts, hosts=hosts)
               for hosts in (1, 4, 8)]
    assert by_hosts(samples, 9) == {"clean converge": [(1, 10.0, 10.0, 10.0), (4, 40.0, 40.0, 40.0),
                                                       (8, 80.0, 80.0, 80.0)]}
