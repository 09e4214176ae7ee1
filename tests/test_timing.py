"""Where make test's time went (tests/timing.py): areas, steps run beside others, the end-to-end total."""

import json
import sys

from tests import timing


def test_areas_of_tests():
    assert timing.area_of("tests/unit/plugins/module_utils/test__x.py::test_a", {}) == "unit"
    assert timing.area_of("tests/test_docs.py::test_a", {}) == "unit"
    assert timing.area_of("tests/integration/test_molecule.py::test_molecule_scenario[default]",
                          {"integration": 1}) == "molecule"
    assert timing.area_of("tests/integration/test_molecule.py::test_molecule_scenario[aarch64]",
                          {"integration": 1, "arm64": 1}) == "emulated aarch64"
    assert timing.area_of("tests/integration/faults/test_deps_faults.py::test_a", {"faults": 1}) == "faults"
    assert timing.area_of("tests/integration/plugins/modules/test_pyc_compile.py::test_a",
                          {"integration": 1}) == "integration"


def test_steps_beside_another_are_timed_on_their_own_and_the_first_failure_is_the_status(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(timing, "TIMING_DIR", tmp_path / "timing")
    monkeypatch.setattr(timing, "OUTPUT", tmp_path)
    sleep = [sys.executable, "-c", "import time, sys; print('side'); time.sleep(0.4); sys.exit(3)"]
    rc = timing.run_step("main", [sys.executable, "-c", "print('main')"], beside=[("side", sleep)])
    assert rc == 3
    steps = [json.loads(line) for line in (tmp_path / "timing" / "steps.jsonl").read_text().splitlines()]
    by_area = {step["area"]: step for step in steps}
    assert by_area["main"]["rc"] == 0 and by_area["main"]["wall_seconds"] < 0.4
    assert by_area["side"]["rc"] == 3 and by_area["side"]["wall_seconds"] >= 0.4
    assert by_area["side"]["beside"] == "main"
    out = capsys.readouterr().out
    assert out.index("== side (run beside main") > out.index("[timing] main")  # its log after the main output
    timing.report()
    data = json.loads((tmp_path / "timing.json").read_text())
    assert [step["area"] for step in data["steps"]] == ["main", "side"]
    total = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("total")][0]
    assert float(total.split()[1].rstrip("s")) >= 0.4  # end to end: the side step outlasted the main one
