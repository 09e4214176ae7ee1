"""`python -m bench.run --quick` works end to end (CI smoke): samples are written and the table renders.

No timing is asserted here: speed is measured by the benchmarks themselves (docs/performance.md).
"""

import json
import subprocess
import sys

import pytest

from tests.collection_path import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START, END = "<!-- results:start -->", "<!-- results:end -->"


def _bench(*argv):
    proc = subprocess.run([sys.executable, "-m"] + list(argv), cwd=str(REPO_ROOT), capture_output=True, text=True,
                          timeout=1800, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc.stdout


def test_quick_run_of_scenario_5_writes_samples_and_renders_the_table(tmp_path):
    page = tmp_path / "performance.md"
    page.write_text((REPO_ROOT / "docs" / "performance.md").read_text())
    results_dir = tmp_path / "results"

    printed = _bench("bench.run", "--quick", "--only", "5", "--results-dir", str(results_dir), "--docs", str(page))

    (results_file,) = results_dir.glob("*.json")
    document = json.loads(results_file.read_text())
    assert document["quick"] and document["repetitions"] == 1 and document["scenarios"] == [5]
    assert document["errors"] == {} and document["machine"]["cores"] >= 1 and document["machine"]["arch"]
    samples = document["samples"]
    assert {"pyc_compile", "pyc_compile no-op", "compileall -q", "compileall -q -j0"} <= {s["variant"] for s in samples}
    for sample in samples:
        assert sample["scenario"] == 5 and sample["repetition"] == 0 and sample["side"] in ("us", "alternative")
        assert isinstance(sample["seconds"], float) and isinstance(sample["order"], int)

    table = page.read_text().split(START, 1)[1].split(END, 1)[0]
    assert "`pyc_compile`" in table and "`compileall -q`" in table and results_file.name in table
    assert table.strip() in printed
    # The report rebuilds the same table from the results file alone.
    assert _bench("bench.report", "--results-dir", str(results_dir), "--no-docs").strip() == table.strip()
