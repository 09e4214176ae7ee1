"""Generate docs/troubleshooting.md (from the error catalogue), docs/reference/*.md (from ansible-doc
for modules, from meta/argument_specs.yml for roles) and docs/reliability.md (from docs/reliability.json,
the record of a run of the fault suite).

`make docs` runs it; tests/test_docs.py fails when the committed pages are out of date.
`python docs/build.py --reliability-run tests/output/reliability.json` (`make reliability`) first takes the
record a run of the fault suite wrote into docs/reliability.json; it refuses a partial run.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(REPO))

from tests.collection_path import COLLECTIONS_DIR, ensure_collection_path  # noqa: E402

ensure_collection_path()

from ansible_collections.appenv.python.plugins.module_utils import _errors  # noqa: E402


def troubleshooting():
    lines = ["# Troubleshooting", "",
             "Every error appenv.python raises, generated from `plugins/module_utils/_errors.py` (`make docs`).",
             "A failed task shows the same text: a title, the cause, whose fault it is and how to fix it; the",
             "result's `error.code` names the entry below. The previous environment is left in place.", ""]
    by_fault = {}
    for code, spec in _errors.CATALOGUE.items():
        by_fault.setdefault(spec.fault, []).append((code, spec))
    for fault in sorted(by_fault):
        lines += ["## Whose fault: %s" % fault, ""]
        for code, spec in sorted(by_fault[fault]):
            lines += ["### %s" % spec.title.replace("{", "‹").replace("}", "›"), "",
                      "`error.code`: `%s`" % code, "",
                      "Cause: %s" % spec.cause.replace("{", "‹").replace("}", "›"), "", "How to fix it:", ""]
            lines += ["%d. %s" % (number, fix.replace("{", "‹").replace("}", "›")) for number, fix in
                      enumerate(spec.fixes, 1)]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _option_rows(options, prefix=""):
    rows = []
    for name in sorted(options):
        option = options[name]
        description = " ".join(option.get("description", [])) if isinstance(option.get("description"), list) \
            else str(option.get("description", ""))
        default = option.get("default")
        shown_default = "" if default is None else "`%s`" % json.dumps(default)
        text = description.replace("|", "\\|").replace("\n", " ")
        rows.append("| `%s%s` | %s | %s | %s |" % (prefix, name, option.get("type", "str"), shown_default, text))
        if option.get("suboptions"):
            rows += _option_rows(option["suboptions"], prefix + name + ".")
    return rows


def module_reference(name):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_DIR), ANSIBLE_NOCOLOR="1")
    out = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "-t", "module", "--json",
                          "appenv.python." + name], env=env, capture_output=True, text=True, check=True).stdout
    data = json.loads(out)["appenv.python." + name]
    doc = data["doc"]
    lines = ["# appenv.python.%s" % name, "", doc["short_description"], ""]
    lines += [" ".join(doc["description"]) if isinstance(doc["description"], list) else doc["description"], ""]
    lines += ["## Options", "", "| option | type | default | description |", "|---|---|---|---|"]
    lines += _option_rows(doc.get("options", {}))
    lines += ["", "## Returns", "", "| key | type | description |", "|---|---|---|"]
    for key, value in sorted((data.get("return") or {}).items()):
        description = value.get("description", "")
        description = " ".join(description) if isinstance(description, list) else description
        lines.append("| `%s` | %s | %s |" % (key, value.get("type", ""), description.replace("\n", " ")))
    lines += ["", "## Examples", "", "```yaml", data.get("examples", "").strip(), "```", ""]
    return "\n".join(lines)


def role_reference(name):
    """A role's reference from its meta/argument_specs.yml (what ansible-doc -t role shows)."""
    import yaml

    spec = yaml.safe_load((REPO / "roles" / name / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
    description = spec.get("description", [])
    lines = ["# Role appenv.python.%s" % name, "", spec["short_description"], ""]
    lines += [" ".join(description) if isinstance(description, list) else description, ""]
    lines += ["Bad input fails at once: Ansible checks these variables against `meta/argument_specs.yml` before",
              "the role's first task. Tags: `appenv`, `appenv_%s` (and finer ones on each task)." % name, ""]
    lines += ["## Variables", "", "| variable | type | default | description |", "|---|---|---|---|"]
    lines += _option_rows(spec.get("options", {}))
    return "\n".join(lines) + "\n"


RELIABILITY_RECORD = DOCS / "reliability.json"
RELIABILITY_FORMAT = ("appenv.python/reliability", 1)


def _cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def _result(row):
    shown = {"passed": "passed", "failed": "**failed**", "error": "**error**"}.get(row["result"], row["result"])
    return "%s (%d s)" % (shown, round(row["seconds"])) if row["result"] in ("passed", "failed") else shown


def reliability(record):
    """docs/reliability.md from the record of a fault-suite run (docs/reliability.json)."""
    if (record.get("format"), record.get("format_version")) != RELIABILITY_FORMAT:
        raise ValueError("not an appenv.python reliability record of format %s/%s" % RELIABILITY_FORMAT)
    rows = record["rows"]
    counts = {}
    for row in rows:
        counts[row["result"]] = counts.get(row["result"], 0) + 1
    lines = ["# Reliability", "",
             "What appenv.python does when things go wrong on a real host: a run killed half-way, a package index",
             "that fails, a full or read-only disk, two runs at once, a user without rights, a hostile environment,",
             "many runs in a row. Each row below is a test of the fault suite (`tests/integration/faults`, marker",
             "`faults`) that drives real `ansible-playbook` runs against real Debian containers and checks three",
             "things: a titled error with cause and fix (or success where recovery is expected), that the previous",
             "environment still works, and that the next normal run recovers to a correct state.", "",
             "Generated from the record of the run of %s (`docs/reliability.json`): %s." % (
                 record["finished_at"], ", ".join("%d %s" % (counts[key], key) for key in sorted(counts))), ""]
    if not record.get("complete"):
        lines += ["**This record is of a partial run**: %s." % "; ".join(record.get("incomplete_because", [])), ""]
    for suite in record["suites"]:
        lines += ["## %s" % suite["title"].rstrip("."), "", "`%s`" % suite["file"], "",
                  "| scenario | expected outcome | result |", "|---|---|---|"]
        lines += ["| %s | %s | %s |" % (_cell(row["scenario"]), _cell(row["expected"]), _result(row))
                  for row in rows if row["file"] == suite["file"]]
        lines.append("")
    lines += ["## Regenerating this page", "",
              "A scenario is described where it is checked: the first paragraph of a fault test's docstring is",
              "the scenario (`{name}` stands for the value of the test parameter `name`), its paragraph starting",
              "with `Expected:` the expected outcome (see `tests/integration/faults/reliability.py`). A run of the",
              "fault suite writes its record to `tests/output/reliability.json`; a complete run becomes this page:",
              "", "```sh", "make reliability", "# that is:",
              ".venv/bin/python -m pytest -m faults tests/integration/faults",
              ".venv/bin/python docs/build.py --reliability-run tests/output/reliability.json", "```", "",
              "`make docs` (and `tests/test_docs.py`, which checks the page is up to date) renders it from the",
              "committed `docs/reliability.json` alone, without running the fault suite.", ""]
    return "\n".join(lines)


def take_reliability_run(path, allow_partial=False):
    """Copy the record a fault-suite run wrote into docs/reliability.json (a complete run only, unless allowed)."""
    record = json.loads(Path(path).read_text())
    reliability(record)  # refuses anything that is not a record
    if not record["complete"] and not allow_partial:
        raise SystemExit("%s is the record of a partial run (%s): run the whole fault suite, or pass --partial"
                         % (path, "; ".join(record["incomplete_because"])))
    RELIABILITY_RECORD.write_text(json.dumps(record, indent=1) + "\n")
    print("took", path, "into", RELIABILITY_RECORD.relative_to(REPO))


def pages():
    result = {"troubleshooting.md": troubleshooting()}
    for module in sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py")):
        result["reference/%s.md" % module] = module_reference(module)
    for role in sorted(p.name for p in (REPO / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists()):
        result["reference/role-%s.md" % role] = role_reference(role)
    if RELIABILITY_RECORD.exists():
        result["reliability.md"] = reliability(json.loads(RELIABILITY_RECORD.read_text()))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reliability-run", metavar="JSON",
                        help="first take this record of a fault-suite run into docs/reliability.json")
    parser.add_argument("--partial", action="store_true", help="accept the record of a partial run")
    options = parser.parse_args(argv)
    if options.reliability_run:
        take_reliability_run(options.reliability_run, options.partial)
    for rel, text in pages().items():
        path = DOCS / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print("wrote", path.relative_to(REPO))


if __name__ == "__main__":
    main()
