"""The generated docs (troubleshooting, module reference, reliability) match their sources: `make docs`
regenerates them. docs/reliability.md is rendered from the committed record docs/reliability.json, so this
check does not run the fault suite (`make reliability` does, and refreshes the record)."""

import ast
import importlib.util
import json

import pytest

from tests.collection_path import REPO_ROOT
from tests.integration.faults import reliability as reliability_record

spec = importlib.util.spec_from_file_location("docs_build", str(REPO_ROOT / "docs" / "build.py"))
docs_build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(docs_build)
PAGES = docs_build.pages()


@pytest.mark.parametrize("rel", sorted(PAGES))
def test_generated_page_is_up_to_date(rel):
    committed = (REPO_ROOT / "docs" / rel)
    assert committed.exists(), "run make docs"
    assert committed.read_text() == PAGES[rel], "%s is out of date: run make docs" % rel


def test_reliability_page_comes_from_a_complete_run():
    assert "reliability.md" in PAGES, "docs/reliability.json is missing: run make reliability"
    record = json.loads(docs_build.RELIABILITY_RECORD.read_text())
    assert record["complete"], record["incomplete_because"]
    assert record["rows"] and all(row["scenario"] and row["expected"] for row in record["rows"])
    for row in record["rows"]:
        assert "| %s | %s | %s" % (docs_build._cell(row["scenario"]), docs_build._cell(row["expected"]),
                                   row["result"]) in PAGES["reliability.md"], row


def _fault_tests():
    for path in sorted(reliability_record.FAULTS_DIR.glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                yield "%s::%s" % (path.name, node.name), ast.get_docstring(node)


@pytest.mark.parametrize("name, doc", list(_fault_tests()), ids=[name for name, _doc in _fault_tests()])
def test_every_fault_scenario_describes_itself(name, doc):
    scenario, expected = reliability_record.describe(doc)
    assert scenario and expected


def test_scenario_descriptions_follow_the_convention():
    doc = """Killed during the {point} step.

    More words.

    Expected: the old one
    stays ({point}).
    """
    assert reliability_record.describe(doc, {"point": "download"}) == (
        "Killed during the download step.", "the old one stays (download).")
    for bad in ("", "Only a scenario.", "Scenario.\n\nNo expectation here."):
        with pytest.raises(ValueError):
            reliability_record.describe(bad)


def test_a_record_renders_every_row_and_flags_a_partial_run():
    record = {"format": "appenv.python/reliability", "format_version": 1, "finished_at": "2026-01-01 00:00 UTC",
              "complete": False, "incomplete_because": ["1 fault test(s) did not run"],
              "suites": [{"file": "tests/integration/faults/test_x.py", "title": "Faults of x."}],
              "rows": [{"id": "a", "file": "tests/integration/faults/test_x.py", "scenario": "A | pipe",
                        "expected": "fine", "result": "passed", "seconds": 3.2},
                       {"id": "b", "file": "tests/integration/faults/test_x.py", "scenario": "B",
                        "expected": "fine", "result": "failed", "seconds": 1.0}]}
    page = docs_build.reliability(record)
    assert "| A \\| pipe | fine | passed (3 s) |" in page
    assert "| B | fine | **failed** (1 s) |" in page
    assert "partial run" in page and "1 failed, 1 passed" in page
    with pytest.raises(ValueError):
        docs_build.reliability({"format": "something else"})
