"""The generated docs (troubleshooting, module reference, reliability) match their sources: `make docs`
regenerates them; the docs site builds and its module page renders in a browser. docs/reliability.md is rendered
from the committed record docs/reliability.json, so this check does not run the fault suite (`make reliability`
does, and refreshes the record)."""

import ast
import importlib.util
import json
import re
import shutil
import subprocess

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


# Ansible's documentation markup, left raw: O(option), V(value), C(code), M(module), RV(return value)...
RAW_MARKUP = re.compile(r"\b(?:O|V|C|M|RV|E|P|I|B|U|L)\([^)\s]*\)")


@pytest.mark.parametrize("rel", sorted(rel for rel in PAGES if rel.startswith("reference/")))
def test_reference_page_renders_the_markup(rel):
    assert not RAW_MARKUP.findall(PAGES[rel]), RAW_MARKUP.findall(PAGES[rel])[:10]
    assert "ERROR while parsing" not in PAGES[rel]  # the parser's words for markup it could not resolve


def test_reliability_page_comes_from_a_complete_run():
    assert "reliability.md" in PAGES, "docs/reliability.json is missing: run make reliability"
    record = json.loads(docs_build.RELIABILITY_RECORD.read_text())
    assert record["complete"], record["incomplete_because"]
    assert record["rows"] and all(row["scenario"] and row["expected"] for row in record["rows"])
    for row in record["rows"]:
        assert "| %s | %s | %s" % (docs_build._cell(row["scenario"]), docs_build._cell(row["expected"]),
                                   row["result"]) in PAGES["reliability.md"], row


def _fault_tests():
    for directory in reliability_record.SUITE_DIRS:
        for path in sorted(directory.glob("test_*.py")):
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                    yield "%s/%s::%s" % (directory.name, path.name, node.name), ast.get_docstring(node)


@pytest.mark.parametrize("name, doc", list(_fault_tests()), ids=[name for name, _doc in _fault_tests()])
def test_every_fault_scenario_describes_itself(name, doc):
    scenario, expected = reliability_record.describe(doc)
    assert scenario and expected


def test_every_fault_scenario_has_a_row():
    """A scenario added to the fault suite is on docs/reliability.md (make reliability, or a --merge of its file)."""
    record = json.loads(docs_build.RELIABILITY_RECORD.read_text())
    rows = set(row["id"].split("[")[0] for row in record["rows"])
    for name, _doc in _fault_tests():
        assert "tests/integration/" + name in rows, name


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


def test_a_run_of_one_suite_file_merges_into_the_record(tmp_path):
    def row(file, name, result="passed"):
        return {"id": "%s::%s" % (file, name), "file": file, "scenario": name, "expected": "fine", "result": result,
                "seconds": 1.0}

    faults, security = "tests/integration/faults/test_x.py", "tests/integration/security/test_y.py"
    old = {"format": "appenv.python/reliability", "format_version": 1, "finished_at": "2026-01-01 00:00 UTC",
           "complete": True, "incomplete_because": [], "suites": [{"file": faults, "title": "X."}],
           "rows": [row(faults, "a")]}
    run = dict(old, finished_at="2026-02-01 00:00 UTC", complete=False,
               incomplete_because=["not collected: " + faults], suites=[{"file": security, "title": "Y."}],
               rows=[row(security, "b")])
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "run.json").write_text(json.dumps(run))
    merged = docs_build.merge_reliability_run(tmp_path / "run.json", into=tmp_path / "old.json")
    assert merged["complete"] and [r["id"] for r in merged["rows"]] == [faults + "::a", security + "::b"]
    page = docs_build.reliability(merged)
    assert "`%s` (run of 2026-01-01 00:00 UTC)" % faults in page and "| b | fine | passed (1 s) |" in page
    for why in (["1 fault test(s) did not run"], ["not collected: tests/integration/faults/test_z.py"]):
        (tmp_path / "run.json").write_text(json.dumps(dict(run, incomplete_because=why)))
        with pytest.raises(SystemExit):
            docs_build.merge_reliability_run(tmp_path / "run.json", into=tmp_path / "old.json")


# The docs site (docs/build.py --site, make docs): antsibull-docs renders the module and role docs, Sphinx builds
# the HTML without warnings, every link of the site resolves; a headless Chromium opens the python_runtime page.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]
SCREENSHOT = REPO_ROOT / "tests" / "output" / "docs-site-python_runtime.png"


@pytest.fixture(scope="module")
def docs_site(tmp_path_factory):
    return docs_build.site(tmp_path_factory.mktemp("docs-site") / "site")


def test_docs_site_has_a_page_per_module_and_role(docs_site):
    for module in sorted(p.stem for p in (REPO_ROOT / "plugins" / "modules").glob("*.py")):
        assert (docs_site / ("%s_module.html" % module)).is_file(), module
    for role in sorted(p.name for p in (REPO_ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists()):
        assert (docs_site / ("%s_role.html" % role)).is_file(), role
    assert not docs_build.broken_links(docs_site)


def test_broken_links_are_found(tmp_path):
    (tmp_path / "a.html").write_text('<a href="b.html#there">b</a><a href="c.html">c</a><a href="#here">self</a>'
                                     '<p id="here"></p><a href="http://plain.invalid/">x</a>')
    (tmp_path / "b.html").write_text('<p id="elsewhere"></p>')
    assert docs_build.broken_links(tmp_path) == ["a.html: b.html#there (no such anchor)",
                                                 "a.html: c.html (no such file)",
                                                 "a.html: http://plain.invalid/ (not https)"]


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("no headless browser: make system installs Debian's chromium (tests/testbed/system-packages.sh)")


def test_module_page_renders_in_a_browser(docs_site, tmp_path):
    """A user's view of the python_runtime page: Chromium loads it from the built site, its DOM has the rendered
    option table and no raw Ansible markup (O(...), C(...), V(...), RV(...)), and a screenshot is kept."""
    page = (docs_site / "python_runtime_module.html").as_uri()
    browser = _chromium()
    flags = CHROMIUM_FLAGS + ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run([browser] + flags + ["--dump-dom", page], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    text = re.sub(r"<[^>]+>", " ", dom)
    assert "appenv.python.python_runtime" in text
    assert re.search(r"<table[^>]*>", dom) and "Parameter" in text and "Comments" in text
    for option in ("version", "project_dir", "layer_cache", "mirror"):
        assert re.search(r'id="parameter-%s"' % option, dom), option
    assert not RAW_MARKUP.findall(text), RAW_MARKUP.findall(text)[:10]
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    if SCREENSHOT.exists():
        SCREENSHOT.unlink()
    subprocess.run([browser] + flags + ["--window-size=1280,1600", "--screenshot=" + str(SCREENSHOT), page],
                   capture_output=True, text=True, timeout=120, check=True)
    assert SCREENSHOT.stat().st_size > 20000  # a rendered page, not a blank one


def test_performance_table_is_the_one_the_results_files_give():
    """docs/performance.md's table is bench.report's rendering of the committed bench/results files, unedited."""
    from bench import report, results

    page = (REPO_ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    committed = page.split(report.START, 1)[1].split(report.END, 1)[0]
    assert committed == "\n" + report.build([results.RESULTS_DIR]), (
        "docs/performance.md's table differs from bench/results: run python -m bench.report")
    for name in re.findall(r"^- `([^`]+\.json)`:", committed, re.M):
        assert (results.RESULTS_DIR / name).is_file(), name


# Where the docs outside the generated table give a time: each paragraph doing so names its source, a results file
# (through docs/performance.md's table or bench/results) or a one-off measurement with its command.
TIMED = re.compile(r"\b\d+(?:\.\d+)? ?(?:s|ms|minutes)\b")
SOURCED = re.compile(r"bench/results|docs/performance\.md|performance\.md|[Oo]ne-off measurement|\bscenario \d+")


@pytest.mark.parametrize("rel", ["guides/" + path.name for path in sorted((REPO_ROOT / "docs" / "guides").glob("*.md"))]
                         + ["design-notes-answers.md"])
def test_every_time_in_the_docs_names_where_it_comes_from(rel):
    text = (REPO_ROOT / "docs" / rel).read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # commands and their output shown as examples
    unsourced = [block.strip()[:160] for block in re.split(r"\n\s*\n|\n(?=- )|\n(?=\| )", text)
                 if TIMED.search(block) and not SOURCED.search(block)]
    assert not unsourced, unsourced
