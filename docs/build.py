"""Generate docs/troubleshooting.md (from the error catalogue), docs/reference/*.md (from ansible-doc
for modules, from meta/argument_specs.yml for roles) and docs/reliability.md (from docs/reliability.json,
the record of a run of the fault suite); with --site, the docs site: the module and role reference rendered by
antsibull-docs into a Sphinx site (.build/docs-site/html), built without warnings and with its links checked.

`make docs` runs it; tests/test_docs.py fails when the committed pages are out of date.
`python docs/build.py --reliability-run tests/output/reliability.json` (`make reliability`) first takes the
record a run of the fault suite wrote into docs/reliability.json; it refuses a partial run. With `--merge`, the run
of some suite files (each run whole) replaces only their rows.
"""

import argparse
import html.parser
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit
import zlib

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


def _markdown(text, plugin, kind, cell=False):
    """Ansible's documentation markup (O(), V(), C(), M(), RV(), I(), U(), L()...) as Markdown, rendered by
    antsibull-docs' parser; the paragraphs of a list joined (with <br> in a table cell)."""
    from antsibull_docs_parser import dom
    from antsibull_docs_parser.md import to_md
    from antsibull_docs_parser.parser import Context, parse

    # A role's O(var) is a variable of the entry point the reference documents (main).
    context = Context(current_plugin=dom.PluginIdentifier(fqcn="appenv.python." + plugin, type=kind),
                      role_entrypoint="main" if kind == "role" else None)
    paragraphs = text if isinstance(text, list) else [text or ""]
    rendered = [to_md(parse(str(paragraph).replace("\n", " "), context)) for paragraph in paragraphs]
    if cell:
        return "<br><br>".join(part.replace("|", "\\|").replace("\n", " ") for part in rendered)
    return "\n\n".join(rendered)


def _option_rows(options, plugin, kind, prefix=""):
    rows = []
    for name in sorted(options):
        option = options[name]
        default = option.get("default")
        shown_default = "" if default is None else "`%s`" % json.dumps(default)
        text = _markdown(option.get("description", ""), plugin, kind, cell=True)
        rows.append("| `%s%s` | %s | %s | %s |" % (prefix, name, option.get("type", "str"), shown_default, text))
        if option.get("suboptions"):
            rows += _option_rows(option["suboptions"], plugin, kind, prefix + name + ".")
    return rows


def module_reference(name):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_DIR), ANSIBLE_NOCOLOR="1")
    out = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "-t", "module", "--json",
                          "appenv.python." + name], env=env, capture_output=True, text=True, check=True).stdout
    data = json.loads(out)["appenv.python." + name]
    doc = data["doc"]
    lines = ["# appenv.python.%s" % name, "", doc["short_description"], ""]
    lines += [_markdown(doc["description"], name, "module"), ""]
    if doc.get("requirements"):
        lines += ["## Requirements", ""] + ["- " + _markdown(item, name, "module") for item in doc["requirements"]]
        lines.append("")
    lines += ["## Options", "", "| option | type | default | description |", "|---|---|---|---|"]
    lines += _option_rows(doc.get("options", {}), name, "module")
    lines += ["", "## Attributes", "", "| attribute | support | details |", "|---|---|---|"]
    for key, value in sorted((doc.get("attributes") or {}).items()):
        support = value.get("support", "")
        if value.get("platforms"):
            support += " (%s)" % value["platforms"]
        if value.get("membership"):
            support += " (%s)" % ", ".join(value["membership"])
        text = _markdown(value.get("details") or value.get("description", ""), name, "module", cell=True)
        lines.append("| `%s` | %s | %s |" % (key, support, text))
    if doc.get("notes"):
        lines += ["", "## Notes", ""] + ["- " + _markdown(note, name, "module") for note in doc["notes"]]
    lines += ["", "## Returns", "", "| key | type | description |", "|---|---|---|"]
    for key, value in sorted((data.get("return") or {}).items()):
        lines.append("| `%s` | %s | %s |" % (key, value.get("type", ""),
                                             _markdown(value.get("description", ""), name, "module", cell=True)))
    lines += ["", "## Examples", "", "```yaml", data.get("examples", "").strip(), "```", ""]
    return "\n".join(lines)


def role_reference(name):
    """A role's reference from its meta/argument_specs.yml (what ansible-doc -t role shows)."""
    import yaml

    spec = yaml.safe_load((REPO / "roles" / name / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
    lines = ["# Role appenv.python.%s" % name, "", spec["short_description"], ""]
    lines += [_markdown(spec.get("description", []), name, "role"), ""]
    lines += ["Bad input fails at once: Ansible checks these variables against `meta/argument_specs.yml` before",
              "the role's first task. Tags: `appenv`, `appenv_%s` (and finer ones on each task)." % name, ""]
    lines += ["## Variables", "", "| variable | type | default | description |", "|---|---|---|---|"]
    lines += _option_rows(spec.get("options", {}), name, "role")
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
             "many runs in a row, an app user that tries to become root. Each row below is a test of the fault suite",
             "(`tests/integration/faults` and the hostile-user suite `tests/integration/security`, marker `faults`)",
             "that drives real `ansible-playbook` runs against real Debian containers and checks three things: a",
             "titled error with cause and fix (or success where recovery is expected), that the previous",
             "environment still works, and that the next normal run recovers to a correct state.", "",
             "Generated from %s (`docs/reliability.json`): %s." % (
                 _run_dates(record), ", ".join("%d %s" % (counts[key], key) for key in sorted(counts))), ""]
    if not record.get("complete"):
        lines += ["**This record is of a partial run**: %s." % "; ".join(record.get("incomplete_because", [])), ""]
    for suite in record["suites"]:
        ran = " (run of %s)" % suite["finished_at"] if suite.get("finished_at", record["finished_at"]) != \
            record["finished_at"] else ""
        lines += ["## %s" % suite["title"].rstrip("."), "", "`%s`%s" % (suite["file"], ran), "",
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
              ".venv/bin/python -m pytest -m faults tests/integration/faults tests/integration/security",
              ".venv/bin/python docs/build.py --reliability-run tests/output/reliability.json", "```", "",
              "A run of some of the suite files only (all of their tests) replaces those files' rows and keeps the",
              "others' from their own run, each suite dated: `docs/build.py --reliability-run JSON --merge`.", "",
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


def _run_dates(record):
    dates = sorted(set(suite.get("finished_at", record["finished_at"]) for suite in record["suites"]))
    if len(dates) <= 1:
        return "the record of the run of %s" % record["finished_at"]
    return "the records of the runs from %s to %s (each suite's run is dated below)" % (dates[0], dates[-1])


def merge_reliability_run(path, into=RELIABILITY_RECORD):
    """Take the record of a run of some suite files into docs/reliability.json: their rows replace those files'
    rows; the other suites keep theirs, dated by their own run. Each file the run collected must have run whole."""
    run = json.loads(Path(path).read_text())
    reliability(run)
    old = json.loads(Path(into).read_text())
    ran = set(suite["file"] for suite in run["suites"])
    kept = [suite for suite in old["suites"] if suite["file"] not in ran]
    not_collected = set()
    for why in run["incomplete_because"]:
        if not why.startswith("not collected: "):
            raise SystemExit("%s cannot be merged: %s" % (path, why))
        not_collected.update(why[len("not collected: "):].split(", "))
    missing = sorted(not_collected - set(suite["file"] for suite in kept))
    if missing:
        raise SystemExit("%s cannot be merged: no run at all of %s" % (path, ", ".join(missing)))
    suites = [dict(suite, finished_at=suite.get("finished_at", old["finished_at"])) for suite in kept]
    suites += [dict(suite, finished_at=run["finished_at"]) for suite in run["suites"]]
    suites.sort(key=lambda suite: suite["file"])
    order = [suite["file"] for suite in suites]
    rows = [row for row in old["rows"] if row["file"] not in ran] + run["rows"]
    record = dict(old, finished_at=max(suite["finished_at"] for suite in suites), suites=suites,
                  rows=sorted(rows, key=lambda row: order.index(row["file"])),
                  complete=old["complete"], incomplete_because=old["incomplete_because"])
    Path(into).write_text(json.dumps(record, indent=1) + "\n")
    print("merged", path, "into", into)
    return record


def pages():
    result = {"troubleshooting.md": troubleshooting()}
    for module in sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py")):
        result["reference/%s.md" % module] = module_reference(module)
    for role in sorted(p.name for p in (REPO / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists()):
        result["reference/role-%s.md" % role] = role_reference(role)
    if RELIABILITY_RECORD.exists():
        result["reliability.md"] = reliability(json.loads(RELIABILITY_RECORD.read_text()))
    return result


SITE = REPO / ".build" / "docs-site"
ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/devel/"
# The labels of the Ansible docs that antsibull-docs' pages refer to: label -> (page#anchor, title).
ANSIBLE_DOCS_LABELS = {
    "action_plugins": ("plugins/action.html#action-plugins", "Action plugins"),
    "common_return_values": ("reference_appendices/common_return_values.html#common-return-values",
                             "Return Values"),
    "ansible_configuration_settings": ("reference_appendices/config.html#ansible-configuration-settings",
                                       "Ansible Configuration Settings"),
}


def _inventory(labels):
    """A Sphinx objects.inv (version 2) holding these std:label entries."""
    body = "".join("%s std:label -1 %s %s\n" % (name, uri, title) for name, (uri, title) in sorted(labels.items()))
    return (b"# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n"
            b"# The remainder of this file is compressed using zlib.\n" + zlib.compress(body.encode()))


def site(dest=SITE):
    """The docs site: `antsibull-docs sphinx-init` makes the Sphinx project (conf.py, build.sh), its build.sh
    renders the collection's module and role docs to RST (`antsibull-docs collection`) and builds the HTML with
    `sphinx-build -W`, so a warning fails the build; then every link of the site is checked. Returns the HTML
    directory."""
    dest = Path(dest)
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    dest.chmod(0o700)  # antsibull-docs writes only into a directory no one else can write to
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_DIR), ANSIBLE_NOCOLOR="1",
               PATH=str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    subprocess.run([str(bin_dir / "antsibull-docs"), "sphinx-init", "--use-current", "--fail-on-error",
                    "--squash-hierarchy", "--no-add-antsibull-docs-version", "--project", "appenv.python",
                    "--copyright", "appenv.python contributors", "--title", "appenv.python",
                    "--html-short-title", "appenv.python", "--dest-dir", str(dest), "appenv.python"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    # The template points intersphinx at the inventories of the Python, Jinja and Ansible sites, which the
    # build would fetch: it runs offline, so it reads a local inventory of the few Ansible pages the rendered
    # docs refer to instead (links still go to those pages).
    (dest / "ansible.inv").write_bytes(_inventory(ANSIBLE_DOCS_LABELS))
    with open(dest / "conf.py", "a") as conf:
        conf.write("\n# docs/build.py: inventories read offline.\n"
                   "intersphinx_mapping = {'ansible_devel': (%r, %r)}\n" % (ANSIBLE_DOCS, str(dest / "ansible.inv")))
    subprocess.run(["bash", str(dest / "build.sh")], env=env, check=True, stdout=subprocess.DEVNULL)
    html_dir = dest / "build" / "html"
    broken = broken_links(html_dir)
    if broken:
        raise SystemExit("the docs site has broken links:\n" + "\n".join(broken))
    return html_dir


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for key in ("href", "src"):
            if attrs.get(key):
                self.links.append(attrs[key])


def broken_links(html_dir):
    """Links of the site that lead nowhere: a missing file, or an anchor its page does not have. Links to other
    sites are not fetched (the build runs offline); they must at least be https."""
    pages = {}
    html_dir = Path(html_dir).resolve()
    for path in sorted(html_dir.rglob("*.html")):
        parser = _Links()
        parser.feed(path.read_text(errors="replace"))
        pages[path] = parser
    broken = []
    for path, parser in pages.items():
        for link in parser.links:
            parts = urlsplit(link)
            if parts.scheme in ("https", "mailto") or link.startswith("data:"):
                continue
            if parts.scheme or parts.netloc:
                broken.append("%s: %s (not https)" % (path.relative_to(html_dir), link))
                continue
            # A path from the root ("/", the theme's home link) is the site's root where the site is served.
            base = Path(html_dir) if parts.path.startswith("/") else path.parent
            target = (base / unquote(parts.path).lstrip("/")).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append("%s: %s (no such file)" % (path.relative_to(html_dir), link))
            elif parts.fragment and target.suffix == ".html" and target in pages \
                    and unquote(parts.fragment) not in pages[target].ids:
                broken.append("%s: %s (no such anchor)" % (path.relative_to(html_dir), link))
    return broken


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reliability-run", metavar="JSON",
                        help="first take this record of a fault-suite run into docs/reliability.json")
    parser.add_argument("--partial", action="store_true", help="accept the record of a partial run")
    parser.add_argument("--merge", action="store_true",
                        help="merge the run (whole suite files) into the committed record instead of replacing it")
    parser.add_argument("--site", action="store_true",
                        help="build the docs site with antsibull-docs and Sphinx into %s" % SITE.relative_to(REPO))
    options = parser.parse_args(argv)
    if options.site:
        print("built", (site() / "index.html").relative_to(REPO))
        return
    if options.reliability_run and options.merge:
        merge_reliability_run(options.reliability_run)
    elif options.reliability_run:
        take_reliability_run(options.reliability_run, options.partial)
    for rel, text in pages().items():
        path = DOCS / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print("wrote", path.relative_to(REPO))


if __name__ == "__main__":
    main()
