"""The record of a fault-suite run, from which docs/reliability.md is generated.

Every test of the ``faults`` marker is one row: a scenario, its expected outcome and the result of the run.
The fault suite is every test file of ``SUITE_DIRS``: the fault injection (tests/integration/faults) and the
hostile-user suite (tests/integration/security).
Both texts come from the test's docstring, so a scenario is described where it is checked:

* the first paragraph is the scenario; ``{name}`` in it stands for the value of the test parameter ``name``
  (one row per parameter set);
* the paragraph starting with ``Expected:`` is the expected outcome.

The conftest of each suite directory registers ``RecordingPlugin`` once (``register``): it feeds a ``Recorder``
with pytest's collection and reports and writes ``RUN_PATH`` (tests/output/reliability.json) at the end of the
session. ``python docs/build.py --reliability-run
tests/output/reliability.json`` takes a complete run into docs/reliability.json, the committed record, and
writes docs/reliability.md from it.
"""

import datetime
import inspect
import json
import re
from pathlib import Path

import pytest

from tests.collection_path import REPO_ROOT

FORMAT = "appenv.python/reliability"
FORMAT_VERSION = 1
FAULTS_DIR = Path(__file__).resolve().parent
SUITE_DIRS = (FAULTS_DIR, FAULTS_DIR.parent / "security")
RUN_PATH = REPO_ROOT / "tests" / "output" / "reliability.json"
NOT_RUN = "not run"


def _paragraphs(doc):
    return [" ".join(line.strip() for line in block.splitlines()) for block in re.split(r"\n\s*\n", doc.strip())]


def _fill(text, params):
    return re.sub(r"\{(\w+)\}", lambda match: str(params[match.group(1)]) if match.group(1) in params
                  else match.group(0), text)


def describe(doc, params=None):
    """(scenario, expected outcome) from a test's docstring; ValueError saying what is missing."""
    if not doc or not doc.strip():
        raise ValueError("it has no docstring")
    paragraphs = _paragraphs(inspect.cleandoc(doc))
    expected = [text for text in paragraphs[1:] if text.startswith("Expected:")]
    if not expected:
        raise ValueError("its docstring has no paragraph starting with 'Expected:'")
    return _fill(paragraphs[0], params or {}), _fill(expected[0][len("Expected:"):].strip(), params or {})


def suite_title(module):
    """The first line of a test module's docstring."""
    return inspect.cleandoc(module.__doc__ or module.__name__).splitlines()[0]


def _relative(path):
    return Path(path).resolve().relative_to(REPO_ROOT).as_posix()


class Recorder:
    """Collects the rows of one pytest session."""

    def __init__(self):
        self.rows = {}
        self.suites = {}
        self.deselected = []
        self.problems = []

    def collected(self, items):
        for item in items:
            if item.get_closest_marker("faults") is None:
                continue
            params = getattr(getattr(item, "callspec", None), "params", {})
            try:
                scenario, expected = describe(item.function.__doc__, params)
            except ValueError as exc:
                self.problems.append("%s: %s" % (item.nodeid, exc))
                scenario, expected = item.name, "(not described)"
            path = _relative(item.path)
            self.suites.setdefault(path, suite_title(item.module))
            self.rows[item.nodeid] = {"id": item.nodeid, "file": path, "scenario": scenario, "expected": expected,
                                      "result": NOT_RUN, "seconds": 0.0}

    def deselect(self, items):
        self.deselected += [item.nodeid for item in items if item.get_closest_marker("faults") is not None]

    def report(self, report):
        row = self.rows.get(report.nodeid)
        if row is None:
            return
        row["seconds"] = round(row["seconds"] + report.duration, 1)
        if report.failed:
            row["result"] = "failed" if report.when == "call" or row["result"] == "passed" else "error"
        elif report.skipped and row["result"] == NOT_RUN:
            row["result"] = "skipped"
        elif report.when == "call" and report.passed and row["result"] == NOT_RUN:
            row["result"] = "passed"

    def record(self, args, interrupted):
        """The JSON-able record; complete only for an uninterrupted run of every fault test."""
        why = list(self.problems)
        if interrupted:
            why.append("the run was interrupted")
        if self.deselected:
            why.append("%d fault test(s) were deselected" % len(self.deselected))
        if any("::" in str(arg) for arg in args):
            why.append("single tests were named on the command line")
        files = set(_relative(path) for directory in SUITE_DIRS for path in directory.glob("test_*.py"))
        missing = sorted(files - set(self.suites))
        if missing:
            why.append("not collected: %s" % ", ".join(missing))
        not_run = [row["id"] for row in self.rows.values() if row["result"] == NOT_RUN]
        if not_run:
            why.append("%d fault test(s) did not run" % len(not_run))
        order = sorted(self.suites)
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "finished_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "complete": not why,
            "incomplete_because": why,
            "suites": [{"file": path, "title": self.suites[path]} for path in order],
            "rows": sorted(self.rows.values(), key=lambda row: order.index(row["file"])),
        }

    def write(self, args, interrupted, path=RUN_PATH):
        if not self.rows:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.record(args, interrupted), indent=1) + "\n")
        return path


class RecordingPlugin:
    """pytest hooks feeding one Recorder, registered once per session whichever suite directories are collected
    (a plugin, not conftest hooks: a conftest's item hooks only see the items of its own directory)."""

    name = "appenv-reliability"

    def __init__(self):
        self.recorder = Recorder()

    def pytest_deselected(self, items):
        self.recorder.deselect(items)

    def pytest_collection_finish(self, session):
        self.recorder.collected(session.items)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        self.recorder.report(outcome.get_result())

    def pytest_sessionfinish(self, session, exitstatus):
        if session.config.option.collectonly:
            return
        if hasattr(session.config, "workerinput"):
            # A pytest-xdist worker sees only its share of the scenarios: the record comes from a run of the
            # fault suite in one process (make reliability).
            return
        path = self.recorder.write(session.config.args,
                                   exitstatus == pytest.ExitCode.INTERRUPTED or session.shouldstop)
        if path is not None:
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line("reliability record: %s" % path.relative_to(REPO_ROOT))


def register(config):
    """Register RecordingPlugin for this session (once, from whichever suite's conftest loads first)."""
    if not config.pluginmanager.has_plugin(RecordingPlugin.name):
        config.pluginmanager.register(RecordingPlugin(), RecordingPlugin.name)
