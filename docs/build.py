"""Generate docs/troubleshooting.md (from the error catalogue) and docs/reference/*.md (from ansible-doc
for modules, from meta/argument_specs.yml for roles).

`make docs` runs it; tests/test_docs.py fails when the committed pages are out of date.
"""

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


def pages():
    result = {"troubleshooting.md": troubleshooting()}
    for module in sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py")):
        result["reference/%s.md" % module] = module_reference(module)
    for role in sorted(p.name for p in (REPO / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists()):
        result["reference/role-%s.md" % role] = role_reference(role)
    return result


def main():
    for rel, text in pages().items():
        path = DOCS / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print("wrote", path.relative_to(REPO))


if __name__ == "__main__":
    main()
